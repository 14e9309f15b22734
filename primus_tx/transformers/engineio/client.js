// primus-tx engine.io transport for the browser client: a small Engine.IO
// protocol v4 client of its own (XHR long-polling, upgraded to WebSocket),
// written for primus-tx.  Behaves as engine.io-client does with Primus's
// settings: base64 binary on polling, a `t` timestamp on every request,
// no remembered upgrade, and no WebSocket at all when the Primus instance
// avoids WebSockets (`websockets: false`).
//
// Transport contract: see the websockets transport (declare
// `function client(primus)`, wire outgoing::open|data|reconnect|end, emit
// incoming::open|data|error|end).
function client(primus) {
  var session = null;

  if (typeof XMLHttpRequest === 'undefined') {
    return primus.critical(new Error('This environment has no XMLHttpRequest'));
  }

  var stamp = 0;
  function timestamp() {
    stamp = (stamp + 1) % 1e6;
    return Date.now().toString(36) + '.' + stamp.toString(36);
  }

  function toBase64(buffer) {
    var bytes = new Uint8Array(buffer), text = '';
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text);
  }

  function fromBase64(text) {
    var raw = atob(text), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function isBinary(data) {
    return typeof ArrayBuffer !== 'undefined'
      && (data instanceof ArrayBuffer || ArrayBuffer.isView(data));
  }

  function asBuffer(data) {
    if (data instanceof ArrayBuffer) return data;
    return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  }

  function encode(type, data) {
    if (type === '4' && isBinary(data)) return 'b' + toBase64(asBuffer(data));
    return type + (data == null ? '' : data);
  }

  function decode(text) {
    var type = text.charAt(0);
    if (type === 'b') return { type: '4', data: fromBase64(text.slice(1)) };
    if (!/^[0-6]$/.test(type)) throw new Error('Engine.IO packet not understood: ' + text.slice(0, 20));
    return { type: type, data: text.slice(1) };
  }

  // One Engine.IO session; `owner` is checked on every callback so an
  // abandoned session can never reach the Primus instance.
  function Session(address, allowUpgrade) {
    var parts = address.split('?');
    var path = parts[0].charAt(parts[0].length - 1) === '/' ? parts[0] : parts[0] + '/';
    this.base = path + '?' + (parts[1] ? parts[1] + '&' : '') + 'EIO=4';
    this.allowUpgrade = allowUpgrade;
    this.sid = null;
    this.id = null;
    this.state = 'opening';
    this.transport = 'polling';
    this.get = null;
    this.post = null;
    this.outbox = [];
    this.ws = null;
    this.pausing = false;
    this.probing = false;
    this.alive = null;
    this.pingInterval = 25000;
    this.pingTimeout = 20000;
    this.maxPayload = 1000000;
    this.request('GET', null, this.handshaken);
  }

  Session.prototype.url = function url(transport) {
    var result = this.base + '&transport=' + transport;
    if (this.sid) result += '&sid=' + encodeURIComponent(this.sid);
    if (transport === 'polling') result += '&t=' + timestamp();
    else result = result.replace(/^http/, 'ws');
    return result;
  };

  Session.prototype.request = function request(method, body, done) {
    var self = this;
    var xhr = new XMLHttpRequest();
    xhr.open(method, this.url('polling'), true);
    if (body !== null) xhr.setRequestHeader('Content-type', 'text/plain;charset=UTF-8');
    xhr.onreadystatechange = function change() {
      if (xhr.readyState !== 4) return;
      xhr.onreadystatechange = null;
      if (method === 'GET') self.get = null; else self.post = null;
      if (session !== self || self.state === 'closed') return;
      if (xhr.status !== 200) {
        return self.fail(new Error('Engine.IO ' + method + ' failed with status ' + xhr.status));
      }
      done.call(self, xhr.responseText);
    };
    if (method === 'GET') this.get = xhr; else this.post = xhr;
    try {
      xhr.send(body);
    } catch (e) {
      var self2 = this;
      setTimeout(function later() { self2.fail(e); }, 0);
    }
  };

  Session.prototype.handshaken = function handshaken(text) {
    var packets, info;
    try {
      packets = text.split('\x1e').map(decode);
      if (packets[0].type !== '0') throw new Error('Engine.IO handshake not understood');
      info = JSON.parse(packets[0].data);
    } catch (e) {
      return this.fail(e);
    }
    this.sid = this.id = info.sid;
    if (typeof info.pingInterval === 'number') this.pingInterval = info.pingInterval;
    if (typeof info.pingTimeout === 'number') this.pingTimeout = info.pingTimeout;
    if (typeof info.maxPayload === 'number') this.maxPayload = info.maxPayload;
    this.state = 'open';
    this.heard();
    primus.emit('incoming::open');
    this.packets(packets.slice(1));
    if (this.state !== 'open') return;
    var upgrades = info.upgrades || [];
    if (this.allowUpgrade && upgrades.indexOf('websocket') !== -1 && typeof WebSocket !== 'undefined') {
      this.probe();
    }
    this.poll();
  };

  Session.prototype.poll = function poll() {
    if (this.state !== 'open' || this.transport !== 'polling' || this.get || this.pausing) return;
    this.request('GET', null, this.polled);
  };

  Session.prototype.polled = function polled(text) {
    var packets;
    try {
      packets = text.split('\x1e').map(decode);
    } catch (e) {
      return this.fail(e);
    }
    this.packets(packets);
    if (this.pausing) this.upgradeWhenIdle();
    else this.poll();
  };

  Session.prototype.packets = function packets(list) {
    for (var i = 0; i < list.length; i++) {
      if (this.state !== 'open') return;
      var packet = list[i];
      this.heard();
      if (packet.type === '4') primus.emit('incoming::data', packet.data);
      else if (packet.type === '2') this.send('3', packet.data);
      else if (packet.type === '1') this.end();
    }
  };

  // Liveness: the server pings every pingInterval; silence for
  // pingInterval + pingTimeout means the connection is gone.
  Session.prototype.heard = function heard() {
    var self = this;
    clearTimeout(this.alive);
    if (!this.pingInterval) return;
    this.alive = setTimeout(function silent() {
      self.fail(new Error('Engine.IO ping timeout'));
    }, this.pingInterval + this.pingTimeout);
  };

  Session.prototype.send = function send(type, data) {
    if (this.state !== 'open') return;
    if (this.transport === 'websocket') return this.wsSend(this.ws, type, data);
    this.outbox.push(encode(type, data));
    this.flush();
  };

  Session.prototype.flush = function flush() {
    if (this.post || !this.outbox.length || this.pausing || this.state !== 'open') return;
    if (this.transport === 'websocket') {
      var queued = this.outbox;
      this.outbox = [];
      for (var j = 0; j < queued.length; j++) this.ws.send(queued[j]);
      return;
    }
    var batch = [this.outbox.shift()], size = batch[0].length;
    while (this.outbox.length && size + this.outbox[0].length + 1 <= this.maxPayload) {
      size += this.outbox[0].length + 1;
      batch.push(this.outbox.shift());
    }
    this.request('POST', batch.join('\x1e'), function posted() {
      if (this.pausing) this.upgradeWhenIdle();
      else this.flush();
    });
  };

  Session.prototype.wsSend = function wsSend(ws, type, data) {
    if (!ws || ws.readyState !== 1) return;
    try {
      ws.send(type === '4' && isBinary(data) ? data : encode(type, data));
    } catch (e) {
      this.fail(e);
    }
  };

  Session.prototype.probe = function probe() {
    var self = this, ws;
    try {
      ws = new WebSocket(this.url('websocket'));
    } catch (e) {
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = function opened() {
      if (self.ws !== ws) return;
      self.probing = true;
      ws.send('2probe');
    };
    ws.onmessage = function message(event) {
      if (self.ws !== ws || session !== self || self.state !== 'open') return;
      var packet;
      if (typeof event.data !== 'string') {
        packet = { type: '4', data: event.data };
      } else {
        try {
          packet = decode(event.data);
        } catch (e) {
          return self.transport === 'websocket' ? self.fail(e) : self.abandon();
        }
      }
      if (self.transport === 'websocket') return self.packets([packet]);
      if (self.probing && packet.type === '3' && packet.data === 'probe') {
        self.probing = false;
        self.pausing = true;
        self.upgradeWhenIdle();
      } else {
        self.abandon();
      }
    };
    ws.onerror = function failed() {};
    ws.onclose = function closed() {
      if (self.ws !== ws) return;
      self.ws = null;
      if (self.transport === 'websocket') self.end();
      else self.abandon();
    };
  };

  // Polling is paused: upgrade once the in-flight GET and POST are back.
  Session.prototype.upgradeWhenIdle = function upgradeWhenIdle() {
    if (!this.pausing || this.get || this.post) return;
    this.pausing = false;
    if (!this.ws || this.ws.readyState !== 1) return this.abandon();
    this.ws.send('5');
    this.transport = 'websocket';
    primus.socket = this;
    this.flush();
  };

  Session.prototype.abandon = function abandon() {
    var ws = this.ws;
    this.ws = null;
    this.probing = false;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(); } catch (e) { /* already closed */ }
    }
    if (this.pausing) {
      this.pausing = false;
      this.poll();
      this.flush();
    }
  };

  Session.prototype.stop = function stop(tell) {
    var wasOpen = this.state === 'open';
    this.state = 'closed';
    clearTimeout(this.alive);
    var ws = this.ws, get = this.get;
    this.ws = this.get = null;
    if (get) { get.onreadystatechange = null; try { get.abort(); } catch (e) { /* gone */ } }
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(); } catch (e) { /* already closed */ }
    }
    if (tell && wasOpen && this.transport === 'polling' && this.sid) {
      var xhr = new XMLHttpRequest();
      try {
        xhr.open('POST', this.url('polling'), true);
        xhr.setRequestHeader('Content-type', 'text/plain;charset=UTF-8');
        xhr.send('1');
      } catch (e) { /* best effort */ }
    }
  };

  Session.prototype.fail = function fail(err) {
    if (this.state === 'closed') return;
    this.stop(true);
    if (session !== this) return;
    session = null;
    primus.emit('incoming::error', err);
    primus.emit('incoming::end');
  };

  Session.prototype.end = function end() {
    if (this.state === 'closed') return;
    this.stop(false);
    if (session !== this) return;
    session = null;
    primus.emit('incoming::end');
  };

  primus.on('outgoing::open', function opening() {
    primus.emit('outgoing::end'); // one session at a time
    var address = primus.uri({ protocol: 'http:', query: true });
    var allowUpgrade = !primus.AVOID_WEBSOCKETS && !(primus.transport && primus.transport.websockets === false);
    session = new Session(address, allowUpgrade);
    primus.socket = session;
  });

  primus.on('outgoing::data', function send(message) {
    if (session) session.send('4', message);
  });

  primus.on('outgoing::reconnect', function reconnect() {
    primus.emit('outgoing::open');
  });

  primus.on('outgoing::end', function close() {
    if (!session) return;
    var old = session;
    session = null;
    old.stop(true);
  });
}
