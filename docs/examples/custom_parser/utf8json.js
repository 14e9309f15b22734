// The browser half of the utf8-json parser: JSON as UTF-8 bytes.
function encoder(data, fn) {
  var result, error;
  try {
    result = new TextEncoder().encode(JSON.stringify(data));
  } catch (e) {
    error = e;
  }
  fn(error, result);
}

function decoder(data, fn) {
  var result, error;
  try {
    if (typeof data === 'string') throw new Error('utf8-json messages are binary');
    result = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch (e) {
    error = e;
  }
  fn(error, result);
}
