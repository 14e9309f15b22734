// primus-tx browserchannel transport for the browser client: a small
// BrowserChannel (version 8) client of its own, not Closure's.
//
// Transport contract (see docs/browser.rst): this source runs in its own
// function scope inside primus.js and declares `function client(primus)`,
// which wires outgoing::open|data|end|reconnect and reports with
// incoming::open|data|error|end.  One connection attempt is one session:
// a bind POST (which opens it and carries what is already queued), then
// one back channel at a time (a stream, or long polls when the socket's
// `transport` option says `longPolling: true`) and one forward POST at a
// time.  There is no test channel: it only picks long polling behind
// buffering proxies, which the option does.  Every request acknowledges
// the arrays seen so far and carries the page's query.  A `stop` array
// ends the session without an error, so Primus's reconnect strategy (and
// its `primus::server::close` message, when one came first) decides.
function client(primus) {
  var current = null;
  var OPEN_TIMEOUT = 10000;
  var MAX_MAPS = 1000;

  function random(n) {
    var chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
    var out = '';
    for (var i = 0; i < n; i++) out += chars.charAt(Math.floor(Math.random() * chars.length));
    return out;
  }

  function longPolling() {
    var options = primus.transport || {};
    return !!(options.longPolling || options.long_polling);
  }

  function Session(url) {
    var parts = url.split('?');
    this.base = parts[0].replace(/\/+$/, '');
    this.query = parts.length > 1 ? parts.slice(1).join('?') : '';
    this.sid = null;
    this.aid = -1;
    this.rid = Math.floor(Math.random() * 100000);
    this.maps = 0;
    this.outbox = [];
    this.sending = false;
    this.opened = false;
    this.closed = false;
    this.closing = false;
    this.requests = [];
    this.timer = null;
  }

  Session.prototype.url = function url(params) {
    var query = 'VER=8';
    for (var key in params) query += '&' + key + '=' + encodeURIComponent(params[key]);
    query += '&zx=' + random(12) + '&t=1';
    if (this.query) query += '&' + this.query;
    return this.base + '/bind?' + query;
  };

  // One request; `progress(text)` gets what the response added, `done`
  // its status and text.  Untracked requests (the goodbye) outlive close().
  Session.prototype.request = function request(method, url, body, progress, done, untracked) {
    var self = this;
    var xhr = new XMLHttpRequest();
    var seen = 0;
    if (!untracked) self.requests.push(xhr);
    xhr.open(method, url, true);
    try { xhr.withCredentials = true; } catch (e) { /* old browsers */ }
    if (body !== null) xhr.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
    xhr.onreadystatechange = function onreadystatechange() {
      if (self.closed && !untracked) return;
      if ((xhr.readyState === 3 || xhr.readyState === 4) && xhr.status === 200 && progress) {
        var text = xhr.responseText || '';
        if (text.length > seen) {
          progress(text.slice(seen));
          seen = text.length;
        }
      }
      if (xhr.readyState === 4) {
        var at = self.requests.indexOf(xhr);
        if (at !== -1) self.requests.splice(at, 1);
        if (done && (!self.closed || untracked)) done(xhr.status, xhr.responseText);
      }
    };
    xhr.send(body);
  };

  Session.prototype.start = function start() {
    var self = this;
    var params = { RID: String(self.rid++) };
    self.timer = setTimeout(function timeout() {
      self.timer = null;
      if (!self.opened) self.fail(new Error('BrowserChannel bind timed out'));
    }, OPEN_TIMEOUT);
    self.buffer = '';
    self.request('POST', self.url(params), 'count=0',
      function progress(text) { self.chunks(text); },
      function done(status) {
        if (status !== 200) return self.fail(new Error('BrowserChannel bind answered ' + status));
        if (!self.opened) return self.fail(new Error('BrowserChannel bind ended without a session'));
        self.back();
      });
  };

  // Chunks are "<length>\n<text>", lengths in UTF-16 code units, which is
  // how JavaScript strings count.
  Session.prototype.chunks = function chunks(text) {
    this.buffer += text;
    while (!this.closed) {
      var at = this.buffer.indexOf('\n');
      if (at === -1) return;
      var length = parseInt(this.buffer.slice(0, at), 10);
      if (isNaN(length)) return this.fail(new Error('Broken BrowserChannel chunk'));
      if (this.buffer.length < at + 1 + length) return;
      var body = this.buffer.slice(at + 1, at + 1 + length);
      this.buffer = this.buffer.slice(at + 1 + length);
      var arrays;
      try { arrays = JSON.parse(body); } catch (e) { return this.fail(e); }
      this.arrays(arrays);
    }
  };

  Session.prototype.arrays = function arrays(list) {
    for (var i = 0; i < list.length && !this.closed; i++) {
      var id = list[i][0];
      var data = list[i][1];
      if (id <= this.aid) continue; // resent after a broken back channel
      this.aid = id;
      if (data && typeof data === 'object' && data.length) {
        if (data[0] === 'c' && !this.opened) {
          this.sid = data[1];
          this.opened = true;
          if (this.timer) clearTimeout(this.timer);
          this.timer = null;
          primus.emit('incoming::open');
          this.flush();
          continue;
        }
        if (data[0] === 'noop') continue;
        if (data[0] === 'stop') return this.end();
      }
      primus.emit('incoming::data', typeof data === 'string' ? data : JSON.stringify(data));
    }
  };

  Session.prototype.back = function back() {
    var self = this;
    if (self.closed || self.closing) return;
    self.buffer = '';
    var params = { RID: 'rpc', SID: self.sid, CI: longPolling() ? '1' : '0', AID: String(self.aid), TYPE: 'xmlhttp' };
    self.request('GET', self.url(params), null,
      function progress(text) { self.chunks(text); },
      function done(status) {
        // Status 0: the connection dropped (server gone), which the core
        // handles like a closed WebSocket, without an error.
        if (status === 0) return self.end();
        if (status !== 200) return self.fail(new Error('BrowserChannel back channel answered ' + status));
        self.back();
      });
  };

  Session.prototype.send = function send(message) {
    if (this.closed || this.closing) return;
    this.outbox.push(message);
    this.flush();
  };

  Session.prototype.flush = function flush() {
    var self = this;
    if (!self.opened || self.sending || self.closed) return;
    if (!self.outbox.length) {
      if (self.closing) self.finish();
      return;
    }
    var batch = self.outbox.slice(0, MAX_MAPS);
    self.outbox = self.outbox.slice(MAX_MAPS);
    var body = 'count=' + batch.length + '&ofs=' + self.maps;
    for (var i = 0; i < batch.length; i++) body += '&req' + i + '__S=' + encodeURIComponent(batch[i]);
    self.maps += batch.length;
    self.sending = true;
    var params = { SID: self.sid, RID: String(self.rid++), AID: String(self.aid) };
    self.request('POST', self.url(params), body, null, function sent(status) {
      self.sending = false;
      if (status === 0) return self.closing ? self.finish() : self.end();
      if (status !== 200) return self.fail(new Error('BrowserChannel forward channel answered ' + status));
      self.flush();
    });
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
  };

  Session.prototype.fail = function fail(error) {
    if (this.closed) return;
    if (this.closing) return this.finish();
    primus.emit('incoming::error', error);
    this.end();
  };

  Session.prototype.end = function end() {
    if (this.closed) return;
    if (this.closing) return this.finish();
    this.closed = true;
    this.release();
    if (current === this) current = null;
    primus.emit('incoming::end');
  };

  // Closing on the client's side (primus.end(), a reconnect): messages
  // still to be posted -- end(data) writes just before closing -- go
  // first, then the goodbye, so the server ends the session now rather
  // than when it times out.
  Session.prototype.close = function close() {
    var self = this;
    if (self.closed || self.closing) return;
    if (self.opened && (self.sending || self.outbox.length)) {
      self.closing = true;
      self.timer = setTimeout(function giveUp() {
        self.timer = null;
        self.finish();
      }, OPEN_TIMEOUT);
      return self.flush();
    }
    self.finish();
  };

  Session.prototype.finish = function finish() {
    this.closed = true;
    this.closing = false;
    this.release();
    if (this.sid !== null) {
      this.request('GET', this.url({ SID: this.sid, RID: String(this.rid++), TYPE: 'terminate' }),
        null, null, null, true);
    }
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
