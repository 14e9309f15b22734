// primus-tx `emitter` plugin, browser half: named events with
// acknowledgements, on the wire primus-emitter 3.1.1 uses, so that pages
// written for the npm plugin keep working:
//
//   primus.send('event', arg, ..., function ack(reply, ...) {});
//   primus.on('event', function (arg, ..., ack) { ack(reply); });
//
// Packets: {"type":0,"data":[event,...args],"id"?:n} and
// {"id":n,"type":1,"data":[...reply]}.  Anything else is left to the
// application's `data` listeners, which see every packet as with the npm
// plugin.  Acks still awaited are dropped when the connection is destroyed.
var EVENT = 0;
var ACK = 1;

function isArray(value) {
  return Object.prototype.toString.call(value) === '[object Array]';
}

function Emitter(primus) {
  this.primus = primus;
  this.next = 1;
  this.waiting = {};
}

Emitter.prototype.send = function send(args) {
  var packet = { type: EVENT, data: args };
  if (typeof args[args.length - 1] === 'function') {
    var id = this.next++;
    this.waiting[id] = args.pop();
    packet.id = id;
  }
  this.primus.write(packet);
};

Emitter.prototype.received = function received(packet) {
  if (!packet || typeof packet !== 'object' || !isArray(packet.data)) return;
  if (packet.id && typeof packet.id !== 'number') return;
  if (packet.type === EVENT) this.event(packet.data, packet.id);
  else if (packet.type === ACK) this.answer(packet.id, packet.data);
};

Emitter.prototype.event = function event(data, id) {
  var name = data[0];
  var primus = this.primus;
  if (typeof name !== 'string' || primus.reserved(name)) return;
  var args = data.slice();
  if (id) {
    var done = false;
    args.push(function ack() {
      if (done) return;
      done = true;
      primus.write({ id: id, type: ACK, data: Array.prototype.slice.call(arguments) });
    });
  }
  // Straight to the listeners: an `emit` plugin must not send it on.
  Primus.EventEmitter.prototype.emit.apply(primus, args);
};

Emitter.prototype.answer = function answer(id, data) {
  if (!Object.prototype.hasOwnProperty.call(this.waiting, id)) return;
  var fn = this.waiting[id];
  delete this.waiting[id];
  fn.apply(this.primus, data);
};

Primus.prototype.ark.emitter = function emitterPlugin(primus) {
  var emitter = primus.emitter = new Emitter(primus);
  primus.on('data', function emitterData(packet) { emitter.received(packet); });
  primus.on('destroy', function emitterDestroyed() { emitter.waiting = {}; });
};

Primus.prototype.send = function send(event) {
  if (/^(newListener|removeListener)/.test(event)) return this;
  this.emitter.send(Array.prototype.slice.call(arguments));
  return this;
};

Primus.$ = Primus.$ || {};
Primus.$.emitter = { Emitter: Emitter };
