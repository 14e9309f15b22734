// primus-tx sockjs transport for the browser client: a small SockJS 0.3
// client of its own (websocket, xhr-streaming, eventsource, xhr-polling),
// not sockjs-client.
//
// Transport contract (see docs/browser.rst): this source runs in its own
// function scope inside primus.js and declares `function client(primus)`,
// which wires outgoing::open|data|end|reconnect and reports with
// incoming::open|data|error|end.  Like sockjs-client it reads <base>/info,
// then tries the transports in order, each on a fresh /<server>/<session>,
// until one delivers the `o` frame.  primus.AVOID_WEBSOCKETS or
// `"websocket": false` in /info skips the WebSocket.  A close frame with a
// code above 1000 is reported as an error, as Primus's sockjs client does.
function client(primus) {
  var current = null;
  var CHARS = 'abcdefghijklmnopqrstuvwxyz012345';
  var ATTEMPT_TIMEOUT = 5000;

  function random(n, alphabet) {
    var out = '';
    for (var i = 0; i < n; i++) out += alphabet.charAt(Math.floor(Math.random() * alphabet.length));
    return out;
  }

  // The `transport: {transports: [...]}` client option limits the
  // transports tried, as sockjs-client's `transports` option does (Primus
  // hands `transport` to sockjs-client).  A string names a single one.
  function whitelist() {
    var names = primus.transport && primus.transport.transports;
    if (!names) return null;
    return typeof names === 'string' ? [names] : names;
  }

  function Session(url) {
    var parts = url.split('?');
    this.base = parts[0].replace(/\/+$/, '');
    this.query = parts.length > 1 ? '?' + parts.slice(1).join('?') : '';
    this.closed = false;
    this.closing = false;
    this.opened = false;
    this.outbox = [];
    this.sending = false;
    this.requests = [];
    this.socket = null;
    this.source = null;
    this.timer = null;
    this.kind = '';
  }

  Session.prototype.url = function url(path) {
    return this.base + path + this.query;
  };

  Session.prototype.request = function request(method, url, body, progress, done) {
    var self = this;
    var xhr = new XMLHttpRequest();
    var seen = 0;
    self.requests.push(xhr);
    function forget() {
      var at = self.requests.indexOf(xhr);
      if (at !== -1) self.requests.splice(at, 1);
    }
    xhr.open(method, url, true);
    try { xhr.withCredentials = true; } catch (e) { /* old browsers */ }
    if (body !== null) xhr.setRequestHeader('Content-Type', 'text/plain;charset=UTF-8');
    xhr.onreadystatechange = function onreadystatechange() {
      if (self.closed) return;
      if ((xhr.readyState === 3 || xhr.readyState === 4) && xhr.status === 200 && progress) {
        var text = xhr.responseText || '';
        if (text.length > seen) {
          progress(text.slice(seen));
          seen = text.length;
        }
      }
      if (xhr.readyState === 4) {
        forget();
        if (!self.closed) done(xhr.status, xhr.responseText);
      }
    };
    xhr.send(body);
  };

  Session.prototype.start = function start() {
    var self = this;
    self.request('GET', self.url('/info'), null, null, function info(status, text) {
      if (status !== 200) return self.fail(new Error('SockJS /info answered ' + status));
      var data;
      try { data = JSON.parse(text); } catch (e) { return self.fail(e); }
      var allowed = whitelist();
      var ok = function ok(name) { return !allowed || allowed.indexOf(name) !== -1; };
      self.candidates = [];
      if (data.websocket !== false && !primus.AVOID_WEBSOCKETS && typeof WebSocket !== 'undefined' && ok('websocket')) {
        self.candidates.push('websocket');
      }
      if (ok('xhr-streaming')) self.candidates.push('xhr-streaming');
      if (typeof EventSource !== 'undefined' && ok('eventsource')) self.candidates.push('eventsource');
      if (ok('xhr-polling')) self.candidates.push('xhr-polling');
      self.next();
    });
  };

  Session.prototype.next = function next() {
    var self = this;
    self.release();
    if (!self.candidates.length) return self.fail(new Error('All SockJS transports failed'));
    self.kind = self.candidates.shift();
    self.path = '/' + random(3, '0123456789') + '/' + random(8, CHARS);
    self.buffer = '';
    self.timer = setTimeout(function timeout() {
      self.timer = null;
      if (!self.opened && !self.closed) self.next();
    }, ATTEMPT_TIMEOUT);
    if (self.kind === 'websocket') self.websocket();
    else if (self.kind === 'eventsource') self.eventsource();
    else self.receive();
  };

  Session.prototype.release = function release() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    var requests = this.requests;
    this.requests = [];
    for (var i = 0; i < requests.length; i++) {
      requests[i].onreadystatechange = null;
      try { requests[i].abort(); } catch (e) { /* done already */ }
    }
    if (this.socket) {
      var socket = this.socket;
      this.socket = null;
      socket.onopen = socket.onclose = socket.onerror = socket.onmessage = null;
      try { socket.close(); } catch (e) { /* closed already */ }
    }
    if (this.source) {
      this.source.onmessage = this.source.onerror = null;
      this.source.close();
      this.source = null;
    }
  };

  Session.prototype.websocket = function websocket() {
    var self = this;
    var address = self.url(self.path + '/websocket').replace(/^http/, 'ws');
    var socket;
    try { socket = new WebSocket(address); } catch (e) { return self.next(); }
    self.socket = socket;
    socket.onmessage = function onmessage(event) { self.frame(String(event.data)); };
    socket.onclose = socket.onerror = function onclose() {
      if (self.socket !== socket) return;
      self.socket = null;
      if (!self.opened) return self.next();
      self.lost();
    };
  };

  Session.prototype.receive = function receive() {
    var self = this;
    var streaming = self.kind === 'xhr-streaming';
    self.buffer = '';
    self.request('POST', self.url(self.path + (streaming ? '/xhr_streaming' : '/xhr')), null,
      function progress(text) { self.lines(text); },
      function done(status) {
        if (status !== 200) {
          if (!self.opened) return self.next();
          // Status 0: the connection dropped (server gone), which the core
          // handles like a closed WebSocket, without an error.
          if (status === 0) return self.lost();
          return self.fail(new Error('SockJS receiver answered ' + status));
        }
        // Keep a receiver out while closing: aborting it is how the server
        // learns at once that the session is over.
        if (!self.closed) self.receive();
      });
  };

  Session.prototype.eventsource = function eventsource() {
    var self = this;
    var source = new EventSource(self.url(self.path + '/eventsource'), { withCredentials: true });
    var received = false;
    self.source = source;
    source.onmessage = function onmessage(event) {
      received = true;
      self.frame(decodeURI(event.data));
    };
    source.onerror = function onerror() {
      source.onmessage = source.onerror = null;
      source.close();
      if (self.source !== source) return;
      self.source = null;
      if (!self.opened) return self.next();
      // The server ends a stream that carried frames at its response
      // limit: open a new one.  A stream that ends before carrying
      // anything means the server is gone; reopening it would spin.
      if (!received) return self.lost();
      if (!self.closed && !self.closing) self.eventsource();
    };
  };

  Session.prototype.lines = function lines(text) {
    this.buffer += text;
    var at;
    while (!this.closed && (at = this.buffer.indexOf('\n')) !== -1) {
      var line = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + 1);
      this.frame(line);
    }
  };

  Session.prototype.frame = function frame(text) {
    if (this.closed || this.closing || !text) return;
    var kind = text.charAt(0);
    var value;
    if (kind === 'h') return;
    if (kind === 'o') {
      if (this.opened) return this.fail(new Error('Server lost session'));
      this.opened = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      primus.emit('incoming::open');
      return this.flush();
    }
    try { value = JSON.parse(text.slice(1)); } catch (e) { return this.fail(e); }
    if (kind === 'a') {
      for (var i = 0; i < value.length && !this.closed; i++) primus.emit('incoming::data', value[i]);
    } else if (kind === 'm') {
      primus.emit('incoming::data', value);
    } else if (kind === 'c') {
      this.end(value[0], value[1]);
    }
  };

  Session.prototype.send = function send(message) {
    if (this.closed || this.closing) return;
    if (this.socket && this.opened) {
      try { this.socket.send(JSON.stringify([message])); } catch (e) { primus.emit('incoming::error', e); }
      return;
    }
    this.outbox.push(message);
    this.flush();
  };

  Session.prototype.flush = function flush() {
    var self = this;
    if (!self.opened || self.socket || self.sending || self.closed) return;
    if (!self.outbox.length) {
      if (self.closing) self.finish();
      return;
    }
    var batch = self.outbox;
    self.outbox = [];
    self.sending = true;
    self.request('POST', self.url(self.path + '/xhr_send'), JSON.stringify(batch), null,
      function sent(status) {
        self.sending = false;
        if (status === 0) return self.lost();
        if (status !== 204 && status !== 200) return self.fail(new Error('SockJS send answered ' + status));
        self.flush();
      });
  };

  Session.prototype.fail = function fail(error) {
    if (this.closed) return;
    if (this.closing) return this.finish();
    primus.emit('incoming::error', error);
    this.end(1006, error.message);
  };

  Session.prototype.lost = function lost() {
    this.end(1006, 'Connection lost');
  };

  Session.prototype.end = function end(code, reason) {
    if (this.closed) return;
    if (this.closing) return this.finish();
    this.closed = true;
    this.release();
    if (current === this) current = null;
    if (code > 1000 && code !== 1006) {
      var error = new Error('SockJS session closed: ' + code + ' ' + reason);
      error.code = code;
      primus.emit('incoming::error', error);
    }
    primus.emit('incoming::end', code, reason);
  };

  // Closing on the client's side (primus.end(), a reconnect): over HTTP,
  // messages still to be posted -- end(data) writes just before closing --
  // are delivered first, since dropping the receiver makes the server
  // close the session at once.  Frames arriving meanwhile are ignored.
  Session.prototype.close = function close() {
    var self = this;
    if (self.closed || self.closing) return;
    if (self.opened && !self.socket && (self.sending || self.outbox.length)) {
      self.closing = true;
      self.timer = setTimeout(function giveUp() {
        self.timer = null;
        self.finish();
      }, ATTEMPT_TIMEOUT);
      return self.flush();
    }
    self.finish();
  };

  Session.prototype.finish = function finish() {
    this.closed = true;
    this.closing = false;
    this.release();
  };

  primus.on('outgoing::open', function opening() {
    primus.emit('outgoing::end');
    current = new Session(primus.uri({ protocol: 'http:', query: true }));
    primus.socket = current;
    current.start();
  });

  primus.on('outgoing::data', function send(message) {
    if (current) current.send(message);
  });

  primus.on('outgoing::reconnect', function reconnect() {
    primus.emit('outgoing::open');
  });

  primus.on('outgoing::end', function close() {
    if (!current) return;
    var old = current;
    current = null;
    old.close();
  });
}
