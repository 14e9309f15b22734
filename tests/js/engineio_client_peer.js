'use strict';
/*
 * engineio_client_peer.js — the unmodified official `engine.io-client`
 * (npm) as a one-shot peer for primus-tx's engine.io interop tests.
 *
 * Usage: node engineio_client_peer.js '<config JSON>'
 *   url         "http://127.0.0.1:PORT"
 *   path        "/engine.io"
 *   transports  ["polling"] | ["websocket"] | ["polling","websocket"]
 *   upgrade     expect an upgrade before sending (default: when both transports)
 *   messages    list of strings or {"$binary": base64} to send; each must
 *               come back (the server echoes); then the client closes.
 * Output: one JSON line per event {"event":..,"args":[..]} on stdout:
 *   open [sid, transport], upgrade [transport], message [data], close [reason],
 *   error [message], done [transport at the end].
 * Exits 0 after "done", 1 on error or after 8 s.
 */
const { Socket } = require('engine.io-client');

const config = JSON.parse(process.argv[2]);
const out = (event, ...args) => process.stdout.write(JSON.stringify({ event, args }) + '\n');
const wire = (v) => (typeof v === 'string' ? v : { $binary: Buffer.from(v).toString('base64') });
const unwire = (v) => (typeof v === 'string' ? v : Buffer.from(v.$binary, 'base64'));

const transports = config.transports || ['polling', 'websocket'];
const wantUpgrade = 'upgrade' in config ? config.upgrade : transports.length > 1;
const socket = new Socket(config.url, { path: config.path || '/engine.io', transports });
const expected = (config.messages || []).length;
let received = 0;
let started = false;

function start() {
  if (started) return;
  started = true;
  if (!expected) return finish();
  for (const m of config.messages) socket.send(unwire(m));
}

function finish() {
  out('done', socket.transport.name);
  socket.close();
}

socket.on('open', () => {
  out('open', socket.id, socket.transport.name);
  if (!wantUpgrade) start();
});
socket.on('upgrade', (t) => { out('upgrade', t.name); start(); });
socket.on('message', (data) => {
  out('message', wire(data));
  received += 1;
  if (received === expected) finish();
});
socket.on('error', (e) => { out('error', String(e && e.message || e)); process.exit(1); });
socket.on('close', (reason) => { out('close', reason); process.exit(received === expected ? 0 : 1); });
setTimeout(() => { out('error', 'timeout'); process.exit(1); }, 8000).unref();
