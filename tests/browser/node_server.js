// A Node Primus 8 server for the browser tests: proves the primus-tx
// browser client also speaks to the official server.
//
//   node node_server.js <our-library.js> [<plugins JSON> [<transformer>]]
//
// Prints "PORT <n>"; serves / (a page loading /ours.js, our client),
// /control/sparks, /control/end?reconnect=1, and echoes every message.
// Exits when stdin closes.
//
// With plugins ({"emitter": "primus-emitter", ...}, npm packages pinned in
// tests/js) it does not echo; it answers the plugin pages instead:
// emitter "add" acks with the sum, "join" joins a room (primus-rooms),
// "say" [room, text] sends "said" to the room; primus-emit "ping-emit" x
// comes back as "pong-emit" x; a primus-responder request is answered with
// {echo: data}.  /control/ask?data=JSON sends "ask" with an ack and
// /control/request?data=JSON a writeAndWait to every spark; the replies
// are listed by /control/answers.
'use strict';

const fs = require('fs');
const http = require('http');
const Primus = require('primus');

const library = fs.readFileSync(process.argv[2]);
const page = '<!doctype html><meta charset="utf-8"><script src="/ours.js"></script>';

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let body = null;
  let type = 'application/json';
  if (url.pathname === '/') {
    body = page;
    type = 'text/html';
  } else if (url.pathname === '/ours.js') {
    body = library;
    type = 'text/javascript';
  } else if (url.pathname === '/control/sparks') {
    const ids = [];
    primus.forEach((spark) => { ids.push(spark.id); });
    body = JSON.stringify(ids);
  } else if (url.pathname === '/control/ask' || url.pathname === '/control/request') {
    const data = JSON.parse(url.searchParams.get('data'));
    primus.forEach((spark) => {
      if (url.pathname === '/control/ask') spark.send('ask', data, (r) => answers.push(r));
      else spark.writeAndWait(data, (r) => answers.push(r));
    });
    body = 'true';
  } else if (url.pathname === '/control/answers') {
    body = JSON.stringify(answers);
  } else if (url.pathname === '/control/end') {
    const reconnect = url.searchParams.get('reconnect') === '1';
    primus.forEach((spark) => { spark.end(undefined, { reconnect }); });
    body = 'true';
  }
  if (body === null) {
    res.writeHead(404);
    return res.end();
  }
  res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
});

const plugins = JSON.parse(process.argv[3] || '{}');
const answers = [];
const primus = new Primus(server, { pingInterval: 300, transformer: process.argv[4] || 'websockets' });
Object.keys(plugins).forEach((name) => primus.plugin(name, require(plugins[name])));
primus.on('connection', (spark) => {
  if (!Object.keys(plugins).length) {
    spark.on('data', (data) => spark.write(data));
    return;
  }
  if (plugins.emitter) {
    spark.on('add', (a, b, ack) => ack(a + b));
    spark.on('join', (room, ack) => spark.join(room, () => ack(room)));
    spark.on('say', (room, text) => primus.room(room).send('said', text));
  }
  if (plugins.emit) spark.on('ping-emit', (x) => spark.emit('pong-emit', x));
  if (plugins.responder) spark.on('request', (data, done) => done({ echo: data }));
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write('PORT ' + server.address().port + '\n');
});

process.stdin.resume();
process.stdin.on('end', () => {
  primus.destroy({ timeout: 0 });
  process.exit(0);
});
