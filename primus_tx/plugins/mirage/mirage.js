// primus-tx `mirage` plugin, browser half: a persistent session id given
// by the server, sent back with every connection, as the npm mirage 0.0.7
// does:
//
//   var primus = new Primus(url, { mirage: localStorage.id });
//   primus.on('mirage', function (id) { localStorage.id = id; });
//
// The id travels as the `_mirage` query parameter; the server sends it as
// the `mirage` event in the primus-emit ({"emit":["mirage",id]}) or the
// primus-emitter ({"type":0,"data":["mirage",id]}) wire, which is taken
// here whether or not an emit plugin is loaded.  Writes need not wait for
// the id: the server holds a connection's messages until it is settled.
function mirageOf(data) {
  if (!data || typeof data !== 'object') return undefined;
  var body = data.emit;
  if (Object.prototype.toString.call(body) !== '[object Array]') {
    body = data.type === 0 ? data.data : undefined;
  }
  if (Object.prototype.toString.call(body) !== '[object Array]') return undefined;
  if (body.length !== 2 || body[0] !== 'mirage' || typeof body[1] !== 'string') return undefined;
  return body[1];
}

Primus.prototype.ark.mirage = function miragePlugin(primus, options) {
  primus.mirage = (options && options.mirage) || '';
  primus.on('outgoing::url', function url(parts) {
    if (!primus.mirage) return;
    var query = primus.querystring(parts.query || '');
    query._mirage = primus.mirage;
    parts.query = primus.querystringify(query);
  });
  primus.transform('incoming', function learn(packet) {
    var id = mirageOf(packet.data);
    if (id === undefined) return;
    primus.mirage = id;
    // Straight to the listeners: an emit plugin's `emit` would send it on.
    Primus.EventEmitter.prototype.emit.call(primus, 'mirage', id);
    return false;
  });
};
