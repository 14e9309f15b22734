'use strict';
/*
 * primus_client_driver.js — the official Primus 8 client (npm `primus`, with
 * `ws` as its transport in Node) driven over stdin/stdout, for primus-tx's
 * interop tests (tests/nodepeer.py is the Python side).
 *
 * Protocol: newline-delimited JSON both ways.
 *
 * Every command may name a client: {"client": "c1", ...} (default
 * "default"), so one process can run many clients (a broadcast to 20
 * clients needs one Node process, not 20).
 *
 * Commands (stdin):
 *   {"op":"connect","url":..,"options":{..},"transformer":"websockets",
 *    "parser":"json","plugin"?:{..},"socket"?:{..}}
 *        Primus.createSocket({transformer, parser, plugin, ...socket}) then
 *        new Socket(url, options).  "socket" holds extra createSocket options
 *        such as {"authorization": true, "pathname": "/other"}.
 *        "npm_plugins": {"emitter": "primus-emitter", ...} adds npm plugins
 *        (pinned in package.json) to the client, by name and package.
 *   {"op":"write","data":..}          client.write(data)
 *   {"op":"end","data"?:..}           client.end(data)
 *   {"op":"id"}                        client.id(cb) -> event "id" [id]
 *   {"op":"destroy"}                   client.destroy()
 *   {"op":"open"}                      client.open()
 *   {"op":"eval","code":"..."}        runs `code` as the body of an async
 *        function with `client`, `clients`, `Primus`, `emit(name, ...args)`,
 *        `require` and `toWire` in scope; replies "eval" [returned value] or
 *        "eval error" [message].
 *   {"op":"http","method":..,"url":..,"headers"?:{..},"body"?:".."}
 *        a plain Node http request; replies "http" [status, headers, body].
 *   {"op":"raw_connect","url":..,"headers"?:{..}}  a bare `ws` WebSocket
 *        (no Primus), for hand-written Primus framing.  Events "raw:open",
 *        "raw:message" [data, isBinary], "raw:close" [code, reason],
 *        "raw:error" [message], "raw:unexpected-response" [status, headers, body].
 *   {"op":"raw_send","data":..}       a string is sent as a text frame, a
 *        {"$binary": base64} as a binary frame.
 *   {"op":"raw_ping","every"?:ms}     send a WebSocket PING frame now, or
 *        every `every` ms until the socket closes ("every": 0 stops).
 *   {"op":"raw_close","code"?:N}      close the bare WebSocket.
 *   {"op":"exit"}                      exit the process.
 *
 * Events (stdout): {"event":name,"client":name,"args":[...],"t":ms}
 *   ready                 once, at start-up (client "driver")
 *   open, end, close, destroy, timeout, online, offline  (no args)
 *   data                  [data, raw]
 *   error                 [message]
 *   readyStateChange      [state]
 *   reconnect scheduled, reconnect, reconnected  [attempt]
 *   reconnect timeout, reconnect failed          [message, attempt]
 *   incoming::ping        [time]
 *   id                    [id]
 *   ws:close              [code, reason] of the underlying `ws` socket
 *   unexpected-response   [status, headers, body] (a refused upgrade; the
 *                         client then fails exactly as `ws` would have)
 *   command error         [message] (a command could not run)
 *
 * Bytes survive both ways: Buffers, ArrayBuffers and typed arrays in events
 * are written as {"$binary": "<base64>"}, and such objects in write/raw_send
 * data become Buffers.  `t` is milliseconds since the driver started.
 */

const readline = require('readline');
const http = require('http');
const Primus = require('primus');
const WebSocket = require('ws');

const started = process.hrtime.bigint();
const clients = Object.create(null);
const raws = Object.create(null);

function now() {
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const { toWire, fromWire } = require('./wire');

function emit(event, client, args) {
  process.stdout.write(JSON.stringify({
    event: event,
    client: client,
    args: toWire(args || []),
    t: Math.round(now() * 1000) / 1000
  }) + '\n');
}

function attempt(opts) {
  if (!opts || typeof opts !== 'object') return null;
  const copy = {};
  for (const key of Object.keys(opts)) {
    if (typeof opts[key] !== 'function') copy[key] = opts[key];
  }
  return copy;
}

const PLAIN_EVENTS = ['open', 'end', 'close', 'destroy', 'timeout', 'online', 'offline'];

function watch(name, client) {
  PLAIN_EVENTS.forEach(function each(event) {
    client.on(event, function () { emit(event, name, []); });
  });
  client.on('data', function (data, raw) { emit('data', name, [data, raw]); });
  client.on('error', function (err) {
    emit('error', name, [err && err.message !== undefined ? err.message : String(err)]);
  });
  client.on('readyStateChange', function (state) { emit('readyStateChange', name, [state]); });
  ['reconnect scheduled', 'reconnect', 'reconnected'].forEach(function each(event) {
    client.on(event, function (opts) { emit(event, name, [attempt(opts)]); });
  });
  ['reconnect timeout', 'reconnect failed'].forEach(function each(event) {
    client.on(event, function (err, opts) {
      emit(event, name, [err && err.message, attempt(opts)]);
    });
  });
  client.on('incoming::ping', function (time) { emit('incoming::ping', name, [time]); });
  //
  // The transport creates its `ws` socket in its own `outgoing::open`
  // listener, which was added before ours: by now `client.socket` is new.
  //
  client.on('outgoing::open', function () {
    const socket = client.socket;
    watchRefusal(name, socket);
    if (socket && typeof socket.on === 'function') {
      socket.on('close', function (code, reason) {
        // faye-websocket's client (the faye transformer) passes one
        // CloseEvent where ws passes (code, reason).
        if (code && typeof code === 'object') {
          reason = code.reason;
          code = code.code;
        }
        emit('ws:close', name, [code, reason ? reason.toString('utf8') : '']);
      });
    }
  });
}

/*
 * A refused upgrade: `ws` only reports the status in an error message, and
 * listening to `unexpected-response` stops it from failing the handshake at
 * all.  So we listen, read the whole response, report it, and then fail the
 * socket the way `ws`'s own abortHandshake does (error, then close), so that
 * the Primus client sees exactly what it would have seen without us.
 */
function watchRefusal(name, socket) {
  if (!socket || typeof socket.on !== 'function' || socket.__driverWatched) return;
  socket.__driverWatched = true;
  socket.on('unexpected-response', function (req, res) {
    const chunks = [];
    res.on('data', function (chunk) { chunks.push(chunk); });
    res.on('end', function () {
      emit('unexpected-response', name, [
        res.statusCode, res.headers, Buffer.concat(chunks).toString('utf8')
      ]);
      failHandshake(socket, req, res.statusCode);
    });
    res.on('error', function () { failHandshake(socket, req, res.statusCode); });
  });
}

function failHandshake(socket, req, status) {
  if (socket.__driverFailed) return;
  socket.__driverFailed = true;
  socket._readyState = WebSocket.CLOSING;
  if (req.socket && !req.socket.destroyed) req.socket.destroy();
  process.nextTick(function () {
    socket._errorEmitted = true;
    socket.emit('error', new Error('Unexpected server response: ' + status));
    socket.emitClose();
  });
}

function requireClient(name) {
  const client = clients[name];
  if (!client) throw new Error('no client named ' + JSON.stringify(name) + '; connect first');
  return client;
}

function httpRequest(name, cmd) {
  const req = http.request(cmd.url, {
    method: cmd.method || 'GET',
    headers: cmd.headers || {}
  }, function (res) {
    const chunks = [];
    res.on('data', function (chunk) { chunks.push(chunk); });
    res.on('end', function () {
      emit('http', name, [res.statusCode, res.headers, Buffer.concat(chunks).toString('utf8')]);
    });
  });
  req.on('error', function (err) { emit('http error', name, [err.message]); });
  req.end(cmd.body === undefined ? undefined : cmd.body);
}

function rawConnect(name, cmd) {
  const ws = new WebSocket(cmd.url, [], { headers: cmd.headers || {} });
  raws[name] = ws;
  ws.on('open', function () { emit('raw:open', name, []); });
  ws.on('message', function (data, isBinary) {
    emit('raw:message', name, [isBinary ? data : data.toString('utf8'), isBinary]);
  });
  ws.on('ping', function (data) { emit('raw:ping', name, [data]); });
  ws.on('close', function (code, reason) {
    emit('raw:close', name, [code, reason.toString('utf8')]);
  });
  ws.on('error', function (err) { emit('raw:error', name, [err.message]); });
  ws.on('unexpected-response', function (req, res) {
    const chunks = [];
    res.on('data', function (chunk) { chunks.push(chunk); });
    res.on('end', function () {
      emit('raw:unexpected-response', name, [
        res.statusCode, res.headers, Buffer.concat(chunks).toString('utf8')
      ]);
      failHandshake(ws, req, res.statusCode);
    });
  });
}

async function run(cmd) {
  const name = cmd.client || 'default';
  switch (cmd.op) {
    case 'connect': {
      if (clients[name]) clients[name].destroy();
      const plugin = Object.assign({}, cmd.plugin || {});
      Object.keys(cmd.npm_plugins || {}).forEach(function (key) {
        plugin[key] = require(cmd.npm_plugins[key]);
      });
      const Socket = Primus.createSocket(Object.assign({
        transformer: cmd.transformer || 'websockets',
        parser: cmd.parser || 'json'
      }, Object.keys(plugin).length ? { plugin: plugin } : {}, cmd.socket || {}));
      const client = new Socket(cmd.url, cmd.options || {});
      clients[name] = client;
      watch(name, client);
      break;
    }
    case 'write':
      requireClient(name).write(fromWire(cmd.data));
      break;
    case 'end':
      if ('data' in cmd) requireClient(name).end(fromWire(cmd.data));
      else requireClient(name).end();
      break;
    case 'id':
      requireClient(name).id(function (id) { emit('id', name, [id]); });
      break;
    case 'destroy':
      requireClient(name).destroy();
      break;
    case 'open':
      requireClient(name).open();
      break;
    case 'eval': {
      const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
      const fn = new AsyncFunction(
        'client', 'clients', 'Primus', 'emit', 'require', 'toWire', cmd.code
      );
      try {
        const result = await fn(
          clients[name], clients, Primus,
          function (event) { emit(event, name, Array.prototype.slice.call(arguments, 1)); },
          require, toWire
        );
        emit('eval', name, [result]);
      } catch (err) {
        emit('eval error', name, [err && err.stack ? err.stack : String(err)]);
      }
      break;
    }
    case 'http':
      httpRequest(name, cmd);
      break;
    case 'raw_connect':
      rawConnect(name, cmd);
      break;
    case 'raw_send': {
      const data = fromWire(cmd.data);
      raws[name].send(data, { binary: Buffer.isBuffer(data) });
      break;
    }
    case 'raw_ping': {
      const ws = raws[name];
      if (ws.__pinger) clearInterval(ws.__pinger);
      ws.__pinger = null;
      if (cmd.every) {
        ws.__pinger = setInterval(function () {
          if (ws.readyState === WebSocket.OPEN) ws.ping();
        }, cmd.every);
        ws.once('close', function () { clearInterval(ws.__pinger); });
      } else if (cmd.every === undefined) {
        ws.ping();
      }
      break;
    }
    case 'raw_close':
      if (cmd.code) raws[name].close(cmd.code);
      else raws[name].close();
      break;
    case 'exit':
      Object.keys(clients).forEach(function (key) { clients[key].destroy(); });
      Object.keys(raws).forEach(function (key) { raws[key].terminate(); });
      process.exit(0);
      break;
    default:
      throw new Error('unknown op ' + JSON.stringify(cmd.op));
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', function (line) {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    emit('command error', 'driver', ['bad JSON: ' + err.message]);
    return;
  }
  run(cmd).catch(function (err) {
    emit('command error', cmd.client || 'default', [err && err.message]);
  });
});
// The test process went away: so do we (no orphaned Node processes).
lines.on('close', function () { process.exit(0); });

process.on('uncaughtException', function (err) {
  emit('uncaught', 'driver', [err && err.stack ? err.stack : String(err)]);
});

emit('ready', 'driver', [Primus.version || require('primus/package.json').version]);
