'use strict';
/*
 * bcsocket_driver.js — the unmodified npm browserchannel (2.x) client,
 * BCSocket, against a BrowserChannel service, for primus-tx's interop tests
 * (tests/browserchannel/test_browserchannel_interop.py).
 *
 * Usage: node bcsocket_driver.js <base url> <options JSON> <message JSON list>
 *   options: BCSocket's (appVersion, extraParams, ...) plus "expect": how
 *   many messages to wait for (default: as many as were sent), "close":
 *   whether to close once they arrived (default true), "reopen": open a
 *   second session after the first one closes, with "prev" set.
 * Sends every message (strings with send(), anything else with send() too,
 * which BCSocket sends as a JSON map) right after construction (BCSocket may
 * send while connecting), and prints one JSON line: {"received": [...],
 * "events": [...], "errors": [...]}.  Exits by itself
 * after 12 s.
 */
const { BCSocket } = require('browserchannel');

const [base, optionsJson, messagesJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson || '{}');
const messages = JSON.parse(messagesJson || '[]');
const expect = options.expect === undefined ? messages.length : options.expect;
const result = { received: [], events: [], errors: [] };

function finish() {
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
}
setTimeout(() => { result.events.push('timeout'); finish(); }, 12000).unref();

function connect(prev, round) {
  const bcOptions = Object.assign({}, options, prev ? { prev } : {});
  delete bcOptions.expect; delete bcOptions.close; delete bcOptions.reopen;
  const socket = new BCSocket(base, bcOptions);
  for (const message of messages) socket.send(message);
  socket.onopen = () => {
    result.events.push('open');
    if (expect === 0 && options.close !== false) socket.close();
  };
  socket.onmessage = (event) => {
    result.received.push(event.data);
    if (result.received.length === expect * round && options.close !== false) socket.close();
  };
  socket.onerror = (message, code) => {
    result.errors.push([message, code]);
  };
  socket.onclose = (message) => {
    result.events.push('close:' + message);
    if (options.reopen && round === 1) return connect(socket, 2);
    // let the terminate request leave before exiting
    setTimeout(finish, 200);
  };
}
connect(null, 1);
