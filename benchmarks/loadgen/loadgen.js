// The load generator: Node.js with the `ws` client (tests/js/node_modules),
// driven by JSON commands, one per line, on stdin; one JSON reply per
// command on stdout (lines starting {"progress": ...} are progress reports).
// Every reply carries the CPU this process used during the command
// (process.cpuUsage), so the runner can show the generator is not the
// bottleneck.  Timestamps are process.hrtime (CLOCK_MONOTONIC), which is
// shared by every process on the machine, so several generators can time
// one broadcast together.
//
// Protocols ("proto"):
//   primus  - Primus 8 websockets: JSON texts; answers "primus::ping::<t>"
//             with "primus::pong::<t>".
//   raw     - one JSON text per WebSocket message, nothing else.
//   socketio- Engine.IO 4 / Socket.IO 5 over a raw WebSocket: "0{..}" open,
//             "40" namespace connect, "2"/"3" ping/pong, '42["message",x]'.
//   eio     - primus-tx's engine.io transformer, WebSocket-only Engine.IO 4
//             (<pathname>/?EIO=4&transport=websocket): "0{..}" open, "2"/"3"
//             ping/pong, Primus JSON texts inside "4" message packets (its
//             "primus::ping::<t>" too, answered inside "4").
//   sockjs  - primus-tx's sockjs transformer over a SockJS session WebSocket
//             (<pathname>/<server>/<session>/websocket): "o" open, "h"
//             heartbeat, Primus JSON texts as strings in 'a[...]' frames; the
//             client sends JSON arrays of strings.
//   sockjs-raw - the sockjs transformer's raw <pathname>/websocket: the
//             primus protocol byte for byte on another URL.
//   primus-msgpack, primus-binary - Primus 8 websockets with the msgpack or
//             binary parser: binary frames written and read by the npm codecs
//             Primus runs (tests/js), the payload sized after encoding.
//   eio-polling - the engine.io transformer over HTTP long-polling only
//             (Engine.IO 4 payloads, packets joined by \x1e; one poll and
//             one POST in flight per connection).
//   bc      - the browserchannel transformer: a bind POST, one streaming
//             back channel (CI=0) and one forward POST in flight; Primus
//             JSON texts are the payloads of the back channel's arrays.
// The HTTP protocols are wrapped in an object with the `ws` methods the
// commands use (send, close, terminate), so every command runs unchanged.
'use strict';

const path = require('path');
const readline = require('readline');
const http = require('http');
const NODE_MODULES = path.join(__dirname, '..', '..', 'tests', 'js', 'node_modules');
const WebSocket = require(path.join(NODE_MODULES, 'ws'));

// The binary parsers' codecs, and how a Primus ping looks in each (a
// string: msgpack str8 0xbb.., BinaryPack str16 0xd8 0x00 0x1b..).
const CODECS = {
  'primus-msgpack': () => {
    const m = require(path.join(NODE_MODULES, 'primus-msgpack'));
    return { encode: (v) => m.encode(v), decode: (b) => m.decode(b), isText: (b) => b[0] >= 0xa0 && b[0] <= 0xbf };
  },
  'primus-binary': () => {
    const b = require(path.join(NODE_MODULES, 'binary-pack'));
    return { encode: (v) => b.pack(v), decode: (x) => b.unpack(x), isText: (x) => x[0] === 0xd8 };
  }
};
let codec = null;
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, noDelay: true });

const conns = [];          // open client connections, in order of opening
let connectFailures = 0;
let handler = null;       // the current command's message hook: (conn, text) => void

function now() { return process.hrtime.bigint(); }
function ns2ms(ns) { return Number(ns) / 1e6; }
function reply(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }
function progress(text) { reply({ progress: text }); }

// -- latency histogram: 1 % wide log buckets in microseconds; mergeable ------
const LOG_STEP = Math.log(1.01);
function histogram() { return new Map(); }
function record(h, micros) {
  const b = micros < 1 ? 0 : Math.floor(Math.log(micros) / LOG_STEP);
  h.set(b, (h.get(b) || 0) + 1);
}
function histJSON(h) { return Object.fromEntries(h); }

// -- protocol adapters --------------------------------------------------------
let sockjsSessions = 0;
function makeUrl(cfg) {
  if (codec) return cfg.url + '/primus?_primuscb=' + Date.now().toString(36);
  if (cfg.proto === 'primus') return cfg.url + '/primus?_primuscb=' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 8);
  if (cfg.proto === 'socketio') return cfg.url + '/socket.io/?EIO=4&transport=websocket';
  if (cfg.proto === 'eio') return cfg.url + '/primus/?EIO=4&transport=websocket';
  if (cfg.proto === 'sockjs-raw') return cfg.url + '/primus/websocket';
  if (cfg.proto === 'sockjs') {
    sockjsSessions += 1;
    const server = String(Math.floor(Math.random() * 1000)).padStart(3, '0');
    return cfg.url + '/primus/' + server + '/' + process.pid.toString(36) + 's' + sockjsSessions.toString(36) + '/websocket';
  }
  return cfg.url + '/';
}
// The WebSocket text that carries one Primus JSON text.
function frame(cfg, json) {
  if (cfg.proto === 'socketio') return '42["message",' + json + ']';
  if (cfg.proto === 'eio' || cfg.proto === 'eio-polling') return '4' + json;
  if (cfg.proto === 'sockjs') return JSON.stringify([json]);
  return json;
}
// What the message handler sees for an echo of `json`: the whole WebSocket
// text, except for sockjs, whose 'a[...]' frames are unpacked into their
// strings (one frame may carry several).
function echoLength(cfg, json) {
  return cfg.proto === 'sockjs' || HTTP_PROTOCOLS[cfg.proto] ? json.length : frame(cfg, json).length;
}
function isPrimusPing(text) {
  return text.charCodeAt(0) === 34 && text.startsWith('"primus::ping::');
}

// -- HTTP protocols -------------------------------------------------------------
// One request; `onData(text)` gets the body as it arrives (streaming), `done(status)` the end.
function request(cfg, method, pathAndQuery, body, onData, done) {
  const url = new URL(cfg.url + pathAndQuery);
  const req = http.request({
    agent, method, hostname: url.hostname, port: url.port, path: url.pathname + url.search,
    headers: body === null ? {} : { 'content-type': method === 'POST' && cfg.proto === 'bc' ? 'application/x-www-form-urlencoded' : 'text/plain;charset=UTF-8', 'content-length': Buffer.byteLength(body) },
  }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (text) => { if (onData) onData(text); });
    res.on('end', () => done(res.statusCode));
    res.on('error', () => done(0));
  });
  req.on('error', () => done(0));
  req.end(body === null ? undefined : body);
  return req;
}

// The `ws`-like face of one HTTP session: `deliver(text)` is each Primus
// text that arrives; `post(batch, done)` sends queued texts in one request.
function httpSession(conn, post, shut) {
  let queue = [], posting = false;
  function flush() {
    if (posting || !queue.length || conn.closed) return;
    const batch = queue; queue = []; posting = true;
    post(batch, () => { posting = false; flush(); });
  }
  return {
    send(text) { queue.push(text); flush(); },
    close() { shut(false); },
    terminate() { shut(true); },
  };
}

function openBrowserChannel(cfg, conn, deliver, ready, lost) {
  let rid = Math.floor(Math.random() * 100000), aid = -1, sid = null, maps = 0, buffer = '', back = null;
  const q = (params) => '/primus/bind?VER=8&' + params + '&t=1';
  function chunks(text) {
    buffer += text;
    for (;;) {
      const at = buffer.indexOf('\n');
      if (at < 0) return;
      const length = +buffer.slice(0, at);
      if (buffer.length < at + 1 + length) return;
      const arrays = JSON.parse(buffer.slice(at + 1, at + 1 + length));
      buffer = buffer.slice(at + 1 + length);
      for (const [id, data] of arrays) {
        aid = id;
        if (typeof data === 'string') deliver(data);
        else if (data[0] === 'c') { sid = data[1]; ready(); }
        else if (data[0] === 'stop') lost();
      }
    }
  }
  function backChannel() {
    if (conn.closed) return;
    buffer = '';
    back = request(cfg, 'GET', q('RID=rpc&CI=0&TYPE=xmlhttp&SID=' + sid + '&AID=' + aid), null, chunks,
      (status) => { if (status === 200) backChannel(); else lost(); });
  }
  request(cfg, 'POST', q('RID=' + (rid++)), 'count=0', chunks, (status) => {
    if (status !== 200 || sid === null) return lost();
    backChannel();
  });
  return httpSession(conn, (batch, done) => {
    let body = 'count=' + batch.length + '&ofs=' + maps;
    batch.forEach((text, n) => { body += '&req' + n + '__S=' + encodeURIComponent(text); });
    maps += batch.length;
    request(cfg, 'POST', q('SID=' + sid + '&RID=' + (rid++) + '&AID=' + aid), body, null,
      (status) => { if (status === 200) done(); else lost(); });
  }, (abort) => {
    if (back) back.destroy();
    if (abort || sid === null) return lost();
    request(cfg, 'GET', q('SID=' + sid + '&RID=' + (rid++) + '&TYPE=terminate'), null, null, () => lost());
  });
}

function openEngineIOPolling(cfg, conn, deliver, ready, lost) {
  let sid = null, poll = null;
  const q = () => '/primus/?EIO=4&transport=polling' + (sid ? '&sid=' + sid : '');
  let session;
  function packets(text) {
    for (const packet of text.split('\x1e')) {
      const c = packet.charCodeAt(0);
      if (c === 52) deliver(packet.slice(1));                     // "4" message
      else if (c === 50) session.send('3');                        // "2" ping
      else if (c === 49) return lost();                            // "1" close
    }
  }
  function polling() {
    if (conn.closed) return;
    let text = '';
    poll = request(cfg, 'GET', q(), null, (t) => { text += t; }, (status) => {
      if (status !== 200) return lost();
      packets(text);
      polling();
    });
  }
  let handshake = '';
  request(cfg, 'GET', q(), null, (t) => { handshake += t; }, (status) => {
    if (status !== 200 || handshake.charCodeAt(0) !== 48) return lost();
    sid = JSON.parse(handshake.slice(1)).sid;
    ready();
    polling();
  });
  session = httpSession(conn, (batch, done) => {
    request(cfg, 'POST', q(), batch.join('\x1e'), null, (status) => { if (status === 200) done(); else lost(); });
  }, (abort) => {
    if (poll) poll.destroy();
    if (abort || sid === null) return lost();
    request(cfg, 'POST', q(), '1', null, () => lost());
  });
  return session;
}

const HTTP_PROTOCOLS = { 'bc': openBrowserChannel, 'eio-polling': openEngineIOPolling };

function openHttp(cfg, keep) {
  return new Promise((resolve) => {
    const conn = { ws: null, ready: false, closed: false, sentAt: 0n, expect: 0 };
    let settled = false;
    const done = (ok) => { if (!settled) { settled = true; resolve(ok ? conn : null); } };
    const deliver = (text) => {
      if (isPrimusPing(text)) { conn.ws.send(frame(cfg, '"primus::pong::' + text.slice(15))); return; }
      if (handler !== null) handler(conn, text);
    };
    const lost = () => {
      if (conn.closed) return;
      conn.closed = true;
      done(false);
      if (keep) { const i = conns.indexOf(conn); if (i >= 0) conns.splice(i, 1); }
      if (conn.onclose) conn.onclose();
    };
    conn.ws = HTTP_PROTOCOLS[cfg.proto](cfg, conn, deliver, () => { conn.ready = true; done(true); }, lost);
  });
}

// Open one connection; resolves with the conn once it can carry data.
function open(cfg, keep) {
  if (HTTP_PROTOCOLS[cfg.proto]) return openHttp(cfg, keep);
  return new Promise((resolve) => {
    const ws = new WebSocket(makeUrl(cfg), { perMessageDeflate: false, handshakeTimeout: 30000 });
    const conn = { ws, ready: false, closed: false, sentAt: 0n, expect: 0 };
    let settled = false;
    const done = (ok) => { if (!settled) { settled = true; resolve(ok ? conn : null); } };
    ws.on('open', () => {
      // these three are ready once the server's open packet/frame arrives
      if (cfg.proto !== 'socketio' && cfg.proto !== 'eio' && cfg.proto !== 'sockjs') { conn.ready = true; done(true); }
    });
    ws.on('message', (buf, isBinary) => {
      if (codec) {
        if (isBinary && codec.isText(buf)) {
          const message = codec.decode(buf);
          if (typeof message === 'string' && message.startsWith('primus::ping::')) {
            ws.send(codec.encode('primus::pong::' + message.slice(14)));
            return;
          }
        }
        if (handler !== null) handler(conn, buf);
        return;
      }
      const text = buf.toString();
      if (cfg.proto === 'primus' || cfg.proto === 'sockjs-raw') {
        if (isPrimusPing(text)) {
          ws.send('"primus::pong::' + text.slice(15));
          return;
        }
      } else if (cfg.proto === 'eio') {
        const c = text.charCodeAt(0);
        if (c === 52) {                                          // "4" message
          if (text.charCodeAt(1) === 34 && text.startsWith('"primus::ping::', 1)) {
            ws.send('4"primus::pong::' + text.slice(16));
            return;
          }
        } else {
          if (c === 50) ws.send('3');                            // "2" ping
          else if (c === 48) { conn.ready = true; done(true); }  // "0{...}" open
          return;
        }
      } else if (cfg.proto === 'sockjs') {
        const c = text.charCodeAt(0);
        if (c === 111) { conn.ready = true; done(true); return; } // "o"
        if (c !== 97) return;                                      // "h", "c[..]"
        for (const message of JSON.parse(text.slice(1))) {
          if (isPrimusPing(message)) ws.send(JSON.stringify(['"primus::pong::' + message.slice(15)]));
          else if (handler !== null) handler(conn, message);
        }
        return;
      } else if (cfg.proto === 'socketio') {
        const c = text.charCodeAt(0);
        if (c === 50) { ws.send('3'); return; }                 // "2" ping
        if (c === 48) { ws.send('40'); return; }                // "0{...}" EIO open
        if (text.startsWith('40')) { conn.ready = true; done(true); return; }
        if (!text.startsWith('42')) return;
      }
      if (handler !== null) handler(conn, text);
    });
    ws.on('error', () => { done(false); });
    ws.on('close', () => {
      conn.closed = true;
      done(false);
      if (keep) { const i = conns.indexOf(conn); if (i >= 0) conns.splice(i, 1); }
      if (conn.onclose) conn.onclose();
    });
  });
}

async function connect(cfg, n, concurrency) {
  const started = now();
  let opened = 0, failed = 0, next = 0, lastReport = 0;
  async function worker() {
    while (next < n) {
      next += 1;
      const conn = await open(cfg, true);
      if (conn) { conns.push(conn); opened += 1; } else { failed += 1; }
      const t = Date.now();
      if (t - lastReport > 500) { lastReport = t; progress(`connecting ${opened + failed}/${n}`); }
    }
  }
  const workers = [];
  for (let i = 0; i < Math.min(concurrency, n); i++) workers.push(worker());
  await Promise.all(workers);
  connectFailures += failed;
  return { opened, failed, open: conns.length, seconds: ns2ms(now() - started) / 1000 };
}

function payload(size) {
  // {"p":"xxx..."} whose JSON text is exactly `size` bytes.
  const overhead = '{"p":""}'.length;
  return JSON.stringify({ p: 'x'.repeat(Math.max(0, size - overhead)) });
}

// Closed loop: each connection sends its next message when the echo of the
// previous one arrives.  Counts only what completes inside the window.
// {p: "xxx..."} whose encoding by `codec` is `size` bytes (or just over).
function binaryPayload(size) {
  let message = codec.encode({ p: '' });
  for (let n = 1; message.length < size; n++) message = codec.encode({ p: 'x'.repeat(n) });
  return message;
}

function echo(cfg, cmd) {
  return new Promise((resolve) => {
    const active = conns.slice(0, cmd.conns).filter((c) => !c.closed);
    const json = codec ? null : payload(cmd.size);
    const text = codec ? binaryPayload(cmd.size) : frame(cfg, json);
    const expectLength = codec ? text.length : echoLength(cfg, json);
    const h = histogram();
    let measuring = false, count = 0, bad = 0, stopped = false;
    handler = (conn, data) => {
      const t = now();
      if (measuring) {
        if (data.length !== expectLength) bad += 1;
        count += 1;
        record(h, Number(t - conn.sentAt) / 1000);
      }
      if (!stopped) { conn.sentAt = t; conn.ws.send(text); }
    };
    for (const c of active) { c.sentAt = now(); c.ws.send(text); }
    let cpu0, t0;
    setTimeout(() => {
      measuring = true; cpu0 = process.cpuUsage(); t0 = now();
      reply({ mark: 'start' });
      const tick = setInterval(() => progress(`echo ${cmd.conns}x${cmd.size}B: ${count} msgs`), 1000);
      setTimeout(() => {
        clearInterval(tick);
        const elapsed = Number(now() - t0) / 1e9;
        const cpu = process.cpuUsage(cpu0);
        measuring = false; stopped = true;
        reply({ mark: 'stop' });
        // let the in-flight echoes come home before the next command
        setTimeout(() => {
          handler = null;
          resolve({
            conns: active.length, size: cmd.size, messages: count, seconds: elapsed,
            rate: count / elapsed, bad, hist: histJSON(h),
            loadgen_cpu: (cpu.user + cpu.system) / 1e6 / elapsed,
          });
        }, 300);
      }, cmd.duration * 1000);
    }, cmd.warmup * 1000);
  });
}

// One broadcast: conns[0] asks the server to write {"id": n, "p": ...} to
// everyone (or, with `room`, to that room's members; with `rooms`, to
// those rooms' members); every connection timestamps its copy.  The
// runner takes the latest arrival across generators minus the send time.
function broadcast(cfg, cmd) {
  return new Promise((resolve) => {
    const marker = '"i":' + cmd.id + ',';
    const expected = cmd.room ? conns.filter((c) => c.room === cmd.room).length : conns.length;
    let pending = expected, last = 0n, received = 0;
    const sentAt = now();
    const timer = setTimeout(finish, cmd.wait * 1000);
    function finish() {
      clearTimeout(timer);
      handler = null;
      resolve({ received, expected, sent_ns: sentAt.toString(), last_ns: last.toString() });
    }
    handler = (conn, data) => {
      if (data.indexOf(marker) < 0) return;
      last = now(); received += 1; pending -= 1;
      if (pending === 0) finish();
    };
    if (!cmd.trigger) reply({ armed: true });
    else {
      const request = { broadcast: { i: cmd.id, p: 'x'.repeat(Math.max(0, cmd.size - 20)) } };
      if (cmd.room) request.room = cmd.room;
      if (cmd.rooms) request.rooms = cmd.rooms;
      const body = JSON.stringify(request);
      conns[0].ws.send(frame(cfg, body));
    }
    if (pending === 0) finish();
  });
}

// Rooms: connection i sends {"join": "r<i % rooms>"}; the server puts it
// in that room and answers {"joined": room}.  Resolves once every
// connection has its answer.
function join(cfg, cmd) {
  return new Promise((resolve) => {
    let pending = conns.length;
    const timer = setTimeout(() => { handler = null; resolve({ error: `${pending} joins unanswered` }); },
      (cmd.wait || 60) * 1000);
    handler = (conn, data) => {
      if (data.indexOf('"joined"') < 0) return;
      pending -= 1;
      if (pending === 0) { clearTimeout(timer); handler = null; resolve({ joined: conns.length }); }
    };
    conns.forEach((conn, i) => {
      conn.room = 'r' + (i % cmd.rooms);
      conn.ws.send(frame(cfg, JSON.stringify({ join: conn.room })));
    });
    if (pending === 0) { clearTimeout(timer); handler = null; resolve({ joined: 0 }); }
  });
}

// Churn: `concurrency` loops of connect, open, one echo, close.
async function churn(cfg, cmd) {
  const text = frame(cfg, payload(64));
  let cycles = 0, errors = 0;
  const deadline = Date.now() + cmd.duration * 1000;
  const cpu0 = process.cpuUsage(), t0 = now();
  async function loop() {
    while (Date.now() < deadline) {
      const conn = await open(cfg, false);
      if (!conn) { errors += 1; continue; }
      const ok = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), 10000);
        conn.onEcho = () => { clearTimeout(timer); resolve(true); };
        conn.onclose = () => { clearTimeout(timer); resolve(false); };
        conn.ws.send(text);
      });
      await new Promise((resolve) => {
        if (conn.closed) { resolve(); return; }
        conn.onclose = resolve;
        conn.ws.close();
      });
      if (ok) cycles += 1; else errors += 1;
    }
  }
  handler = (conn) => { if (conn.onEcho) { const f = conn.onEcho; conn.onEcho = null; f(); } };
  const tick = setInterval(() => progress(`churn: ${cycles} cycles`), 1000);
  const loops = [];
  for (let i = 0; i < cmd.concurrency; i++) loops.push(loop());
  await Promise.all(loops);
  clearInterval(tick);
  handler = null;
  const elapsed = Number(now() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { cycles, errors, seconds: elapsed, rate: cycles / elapsed, loadgen_cpu: (cpu.user + cpu.system) / 1e6 / elapsed };
}

async function closeAll() {
  const all = conns.splice(0, conns.length);
  await Promise.all(all.map((c) => new Promise((resolve) => {
    if (c.closed) { resolve(); return; }
    const timer = setTimeout(() => { c.ws.terminate(); resolve(); }, 5000);
    c.onclose = () => { clearTimeout(timer); resolve(); };
    c.ws.close();
  })));
  return { closed: all.length };
}

async function idle(cmd) {
  // Stay connected, answering heartbeats, for `seconds`.
  const cpu0 = process.cpuUsage(), t0 = now();
  await new Promise((r) => setTimeout(r, cmd.seconds * 1000));
  const elapsed = Number(now() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { open: conns.length, seconds: elapsed, loadgen_cpu: (cpu.user + cpu.system) / 1e6 / elapsed };
}

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  if (CODECS[cfg.proto]) codec = CODECS[cfg.proto]();
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const cmd = JSON.parse(line);
    let result;
    try {
      if (cmd.cmd === 'connect') result = await connect(cfg, cmd.n, cmd.concurrency || 100);
      else if (cmd.cmd === 'echo') result = await echo(cfg, cmd);
      else if (cmd.cmd === 'broadcast') result = await broadcast(cfg, cmd);
      else if (cmd.cmd === 'churn') result = await churn(cfg, cmd);
      else if (cmd.cmd === 'join') result = await join(cfg, cmd);
      else if (cmd.cmd === 'close') result = await closeAll();
      else if (cmd.cmd === 'idle') result = await idle(cmd);
      else if (cmd.cmd === 'exit') { reply({ ok: true }); process.exit(0); }
      else result = { error: 'unknown command ' + cmd.cmd };
    } catch (err) {
      result = { error: String(err && err.stack || err) };
    }
    reply(Object.assign({ ok: !result.error }, result));
  }
  process.exit(0);
}

main();
