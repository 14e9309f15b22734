// Node Primus 8 under test: websockets transformer (ws), JSON parser, the
// echo application spark.on('data', spark.write).  {"broadcast": x} is
// written to every spark instead (S3).  Prints "PORT <n>" once listening.
// With --rooms, primus-rooms (S6): {"join": room} joins and is answered
// with {"joined": room}; {"broadcast": x, "room": r} writes to room r and
// {"broadcast": x, "rooms": [...]} to those rooms (each member once).
'use strict';

const http = require('http');
const path = require('path');
const Primus = require(path.join(__dirname, '..', '..', 'tests', 'js', 'node_modules', 'primus'));

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const port = Number(arg('port', 0));
const ping = Number(arg('ping', 30));
const backlog = Number(arg('backlog', 4096));
const rooms = process.argv.indexOf('--rooms') >= 0;

const server = http.createServer();
const primus = new Primus(server, {
  transformer: 'websockets',
  pingInterval: ping > 0 ? ping * 1000 : false,
});
if (rooms) {
  primus.plugin('rooms', require(path.join(__dirname, '..', '..', 'tests', 'js', 'node_modules', 'primus-rooms')));
}

primus.on('connection', (spark) => {
  spark.on('data', (data) => {
    if (data && typeof data === 'object' && 'broadcast' in data) {
      if (rooms && data.room) primus.room(data.room).write(data.broadcast);
      else if (rooms && data.rooms) primus.room(data.rooms).write(data.broadcast);
      else primus.write(data.broadcast);
    } else if (rooms && data && typeof data === 'object' && 'join' in data) {
      spark.join(data.join, () => spark.write({ joined: data.join }));
    } else {
      spark.write(data);
    }
  });
});

server.listen(port, '127.0.0.1', backlog, () => {
  process.stdout.write('PORT ' + server.address().port + '\n');
});
