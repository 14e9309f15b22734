// primus-tx websockets transport for the browser client.
//
// Transport contract (shared by every transformer's library()): this source
// runs in its own function scope inside primus.js and must declare
// `function client(primus)`.  It is called once per Primus instance and
// wires the instance's outgoing::open|data|end|reconnect events to a
// socket, reporting back with incoming::open|data|error|end.  It keeps no
// other state: buffering, heartbeats and reconnection are the core's.
function client(primus) {
  var Factory = typeof WebSocket !== 'undefined' ? WebSocket : undefined;
  var socket = null;

  if (!Factory) {
    try { Factory = Primus.requires('ws'); } catch (e) { Factory = undefined; }
  }
  if (!Factory) {
    return primus.critical(new Error('This environment has no WebSocket (in Node.js, install `ws`)'));
  }

  function forget(old) {
    old.onopen = old.onerror = old.onclose = old.onmessage = null;
  }

  primus.on('outgoing::open', function opening() {
    primus.emit('outgoing::end'); // one socket at a time

    var address = primus.uri({ protocol: 'ws:', query: true });
    try {
      // Browsers reject extra constructor arguments they do not know;
      // Node's `ws` takes (url, protocols, options).
      socket = Factory.length === 3
        ? new Factory(address, [], primus.transport)
        : new Factory(address);
      socket.binaryType = 'arraybuffer';
    } catch (e) {
      socket = null;
      return primus.emit('incoming::error', e);
    }
    primus.socket = socket;

    socket.onopen = function onopen() {
      primus.emit('incoming::open');
    };
    socket.onerror = function onerror(event) {
      // The browser never says why (by design); name the URL at least.
      var err = new Error('WebSocket error on ' + address.replace(/\?.*$/, ''));
      err.event = event;
      primus.emit('incoming::error', err);
    };
    socket.onclose = function onclose(event) {
      primus.emit('incoming::end', event && event.code, event && event.reason);
    };
    socket.onmessage = function onmessage(event) {
      primus.emit('incoming::data', event.data);
    };
  });

  primus.on('outgoing::data', function send(message) {
    if (!socket || socket.readyState !== Factory.OPEN) return;
    try {
      socket.send(message);
    } catch (e) {
      primus.emit('incoming::error', e);
    }
  });

  primus.on('outgoing::reconnect', function reconnect() {
    primus.emit('outgoing::open');
  });

  primus.on('outgoing::end', function close() {
    if (!socket) return;
    var old = socket;
    socket = null;
    forget(old);
    try { old.close(); } catch (e) { /* already closed */ }
  });
}
