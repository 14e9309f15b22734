'use strict';
// Typed values for the parser tests, which JSON alone cannot carry (NaN,
// -0, Dates, bytes, key order): every value is a tagged array, the same in
// tests/codecs_helpers.py.
//   ["null"] ["bool", b] ["num", "<float64 hex>" | "nan"] ["str", s]
//   ["bytes", base64] ["typed", name, base64] ["date", "<float64 hex>"]
//   ["regexp", source, flags] ["list", [..]] ["dict", [[key, value], ..]]
// build() makes the JavaScript value (bytes: a Buffer in Node, a Uint8Array
// in a browser), describe() tags one.  Loaded by the Node drivers with
// require() and into browser pages as a script (as `window.typed`).
(function typedValues(exports) {
  var NodeBuffer = typeof Buffer !== 'undefined' ? Buffer : null;

  function numHex(n) {
    if (n !== n) return 'nan';
    var view = new DataView(new ArrayBuffer(8)), out = '';
    view.setFloat64(0, n);
    for (var i = 0; i < 8; i++) out += (view.getUint8(i) + 0x100).toString(16).slice(1);
    return out;
  }

  function hexNum(h) {
    if (h === 'nan') return NaN;
    var view = new DataView(new ArrayBuffer(8));
    for (var i = 0; i < 8; i++) view.setUint8(i, parseInt(h.substr(i * 2, 2), 16));
    return view.getFloat64(0);
  }

  function fromBase64(text) {
    var raw = atob(text), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function toBase64(bytes) {
    var raw = '';
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw);
  }

  function viewBytes(v) {
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }

  function build(t) {
    switch (t[0]) {
      case 'null': return null;
      case 'bool': case 'str': return t[1];
      case 'num': return hexNum(t[1]);
      case 'bytes': return NodeBuffer ? NodeBuffer.from(fromBase64(t[1])) : fromBase64(t[1]);
      case 'typed': return new globalThis[t[1]](fromBase64(t[2]).buffer);
      case 'date': return new Date(hexNum(t[1]));
      case 'regexp': return new RegExp(t[1], t[2]);
      case 'list': return t[1].map(build);
      case 'dict': {
        var out = {};
        t[1].forEach(function pair(p) { out[p[0]] = build(p[1]); });
        return out;
      }
      default: throw new Error('unknown tag ' + t[0]);
    }
  }

  function describe(v) {
    if (v === null || v === undefined) return ['null'];
    if (typeof v === 'boolean') return ['bool', v];
    if (typeof v === 'number') return ['num', numHex(v)];
    if (typeof v === 'string') return ['str', v];
    if (v instanceof ArrayBuffer) return ['bytes', toBase64(new Uint8Array(v))];
    if (v instanceof Uint8Array) return ['bytes', toBase64(viewBytes(v))];
    if (ArrayBuffer.isView(v)) return ['typed', v.constructor.name, toBase64(viewBytes(v))];
    if (v instanceof Date) return ['date', numHex(v.getTime())];
    if (v instanceof RegExp) return ['regexp', v.source, v.flags];
    if (Array.isArray(v)) return ['list', v.map(describe)];
    if (typeof v === 'object') {
      return ['dict', Object.keys(v).map(function key(k) { return [k, describe(v[k])]; })];
    }
    return ['other', String(v)];
  }

  // A packet as the tests compare it: {"text"} or {"hex"} (Node only).
  function hexOf(packet) {
    if (typeof packet === 'string') return { text: packet };
    if (packet instanceof ArrayBuffer) return { hex: NodeBuffer.from(packet).toString('hex') };
    return { hex: NodeBuffer.from(packet.buffer, packet.byteOffset, packet.byteLength).toString('hex') };
  }

  exports.build = build;
  exports.describe = describe;
  exports.hexOf = hexOf;
})(typeof module !== 'undefined' && module.exports ? module.exports : (window.typed = {}));
