'use strict';
/*
 * primus_server_driver.js — a Node Primus 8 server (npm `primus` on Node's
 * `http`) driven over stdin/stdout, so that primus-tx's Python client can be
 * tested against the real thing (tests/nodepeer.py is the Python side).
 *
 * Usage: node primus_server_driver.js '<config JSON>'
 *
 * Config (every key optional):
 *   transformer   "websockets"          parser       "json"
 *   pingInterval  ms, or false          maxLength    bytes
 *   pathname      "/primus"             port         0 (pick a free one)
 *   (transformer: any Primus 8 ships whose module is in node_modules:
 *   websockets, engine.io, sockjs, browserchannel)
 *   echo          true: every `data` is written back to its spark
 *   authorization {"deny": {"status":401, "message":"..", "authenticate":".."}}
 *                 refuses every request (status -> err.statusCode);
 *                 {"allow": true, "delay": ms} accepts after `delay` ms;
 *                 {"deny_query": "key"} refuses when the query has `key`.
 *   options       extra options passed to `new Primus()` as they are.
 *   plugins       {"emitter": "primus-emitter", ...}: npm plugins (pinned in
 *                 package.json) added with primus.plugin(name, require(pkg)),
 *                 in this order, before any connection.
 *
 * Events (stdout, newline-delimited JSON): {"event":name,"args":[...],"t":ms}
 *   listening      [{"port":N}]  also as a top-level "port" key
 *   connection     [{"id","query","headers","address"}]
 *   data           [{"id","data","raw"}]
 *   heartbeat      [{"id"}]
 *   error          [{"id","message"}]
 *   end            [{"id"}]          the spark's own "end"
 *   disconnection  [{"id"}]          the server's "disconnection"
 *   log            [level, message]
 *   closed         [{}]              the HTTP server stopped listening
 *   destroyed      [{}]              primus.destroy() finished
 *   eval / eval error, command error [message]
 *
 * Commands (stdin, newline-delimited JSON):
 *   {"op":"write","id":..,"data":..}          spark.write(data)
 *   {"op":"raw","id":..,"data":..}            past the parser, to the socket:
 *        {"$binary": ..} becomes a binary frame, a string a text frame
 *        (spark.write(Buffer) would send JSON {"type":"Buffer",...})
 *   {"op":"broadcast","data":..}              primus.write(data)
 *   {"op":"end","id":..,"data"?:..,"reconnect"?:bool}
 *                                             spark.end(data, {reconnect})
 *   {"op":"destroy","reconnect"?:bool,"close"?:bool}
 *                                             primus.destroy({...}) -> "destroyed"
 *   {"op":"stop","sparks"?:"drop"|"keep"}     stop listening; by default the
 *        open connections are dropped too (their sockets destroyed, as a
 *        server crash would) -> "closed"
 *   {"op":"listen"}                           listen again on the same port,
 *        with a new Primus (Node Primus shuts down with its HTTP server)
 *                                             -> "listening"
 *   {"op":"eval","code":".."}                 async function body with
 *        `primus`, `server`, `sparks`, `emit`, `require` in scope
 *   {"op":"exit"}
 *
 * Bytes: Buffers in events are {"$binary": base64}; such objects in
 * commands' data become Buffers (sent as binary frames).
 */

const http = require('http');
const readline = require('readline');
const Primus = require('primus');

const started = process.hrtime.bigint();
const config = JSON.parse(process.argv[2] || '{}');
const sockets = new Set();
let port = config.port || 0;

function now() {
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const wire = require('./wire');
const { fromWire } = wire;
// The request backup Primus hides in the headers is not data.
const HIDDEN = new Set(['primus::req::backup']);
const toWire = (value) => wire.toWire(value, HIDDEN);

function emit(event, args, extra) {
  process.stdout.write(JSON.stringify(Object.assign({
    event: event,
    args: toWire(args || []),
    t: Math.round(now() * 1000) / 1000
  }, extra || {})) + '\n');
}

let server = null;
let primus = null;

function refusal(spec) {
  const err = new Error(spec.message || 'Unauthorized');
  if (spec.status) err.statusCode = spec.status;
  if (spec.authenticate) err.authenticate = spec.authenticate;
  return err;
}

/*
 * A fresh HTTP server and Primus.  Node Primus closes its transformer when
 * the HTTP server closes, so "listen" after "stop" needs a new Primus (on
 * the same port), just as a restarted Node process would have.
 */
function build() {
  server = http.createServer(function (req, res) {
    res.statusCode = 404;
    res.end('not primus');
  });
  server.on('connection', function (socket) {
    sockets.add(socket);
    socket.on('close', function () { sockets.delete(socket); });
  });
  server.on('error', function (err) { emit('server error', [err.message]); });

  const options = Object.assign({
    transformer: config.transformer || 'websockets',
    parser: config.parser || 'json',
    pathname: config.pathname || '/primus',
    iknowclusterwillbreakconnections: true
  }, config.options || {});
  if ('pingInterval' in config) options.pingInterval = config.pingInterval;
  if ('maxLength' in config) options.maxLength = config.maxLength;

  primus = new Primus(server, options);
  Object.keys(config.plugins || {}).forEach(function (name) {
    primus.plugin(name, require(config.plugins[name]));
  });

  const auth = config.authorization;
  if (auth) {
    primus.authorize(function (req, done) {
      if (auth.deny) return done(refusal(auth.deny));
      if (auth.deny_query && req.query && auth.deny_query in req.query) {
        return done(refusal({ status: 401, message: 'denied by query' }));
      }
      if (auth.delay) return setTimeout(done, auth.delay);
      done();
    });
  }

  primus.on('connection', function (spark) {
    emit('connection', [{
      id: spark.id,
      query: spark.query,
      headers: spark.headers,
      address: spark.address
    }]);
    spark.on('data', function (data, raw) {
      emit('data', [{ id: spark.id, data: data, raw: raw }]);
      if (config.echo !== false) spark.write(data);
    });
    spark.on('heartbeat', function () { emit('heartbeat', [{ id: spark.id }]); });
    spark.on('error', function (err) {
      emit('error', [{ id: spark.id, message: err && err.message }]);
    });
    spark.on('end', function () { emit('end', [{ id: spark.id }]); });
  });
  primus.on('disconnection', function (spark) { emit('disconnection', [{ id: spark.id }]); });
  primus.on('log', function (level) {
    const rest = Array.prototype.slice.call(arguments, 1).map(function (item) {
      return item && item.message !== undefined ? item.message : item;
    });
    emit('log', [level].concat(rest));
  });
}

function listen() {
  build();
  server.listen(port, '127.0.0.1', function () {
    port = server.address().port;
    emit('listening', [{ port: port }], { port: port });
  });
}

function sparkById(id) {
  const spark = primus.spark(id);
  if (!spark) throw new Error('no spark ' + JSON.stringify(id));
  return spark;
}

async function run(cmd) {
  switch (cmd.op) {
    case 'write':
      sparkById(cmd.id).write(fromWire(cmd.data));
      break;
    case 'raw':
      // Straight to the transport, past the parser: a Buffer becomes a
      // binary frame (the JSON parser would stringify it).
      sparkById(cmd.id).emit('outgoing::data', fromWire(cmd.data));
      break;
    case 'broadcast':
      primus.write(fromWire(cmd.data));
      break;
    case 'end':
      sparkById(cmd.id).end(
        'data' in cmd ? fromWire(cmd.data) : undefined,
        { reconnect: !!cmd.reconnect }
      );
      break;
    case 'destroy':
      primus.destroy({
        reconnect: !!cmd.reconnect,
        close: cmd.close === undefined ? true : !!cmd.close
      }, function () { emit('destroyed', [{}]); });
      break;
    case 'stop':
      server.close(function () { emit('closed', [{}]); });
      if (cmd.sparks !== 'keep') {
        sockets.forEach(function (socket) { socket.destroy(); });
      }
      break;
    case 'listen':
      listen();
      break;
    case 'eval': {
      const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
      const fn = new AsyncFunction('primus', 'server', 'sparks', 'emit', 'require', cmd.code);
      try {
        const result = await fn(primus, server, primus.connections, emit, require);
        emit('eval', [result]);
      } catch (err) {
        emit('eval error', [err && err.stack ? err.stack : String(err)]);
      }
      break;
    }
    case 'exit':
      sockets.forEach(function (socket) { socket.destroy(); });
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
    emit('command error', ['bad JSON: ' + err.message]);
    return;
  }
  run(cmd).catch(function (err) { emit('command error', [err && err.message]); });
});
lines.on('close', function () { process.exit(0); });

process.on('uncaughtException', function (err) {
  emit('uncaught', [err && err.stack ? err.stack : String(err)]);
});

listen();
