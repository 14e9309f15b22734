// primus-tx `responder` plugin, browser half, on primus-responder 1.0.4's
// wire:
//
//   primus.writeAndWait(data, function (response) {});
//   primus.on('request', function (data, done) { done(response); });
//
// Any object whose `plugin` is "primus-responder" is consumed; a response
// nobody waits for is dropped.  Callbacks still waiting are dropped when
// the connection is destroyed.
var RESPONDER = 'primus-responder';

function requestId() {
  var bytes = [];
  var crypto = typeof self !== 'undefined' && self.crypto
    || typeof window !== 'undefined' && window.crypto
    || typeof globalThis !== 'undefined' && globalThis.crypto;
  if (crypto && crypto.getRandomValues) {
    var random = new Uint8Array(16);
    crypto.getRandomValues(random);
    for (var i = 0; i < 16; i++) bytes.push(random[i]);
  } else {
    for (var j = 0; j < 16; j++) bytes.push(Math.floor(Math.random() * 256));
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
  var hex = '';
  for (var k = 0; k < 16; k++) {
    hex += (bytes[k] + 0x100).toString(16).slice(1);
    if (k === 3 || k === 5 || k === 7 || k === 9) hex += '-';
  }
  return hex;
}

Primus.prototype.ark.responder = function responderPlugin(primus) {
  primus.responses = {};

  primus.transform('incoming', function responder(packet) {
    var data = packet.data;
    if (!data || typeof data !== 'object' || data.plugin !== RESPONDER) return;
    if (data.requestId) {
      var id = data.requestId;
      var answered = false;
      // Straight to the listeners: an `emit` plugin must not send it on.
      Primus.EventEmitter.prototype.emit.call(primus, 'request', data.data, function done(response) {
        if (answered) return;
        answered = true;
        primus.write({ plugin: RESPONDER, responseId: id, data: response });
      });
    } else if (data.responseId && Object.prototype.hasOwnProperty.call(primus.responses, data.responseId)) {
      var fn = primus.responses[data.responseId];
      delete primus.responses[data.responseId];
      fn(data.data);
    }
    return false;
  });

  primus.on('destroy', function responderDestroyed() { primus.responses = {}; });
};

Primus.prototype.writeAndWait = function writeAndWait(data, fn) {
  var id = requestId();
  this.responses[id] = fn;
  this.write({ plugin: RESPONDER, requestId: id, data: data });
  return this;
};
