// primus-tx json parser: one JSON text per message. Binary messages
// (ArrayBuffer, Blob, typed arrays) pass through untouched, as they do on
// the server.
function encoder(data, fn) {
  var result, error;
  try {
    result = JSON.stringify(data);
  } catch (e) {
    error = e;
  }
  fn(error, result);
}

function decoder(data, fn) {
  var result, error;
  if (typeof data !== 'string') return fn(undefined, data);
  try {
    result = JSON.parse(data);
  } catch (e) {
    error = e;
  }
  fn(error, result);
}
