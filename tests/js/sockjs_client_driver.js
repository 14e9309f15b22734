'use strict';
/*
 * sockjs_client_driver.js — the unmodified npm sockjs-client (1.6) against a
 * SockJS service, over one transport, for primus-tx's interop tests
 * (tests/sockjs/test_sockjs_interop.py).
 *
 * Usage: node sockjs_client_driver.js <base url> <transport> <message JSON list>
 *   transport: websocket | xhr-streaming | xhr-polling | eventsource
 * Sends every message once open, waits for as many messages back, closes,
 * and prints one JSON line: {"transport": <the one used>, "received": [...],
 * "close": [code, reason], "events": [...]}.  Exits by itself after 8 s.
 */
const SockJS = require('sockjs-client');

const [base, transport, messagesJson] = process.argv.slice(2);
const messages = JSON.parse(messagesJson || '[]');
const result = { transport: null, received: [], close: null, events: [] };

function finish() {
  // exit only once the pipe has the line (stdout writes are asynchronous)
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
}
setTimeout(() => { result.events.push('timeout'); finish(); }, 8000).unref();

const sock = new SockJS(base, null, { transports: [transport] });
sock.onopen = () => {
  result.events.push('open');
  result.transport = sock.transport;
  if (!messages.length) return;
  for (const message of messages) sock.send(message);
};
sock.onmessage = (event) => {
  result.received.push(event.data);
  if (result.received.length === messages.length) sock.close(1000, 'done');
};
sock.onclose = (event) => {
  result.events.push('close');
  result.close = [event.code, event.reason];
  finish();
};
