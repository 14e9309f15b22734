// primus-tx `multiplex` plugin, browser half: channels over one
// connection, on the wire of primus-multiplex 3.2.1, so pages written for
// the npm plugin keep working:
//
//   var news = primus.channel('news');
//   news.on('data', function (data) {});
//   news.write({ hello: 'news' });
//   news.end();
//
// Packets are arrays [type, id, channel, payload?]: 0 message,
// 1 subscribe, 2 unsubscribe; `id` is chosen here, per channel opened.
// Unlike the npm client, an array that is not a packet for a channel of
// this page is left to the application's `data` listeners instead of
// throwing, and falsy payloads other than null/undefined are sent.
var MESSAGE = 0;
var SUBSCRIBE = 1;
var UNSUBSCRIBE = 2;
var owns = Object.prototype.hasOwnProperty;

function isArray(value) {
  return Object.prototype.toString.call(value) === '[object Array]';
}

function channelId() {
  return Math.random().toString(35).slice(2, 13);
}

function packet(type, id, name, payload) {
  var pack = [type, id, name];
  if (payload !== undefined && payload !== null) pack.push(payload);
  return pack;
}

function Channel(primus, name) {
  Primus.EventEmitter.call(this);
  this.conn = primus;
  this.channel = name;
  this.id = channelId();
  this.readyState = primus.readyState;
  this.writable = true;
  this.readable = true;
}

Channel.prototype = Object.create(Primus.EventEmitter.prototype);
Channel.prototype.constructor = Channel;

Channel.prototype.key = function key() {
  return this.channel + '\u0000' + this.id;
};

Channel.prototype.subscribe = function subscribe() {
  this.conn.write(packet(SUBSCRIBE, this.id, this.channel));
  return this;
};

Channel.prototype.write = function write(data) {
  if (!this.writable) return false;
  return this.conn.write(packet(MESSAGE, this.id, this.channel, data));
};

Channel.prototype.end = function end(data) {
  if (!this.writable) return this;
  if (data !== undefined && data !== null) this.write(data);
  this.conn.write(packet(UNSUBSCRIBE, this.id, this.channel));
  return this.ended();
};

Channel.prototype.ended = function ended() {
  if (!this.writable) return this;
  this.writable = this.readable = false;
  var channels = this.conn.channels;
  if (channels && channels[this.key()] === this) delete channels[this.key()];
  this.emit('end');
  this.emit('close');
  this.removeAllListeners();
  return this;
};

function claim(packet) {
  var data = packet.data;
  var channels = this.channels;
  if (!channels || !this.channelNames || !isArray(data) || data.length < 3 || data.length > 4) return;
  var type = data[0];
  if (typeof data[1] !== 'string' || typeof data[2] !== 'string') return;
  var key = data[2] + '\u0000' + data[1];
  if (!owns.call(channels, key)) {
    // A channel name this page opened, not (or no longer) this id: the
    // server's answer to our own unsubscribe, say.  Dropped.
    return owns.call(this.channelNames, data[2]) ? false : undefined;
  }
  var channel = channels[key];
  if (type === MESSAGE) channel.emit('data', data.length === 4 ? data[3] : undefined);
  else if (type === UNSUBSCRIBE) channel.ended();
  else return;
  return false;
}

Primus.prototype.ark.multiplex = function multiplexPlugin(primus) {
  var reconnecting = false;
  primus.channels = {};
  primus.channelNames = {};
  primus.channel = function channel(name) {
    if (typeof name !== 'string' || !name) throw new TypeError('A channel name is a non-empty string');
    var made = new Channel(primus, name);
    primus.channelNames[name] = true;
    primus.channels[made.key()] = made;
    return made.subscribe();
  };
  primus.transform('incoming', claim);
  primus.on('reconnect', function () { reconnecting = true; });
  primus.on('open', function resubscribe() {
    if (!reconnecting) return;
    reconnecting = false;
    for (var key in primus.channels) {
      if (owns.call(primus.channels, key)) primus.channels[key].subscribe();
    }
  });
  primus.on('readyStateChange', function mirror() {
    for (var key in primus.channels) {
      if (owns.call(primus.channels, key)) primus.channels[key].readyState = primus.readyState;
    }
  });
  primus.on('end', function ended() {
    var channels = primus.channels || {};
    for (var key in channels) {
      if (owns.call(channels, key)) channels[key].ended();
    }
  });
};

Primus.$ = Primus.$ || {};
Primus.$.multiplex = { Channel: Channel };
