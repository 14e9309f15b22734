// A Node Primus 8 server for the browser tests: proves the primus-tx
// browser client also speaks to the official server.
//
//   node node_server.js <our-library.js>
//
// Prints "PORT <n>"; serves / (a page loading /ours.js, our client),
// /control/sparks, /control/end?reconnect=1, and echoes every message.
// Exits when stdin closes.
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

const primus = new Primus(server, { pingInterval: 300 });
primus.on('connection', (spark) => {
  spark.on('data', (data) => spark.write(data));
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write('PORT ' + server.address().port + '\n');
});

process.stdin.resume();
process.stdin.on('end', () => {
  primus.destroy({ timeout: 0 });
  process.exit(0);
});
