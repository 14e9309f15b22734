// The Primus client: one connection that survives the network.  The
// transport (compiled in as `client`) only opens sockets and moves
// messages; everything stateful lives here, driven by two families of
// events:
//
//   outgoing::open|data|end|reconnect|url|pong   what we ask of the transport
//   incoming::open|data|error|end|ping|id        what the transport reports
//
// The event names, arguments and orders are Primus 8's (docs/protocol/primus.rst,
// "Client events and their orders"),
// so code written against the official client runs unchanged.

function Primus(url, options) {
  if (!(this instanceof Primus)) return new Primus(url, options);
  EventEmitter.call(this);

  if (typeof this.client !== 'function') {
    return this.critical(new Error('The client library has not been compiled correctly'));
  }

  if (url && typeof url === 'object') {
    options = url;
    url = options.url || options.uri || defaultUrl();
  } else {
    options = options || {};
  }

  if ('ping' in options || 'pong' in options) {
    return this.critical(new Error('The `ping` and `pong` options have been removed'));
  }

  var primus = this;
  options.queueSize = 'queueSize' in options ? options.queueSize : Infinity;
  options.timeout = 'timeout' in options ? options.timeout : 10000;
  options.reconnect = 'reconnect' in options ? options.reconnect : {};
  options.pingTimeout = 'pingTimeout' in options ? options.pingTimeout : primus.defaultPingTimeout;
  options.strategy = 'strategy' in options ? options.strategy : [];
  options.transport = 'transport' in options ? options.transport : {};

  primus.buffer = [];               // writes waiting for an open connection
  primus.writable = true;
  primus.readable = true;
  primus.url = primus.parse(url || defaultUrl());
  primus.readyState = Primus.CLOSED;
  primus.options = options;
  primus.timers = new Timers(primus);
  primus.socket = null;
  primus.disconnect = false;        // the server said primus::server::close
  primus.transport = options.transport;
  primus.transformers = { outgoing: [], incoming: [] };
  primus.recovery = new Recovery(options.reconnect);

  // disconnect: reconnect after an unexpected close; online: reconnect when
  // the browser is back online; timeout: retry a first connect that timed
  // out or failed.  Without authorization compiled in, a refused handshake
  // looks like a network failure, hence "timeout" is then a default.
  var strategy = options.strategy;
  if (typeof strategy === 'string') strategy = strategy.split(/\s*,\s*/);
  if (strategy === false) {
    strategy = [];
  } else if (!Array.isArray(strategy) || !strategy.length) {
    strategy = Array.isArray(strategy) ? strategy : [];
    strategy.push('disconnect', 'online');
    if (!primus.authorization) strategy.push('timeout');
  }
  options.strategy = strategy.join(',').toLowerCase();

  if ('websockets' in options) primus.AVOID_WEBSOCKETS = !options.websockets;
  if ('network' in options) primus.NETWORK_EVENTS = options.network;

  // Open on the next tick so the caller can add its listeners first.
  if (!options.manual) {
    primus.timers.setTimeout('open', function open() {
      primus.timers.clear('open');
      primus.open();
    }, 0);
  }

  primus.initialise(options);
}

Primus.prototype = Object.create(EventEmitter.prototype);
Primus.prototype.constructor = Primus;

Primus.OPENING = 1;
Primus.CLOSED = 2;
Primus.OPEN = 3;

Primus.EventEmitter = EventEmitter;
Primus.Stream = EventEmitter;

Primus.requires = Primus.require = function requires(name) {
  if (typeof require !== 'function') return undefined;
  if (typeof define === 'function' && define.amd) return undefined;
  return require(name);
};

Primus.connect = function connect(url, options) {
  return new Primus(url, options);
};

Primus.prototype.AVOID_WEBSOCKETS = false;
Primus.prototype.NETWORK_EVENTS = false;
Primus.prototype.online = true;

try {
  Primus.prototype.NETWORK_EVENTS = 'onLine' in navigator && typeof window.addEventListener === 'function';
  if (Primus.prototype.NETWORK_EVENTS && !navigator.onLine) Primus.prototype.online = false;
} catch (e) { /* no navigator: not a browser */ }

// Plugins: name -> function (primus, options), run for every instance.
Primus.prototype.ark = {};

Primus.prototype.reserved = function reserved(event) {
  return /^(incoming|outgoing)::/.test(event) || event in this.reserved.events;
};

Primus.prototype.reserved.events = {
  'reconnect scheduled': 1, 'reconnect timeout': 1, 'readyStateChange': 1,
  'reconnect failed': 1, 'reconnected': 1, 'reconnect': 1, 'offline': 1,
  'timeout': 1, 'destroy': 1, 'online': 1, 'error': 1, 'close': 1, 'open': 1,
  'data': 1, 'end': 1
};

function context(self, method) {
  if (self instanceof Primus) return;
  var err = new Error('Primus#' + method + "'s context should be a Primus instance");
  if (self && typeof self.listeners === 'function' && self.listeners('error').length) {
    self.emit('error', err);
    return;
  }
  throw err;
}

function normaliseError(e) {
  if (e instanceof Error) return e;
  if (typeof e === 'string') return new Error(e);
  var err = new Error((e && (e.message || e.reason)) || 'Connection error');
  if (e && typeof e === 'object') {
    for (var key in e) {
      if (Object.prototype.hasOwnProperty.call(e, key)) err[key] = e[key];
    }
  }
  return err;
}

// `emits('event')` returns a function that emits `event` with its
// arguments; with a parser `fn(next, ...args)`, next(err) emits `error`,
// next(undefined, value) emits with value, next(undefined, null) with no
// arguments and next() with the original ones.
Primus.prototype.emits = function emits() {
  var self = this;
  var prefix = Array.prototype.slice.call(arguments);
  var parser = typeof prefix[prefix.length - 1] === 'function' ? prefix.pop() : null;

  return function emitter() {
    var args = Array.prototype.slice.call(arguments);
    if (!parser) return self.emit.apply(self, prefix.concat(args));
    parser.apply(self, [function next(err, value) {
      if (err) return self.emit('error', err);
      var out = value === undefined ? args : value === null ? [] : value;
      self.emit.apply(self, prefix.concat(out));
    }].concat(args));
    return true;
  };
};

Primus.prototype.plugin = function plugin(name) {
  context(this, 'plugin');
  if (name) return this.ark[name];
  var plugins = {};
  for (name in this.ark) plugins[name] = this.ark[name];
  return plugins;
};

Primus.prototype.initialise = function initialise(options) {
  var primus = this;
  var recovery = primus.recovery;

  recovery.on('reconnected', function reconnected(opts) {
    primus.emit('reconnected', opts);
  });
  recovery.on('reconnect failed', function failed(err, opts) {
    // Primus emits `end` first: nothing more will happen on this client.
    primus.emit('end');
    primus.emit('reconnect failed', err, opts);
  });
  recovery.on('reconnect timeout', function timedOut(err, opts) {
    primus.emit('reconnect timeout', err, opts);
  });
  recovery.on('reconnect scheduled', function scheduled(opts) {
    primus.emit('reconnect scheduled', opts);
  });
  recovery.on('reconnect', function attempt(opts, done) {
    primus.emit('outgoing::reconnect');
    primus.emit('reconnect', opts, done);
  });

  primus.on('outgoing::open', function opening() {
    primus._state(Primus.OPENING, 'opening');
  });

  primus.on('incoming::open', function opened() {
    var previous = primus.readyState;
    if (recovery.reconnecting()) recovery.reconnected();

    primus.writable = true;
    primus.readable = true;
    if (!primus.online) {
      primus.online = true;
      primus.emit('online');
    }

    primus.readyState = Primus.OPEN;
    if (previous !== Primus.OPEN) primus.emit('readyStateChange', 'open');
    primus.heartbeat();

    var queued = primus.buffer.splice(0, primus.buffer.length);
    for (var i = 0; i < queued.length; i++) primus._write(queued[i]);

    primus.emit('open');
  });

  primus.on('incoming::ping', function ping(time) {
    primus.online = true;
    primus.heartbeat();
    primus.emit('outgoing::pong', time);
    primus._write('primus::pong::' + time);
  });

  primus.on('incoming::error', function failed(e) {
    var connecting = primus.timers.active('connect');
    var err = normaliseError(e);

    // A failed reconnect attempt is not an error the user needs to hear
    // about: the back-off simply schedules the next one.
    if (recovery.reconnecting()) return recovery.reconnected(err);
    if (primus.listeners('error').length) primus.emit('error', err);

    if (connecting) {
      if (primus._strategy('timeout')) recovery.reconnect();
      else primus.end();
    }
  });

  primus.on('incoming::data', function message(raw) {
    primus.decoder(raw, function decoded(err, data) {
      if (err) return primus.listeners('error').length && primus.emit('error', err);
      if (primus.protocol(data)) return;
      primus.transforms(primus, primus, 'incoming', data, raw);
    });
  });

  primus.on('incoming::end', function closed() {
    var previous = primus.readyState;

    // The server ended us on purpose: no reconnect.
    if (primus.disconnect) {
      primus.disconnect = false;
      return primus.end();
    }

    primus._state(Primus.CLOSED, 'end');
    if (primus.timers.active('connect')) primus.end();
    if (previous !== Primus.OPEN) {
      return recovery.reconnecting() ? recovery.reconnect() : false;
    }

    primus.writable = false;
    primus.readable = false;
    primus.timers.clear();
    primus.emit('close');

    if (primus._strategy('disconnect')) return recovery.reconnect();
    primus.emit('outgoing::end');
    primus.emit('end');
  });

  primus.client.call(primus, primus);

  for (var name in primus.ark) primus.ark[name].call(primus, primus, options);

  if (!primus.NETWORK_EVENTS) return primus;

  primus.offlineHandler = function offline() {
    if (!primus.online) return;
    primus.online = false;
    primus.emit('offline');
    primus.end();
    // Going offline abandons any reconnect in progress; coming back online
    // starts a fresh one.
    recovery.reset();
  };

  primus.onlineHandler = function online() {
    if (primus.online) return;
    primus.online = true;
    primus.emit('online');
    if (primus._strategy('online')) recovery.reconnect();
  };

  window.addEventListener('offline', primus.offlineHandler, false);
  window.addEventListener('online', primus.onlineHandler, false);
  return primus;
};

Primus.prototype._state = function state(readyState, name) {
  var previous = this.readyState;
  this.readyState = readyState;
  if (previous !== readyState) this.emit('readyStateChange', name);
};

Primus.prototype._strategy = function hasStrategy(name) {
  return this.options.strategy.split(',').indexOf(name) !== -1;
};

// Handle `primus::<type>::<value>` messages; anything unknown is user data.
Primus.prototype.protocol = function protocol(message) {
  if (typeof message !== 'string' || message.indexOf('primus::') !== 0) return false;
  var last = message.indexOf(':', 8);
  var value = message.slice(last + 2);

  switch (message.slice(8, last)) {
    case 'ping':
      this.emit('incoming::ping', +value);
      return true;
    case 'server':
      if (value === 'close') this.disconnect = true;
      return true;
    case 'id':
      this.emit('incoming::id', value);
      return true;
    default:
      return false;
  }
}

// Run the message transforms in series; a transform of one argument is
// synchronous (returning false drops the message), any other arity gets a
// `next(err, false?)` callback.
Primus.prototype.transforms = function transforms(primus, connection, type, data, raw) {
  var packet = { data: data };
  var fns = primus.transformers[type];

  (function step(index) {
    var fn = fns[index];
    if (!fn) {
      if (type === 'incoming') return connection.emit('data', packet.data, raw);
      return connection._write(packet.data);
    }
    if (fn.length === 1) {
      if (fn.call(connection, packet) === false) return;
      return step(index + 1);
    }
    fn.call(connection, packet, function next(err, keep) {
      if (err) return connection.emit('error', err);
      if (keep === false) return;
      step(index + 1);
    });
  })(0);

  return this;
};

Primus.prototype.id = function id(fn) {
  if (this.socket && this.socket.id) return fn(this.socket.id);
  this._write('primus::id::');
  return this.once('incoming::id', fn);
};

Primus.prototype.open = function open() {
  context(this, 'open');
  // The connect timeout guards the first connection only; reconnect
  // attempts have their own `reconnect timeout`.
  if (!this.recovery.reconnecting() && this.options.timeout) this.timeout();
  this.emit('outgoing::open');
  return this;
};

Primus.prototype.write = function write(data) {
  context(this, 'write');
  this.transforms(this, this, 'outgoing', data);
  return true;
};

// Encode and send, or queue (dropping the oldest beyond queueSize) while
// the connection is not open.  The queue holds unencoded values: they are
// encoded when flushed.
Primus.prototype._write = function _write(data) {
  var primus = this;

  if (primus.readyState !== Primus.OPEN) {
    if (primus.buffer.length === primus.options.queueSize) primus.buffer.splice(0, 1);
    primus.buffer.push(data);
    return false;
  }

  primus.encoder(data, function encoded(err, packet) {
    if (err) return primus.listeners('error').length && primus.emit('error', err);
    if (!packet) return; // nothing to send, e.g. undefined

    // U+2028/U+2029 are legal in JSON but line breaks in JavaScript.
    if (typeof packet === 'string') packet = packet.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
    primus.emit('outgoing::data', packet);
  });

  return true;
};

// The server pings every pingInterval; silence for pingTimeout means the
// connection is dead even if the socket does not know it yet.
Primus.prototype.heartbeat = function heartbeat() {
  if (!this.options.pingTimeout) return this;

  this.timers.setTimeout('heartbeat', function expired() {
    if (!this.online) return; // the network events got there first
    this.online = false;
    this.emit('offline');
    this.emit('incoming::end');
  }, this.options.pingTimeout);

  return this;
};

Primus.prototype.timeout = function timeout() {
  var primus = this;

  function settled() {
    primus.removeListener('error', settled)
      .removeListener('open', settled)
      .removeListener('end', settled);
    primus.timers.clear('connect');
  }

  primus.timers.setTimeout('connect', function expired() {
    settled();
    if (primus.readyState === Primus.OPEN || primus.recovery.reconnecting()) return;

    primus.emit('timeout');
    if (primus._strategy('timeout')) primus.recovery.reconnect();
    else primus.end();
  }, primus.options.timeout);

  return primus.on('error', settled).on('open', settled).on('end', settled);
};

Primus.prototype.end = function end(data) {
  context(this, 'end');
  if (this._destroyed) return this;

  if (this.readyState === Primus.CLOSED && !this.timers.active('connect') && !this.timers.active('open')) {
    // Already closed: the only thing left to stop is a reconnect in progress.
    if (this.recovery.reconnecting()) {
      this.recovery.reset();
      this.emit('end');
    }
    return this;
  }

  if (data !== undefined) this.write(data);

  this.writable = false;
  this.readable = false;
  this._state(Primus.CLOSED, 'end');
  this.timers.clear();
  this.emit('outgoing::end');
  this.emit('close');
  this.emit('end');
  return this;
};

Primus.prototype.destroy = function destroy() {
  if (this._destroyed) return false;
  this.end();
  this._destroyed = true;
  if (this.timers) this.timers.clear();
  if (this.recovery) this.recovery.reset();
  this.url = this.timers = this.options = this.recovery = this.socket = this.transport = this.transformers = null;
  this.emit('destroy');
  this.removeAllListeners();
  if (this.NETWORK_EVENTS && this.offlineHandler) {
    window.removeEventListener('offline', this.offlineHandler, false);
    window.removeEventListener('online', this.onlineHandler, false);
  }
  return true;
};

Primus.prototype.clone = function clone(object) {
  return this.merge({}, object);
};

Primus.prototype.merge = function merge(target) {
  for (var i = 1; i < arguments.length; i++) {
    var source = arguments[i];
    for (var key in source) {
      if (Object.prototype.hasOwnProperty.call(source, key)) target[key] = source[key];
    }
  }
  return target;
};

Primus.prototype.parse = parseUrl;
Primus.prototype.querystring = parseQuery;
Primus.prototype.querystringify = stringifyQuery;

// The server URL for a transport: scheme (made secure for https/wss pages),
// userinfo, host, the compiled pathname (never the user URL's path), and
// with `query: true` the user's query plus the `_primuscb` cache buster.
// `outgoing::url` lets plugins rewrite the parts first.
Primus.prototype.uri = function uri(options) {
  var url = this.url;
  options = options || {};
  var withQuery = !!options.query;

  options.protocol = 'protocol' in options ? options.protocol : 'http:';
  options.query = url.query && withQuery ? url.query.slice(1) : false;
  options.secure = 'secure' in options ? options.secure : url.protocol === 'https:' || url.protocol === 'wss:';
  options.auth = 'auth' in options ? options.auth : url.auth;
  options.pathname = 'pathname' in options ? options.pathname : this.pathname;
  options.port = 'port' in options ? +options.port : +url.port || (options.secure ? 443 : 80);

  var query = this.querystring(options.query || '');
  query._primuscb = yeast();
  options.query = this.querystringify(query);

  this.emit('outgoing::url', options);

  var result = (options.secure ? options.protocol.replace(':', 's:') : options.protocol) + '//'
    + (options.auth ? options.auth + '@' : '') + url.host
    + (options.pathname || '');
  if (withQuery) result += '?' + options.query;
  else delete options.query;

  return options.object ? options : result;
};

Primus.prototype.transform = function transform(type, fn) {
  context(this, 'transform');
  if (!(type in this.transformers)) return this.critical(new Error('Invalid transformer type'));
  this.transformers[type].push(fn);
  return this;
};

// Emit `error`, or throw when nobody listens: a mistake must not pass
// silently.
Primus.prototype.critical = function critical(err) {
  if (this.emit('error', err)) return this;
  throw err;
};
