// primus-tx `substream` plugin, browser half: named streams over one
// connection, on the wire of the npm substream plugin 0.2.0, so pages and
// servers written for it keep working:
//
//   var chat = primus.substream('chat');
//   chat.on('data', function (message) {});
//   chat.write({ hello: 'chat' });
//   chat.end();
//
// A stream's messages are {"substream": name, "args": data}; the string
// "substream::end" as `args` ends it.  A message for a name this page has
// not opened stays ordinary `data` of the connection.
var END = 'substream::end';
var owns = Object.prototype.hasOwnProperty;

function SubStream(primus, name) {
  Primus.EventEmitter.call(this);
  this.stream = primus;       // the connection, until the stream ends
  this.primus = primus;
  this.name = name;
  this.readyState = primus.readyState;
}

SubStream.prototype = Object.create(Primus.EventEmitter.prototype);
SubStream.prototype.constructor = SubStream;
SubStream.OPENING = 1;
SubStream.CLOSED = 2;
SubStream.OPEN = 3;

// Through the connection's outgoing transforms (`this` is the stream),
// then out as an envelope by `_write`.
SubStream.prototype.write = function write(data) {
  if (!this.stream) return false;
  this.stream.transforms(this.stream, this, 'outgoing', data);
  return true;
};

SubStream.prototype._write = function _write(data) {
  if (!this.stream) return false;
  return this.stream._write({ substream: this.name, args: data });
};

// `received` is true when the peer ended the stream: nothing to tell it.
SubStream.prototype.end = function end(data, received) {
  var primus = this.stream;
  if (!primus || !primus.streams || primus.streams[this.name] !== this) return this;
  if (data !== undefined && data !== null) this.write(data);
  if (!received) this._write(END);
  delete primus.streams[this.name];
  this.stream = null;
  this.readyState = SubStream.CLOSED;
  this.emit('close');
  this.emit('end');
  this.removeAllListeners();
  return this;
};

// A message for this stream: through the connection's incoming transforms
// (with `this` the stream), then `data` on it.
SubStream.prototype.received = function received(args) {
  if (args === END) return this.end(undefined, true);
  this.stream.transforms(this.stream, this, 'incoming', args);
};

function claim(packet) {
  var streams = this.streams;
  var data = packet.data;
  if (!streams || !data || typeof data !== 'object') return;
  var name = data.substream;
  if (typeof name !== 'string' || !owns.call(streams, name)) return;
  streams[name].received(data.args);
  return false;
}

Primus.prototype.ark.substream = function substreamPlugin(primus) {
  primus.streams = {};
  primus.substream = function substream(name) {
    if (typeof name !== 'string') throw new TypeError('A substream name is a string');
    if (!owns.call(primus.streams, name)) primus.streams[name] = new SubStream(primus, name);
    return primus.streams[name];
  };
  primus.transform('incoming', claim);
  primus.on('readyStateChange', function mirror(reason) {
    for (var name in primus.streams) {
      if (!owns.call(primus.streams, name)) continue;
      primus.streams[name].readyState = primus.readyState;
      primus.streams[name].emit('readyStateChange', reason);
    }
  });
  primus.on('end', function ended() {
    var streams = primus.streams || {};
    for (var name in streams) {
      if (owns.call(streams, name)) streams[name].end(undefined, true);
    }
  });
};

Primus.$ = Primus.$ || {};
Primus.$.substream = { SubStream: SubStream };
