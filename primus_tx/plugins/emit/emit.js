// primus-tx `emit` plugin, browser half, on primus-emit 1.0.0's wire:
// primus.emit('event', ...args) sends {"emit":["event",...args]} unless the
// event is reserved, and envelopes from the server are emitted locally
// instead of reaching `data`.  Values that are not envelopes (null
// included) are ordinary data.
Primus.prototype.ark.emit = function emitPlugin(primus) {
  var local = primus.emit;

  primus.transform('incoming', function unpack(packet) {
    var data = packet.data;
    if (!data || typeof data !== 'object') return;
    var emitted = data.emit;
    if (Object.prototype.toString.call(emitted) !== '[object Array]') return;
    if (typeof emitted[0] === 'string' && !primus.reserved(emitted[0])) {
      local.apply(primus, emitted);
    }
    return false;
  });

  primus.emit = function emit(event) {
    if (primus.reserved(event) || event === 'newListener' || event === 'removeListener') {
      return local.apply(this, arguments);
    }
    primus.write({ emit: Array.prototype.slice.call(arguments) });
    return true;
  };
};
