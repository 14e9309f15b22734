// primus-tx msgpack parser for the browser client: MessagePack in binary
// frames, written as msgpack-lite 0.1.26 (what Primus's msgpack parser runs)
// writes the same value, so every peer reads it.  Written for primus-tx.
//
// Numbers are integers only when they fit in 32 signed bits, float64
// otherwise; Date, RegExp, the Error classes, boxed primitives, typed
// arrays, ArrayBuffer and DataView are extension types; a Node Buffer is
// `bin`.  Decoding returns the first value (trailing bytes are ignored),
// `bin` as a Uint8Array, and refuses unknown extension types.
var msgpack = (function msgpackScope() {
  var TYPED = [
    [0x11, 'Int8Array'], [0x12, 'Uint8Array'], [0x13, 'Int16Array'],
    [0x14, 'Uint16Array'], [0x15, 'Int32Array'], [0x16, 'Uint32Array'],
    [0x17, 'Float32Array'], [0x18, 'Float64Array'], [0x19, 'Uint8ClampedArray']
  ];
  var ERRORS = [
    [0x01, 'EvalError'], [0x02, 'RangeError'], [0x03, 'ReferenceError'],
    [0x04, 'SyntaxError'], [0x05, 'TypeError'], [0x06, 'URIError'], [0x0E, 'Error']
  ];
  var ERROR_KEYS = ['name', 'message', 'stack', 'columnNumber', 'fileName', 'lineNumber'];
  var MAX_DEPTH = 10000;
  var global = typeof globalThis !== 'undefined' ? globalThis
    : typeof self !== 'undefined' ? self : typeof window !== 'undefined' ? window : {};
  var NodeBuffer = typeof global.Buffer === 'function' && global.Buffer.isBuffer ? global.Buffer : null;

  function classOf(name) {
    return typeof global[name] === 'function' ? global[name] : null;
  }

  // -- writing -------------------------------------------------------------

  function writeNumber(w, v) {
    var i = v | 0;
    if (v !== i) w.put(0xcb, 8, v);
    else if (i >= -32 && i <= 127) w.u8(i);
    else if (i >= 0) {
      if (i <= 0xff) w.put(0xcc, 1, i);
      else if (i <= 0xffff) w.put(0xcd, 2, i);
      else w.put(0xce, 4, i);
    } else if (i >= -0x80) w.put(0xd0, 1, i, true);
    else if (i >= -0x8000) w.put(0xd1, 2, i, true);
    else w.put(0xd2, 4, i, true);
  }

  // msgpack-lite never uses the 8-bit length for exactly 255 bytes.
  function writeBin(w, bytes) {
    var n = bytes.length;
    if (n < 255) w.put(0xc4, 1, n);
    else if (n <= 0xffff) w.put(0xc5, 2, n);
    else w.put(0xc6, 4, n);
    w.raw(bytes);
  }

  function writeExt(w, type, payload) {
    var n = payload.length;
    var fixed = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 }[n];
    if (fixed) w.u8(fixed);
    else if (n < 255) w.put(0xc7, 1, n);
    else if (n <= 0xffff) w.put(0xc8, 2, n);
    else w.put(0xc9, 4, n);
    w.u8(type);
    w.raw(payload);
  }

  function extOf(value) {
    var i, Class;
    if (value instanceof Date) return [0x0D, value.getTime()];
    if (value instanceof RegExp) return [0x0A, [value.source, value.flags]];
    if (value instanceof Boolean) return [0x0B, value.valueOf()];
    if (value instanceof String) return [0x0C, value.valueOf()];
    if (value instanceof Number) return [0x0F, value.valueOf()];
    for (i = 0; i < ERRORS.length; i++) {
      Class = classOf(ERRORS[i][1]);
      if (Class && value.constructor === Class) {
        var fields = {};
        for (var k = 0; k < ERROR_KEYS.length; k++) fields[ERROR_KEYS[k]] = value[ERROR_KEYS[k]];
        return [ERRORS[i][0], fields];
      }
    }
    if (typeof ArrayBuffer === 'undefined') return null;
    if (value instanceof ArrayBuffer) return [0x1A, new Uint8Array(value), true];
    if (typeof DataView !== 'undefined' && value instanceof DataView) return [0x1D, bytesOf(value), true];
    for (i = 0; i < TYPED.length; i++) {
      Class = classOf(TYPED[i][1]);
      if (Class && value instanceof Class) return [TYPED[i][0], bytesOf(value), true];
    }
    return null;
  }

  function write(w, value, depth) {
    var type = typeof value, i, n, keys, bytes;
    if (type === 'string') {
      bytes = encodeUtf8(value);
      n = bytes.length;
      if (n < 32) w.u8(0xa0 | n);
      else if (n <= 0xff) w.put(0xd9, 1, n);
      else if (n <= 0xffff) w.put(0xda, 2, n);
      else w.put(0xdb, 4, n);
      return w.raw(bytes);
    }
    if (type === 'number') return writeNumber(w, value);
    if (type === 'boolean') return w.u8(value ? 0xc3 : 0xc2);
    if (type === 'bigint') throw new Error('Unsupported type "bigint": ' + value);
    if (value === null || type !== 'object') return w.u8(0xc0);
    if (depth > MAX_DEPTH) throw new Error('msgpack: value nested too deep');
    if (Array.isArray(value)) {
      n = value.length;
      if (n < 16) w.u8(0x90 | n);
      else if (n <= 0xffff) w.put(0xdc, 2, n);
      else w.put(0xdd, 4, n);
      for (i = 0; i < n; i++) write(w, value[i], depth + 1);
      return;
    }
    if (NodeBuffer && NodeBuffer.isBuffer(value)) return writeBin(w, bytesOf(value));
    var ext = extOf(value);
    if (ext) {
      var inner = ext[2] ? ext[1] : encode(ext[1]);
      return writeExt(w, ext[0], inner);
    }
    keys = Object.keys(value);
    n = keys.length;
    if (n < 16) w.u8(0x80 | n);
    else if (n <= 0xffff) w.put(0xde, 2, n);
    else w.put(0xdf, 4, n);
    for (i = 0; i < n; i++) {
      write(w, keys[i], depth + 1);
      write(w, value[keys[i]], depth + 1);
    }
  }

  function encode(value) {
    var w = new ByteWriter();
    write(w, value, 0);
    return w.done();
  }

  // -- reading -------------------------------------------------------------

  function fromExt(type, payload) {
    var i, Class;
    if (type === 0x0D) return new Date(decode(payload));
    if (type === 0x0A) { var parts = decode(payload); return new RegExp(parts[0], parts[1]); }
    if (type === 0x0B || type === 0x0C || type === 0x0F) return Object(decode(payload));
    for (i = 0; i < ERRORS.length; i++) {
      if (ERRORS[i][0] !== type) continue;
      var fields = decode(payload), error = new (classOf(ERRORS[i][1]) || Error)();
      for (var k = 0; k < ERROR_KEYS.length; k++) error[ERROR_KEYS[k]] = fields[ERROR_KEYS[k]];
      return error;
    }
    if (type === 0x1A) return copyBytes(payload).buffer;
    if (type === 0x1B) return NodeBuffer ? NodeBuffer.from(payload) : copyBytes(payload);
    if (type === 0x1D) return new DataView(copyBytes(payload).buffer);
    for (i = 0; i < TYPED.length; i++) {
      if (TYPED[i][0] !== type) continue;
      Class = classOf(TYPED[i][1]);
      if (Class && payload.length % Class.BYTES_PER_ELEMENT === 0) return new Class(copyBytes(payload).buffer);
    }
    throw new Error('Unknown msgpack extension type 0x' + type.toString(16));
  }

  function read(r, depth) {
    if (depth > MAX_DEPTH) throw new Error('msgpack: data nested too deep');
    var t = r.bytes[r.need(1)], n;
    if (t < 0x80) return t;
    if (t < 0x90) return r.map(read, t & 0x0f, depth);
    if (t < 0xa0) return r.array(read, t & 0x0f, depth);
    if (t < 0xc0) return decodeUtf8(r.take(t & 0x1f));
    if (t >= 0xe0) return t - 0x100;
    if (t >= 0xca && t <= 0xd3) return r.number(t);
    switch (t) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return copyBytes(r.take(r.bytes[r.need(1)]));
      case 0xc5: return copyBytes(r.take(r.view.getUint16(r.need(2))));
      case 0xc6: return copyBytes(r.take(r.view.getUint32(r.need(4))));
      case 0xc7: n = r.bytes[r.need(1)]; break;
      case 0xc8: n = r.view.getUint16(r.need(2)); break;
      case 0xc9: n = r.view.getUint32(r.need(4)); break;
      case 0xd4: n = 1; break;
      case 0xd5: n = 2; break;
      case 0xd6: n = 4; break;
      case 0xd7: n = 8; break;
      case 0xd8: n = 16; break;
      case 0xd9: return decodeUtf8(r.take(r.bytes[r.need(1)]));
      case 0xda: return decodeUtf8(r.take(r.view.getUint16(r.need(2))));
      case 0xdb: return decodeUtf8(r.take(r.view.getUint32(r.need(4))));
      case 0xdc: return r.array(read, r.view.getUint16(r.need(2)), depth);
      case 0xdd: return r.array(read, r.view.getUint32(r.need(4)), depth);
      case 0xde: return r.map(read, r.view.getUint16(r.need(2)), depth);
      case 0xdf: return r.map(read, r.view.getUint32(r.need(4)), depth);
      default: throw new Error('Invalid type: 0x' + t.toString(16));
    }
    var type = r.bytes[r.need(1)];
    return fromExt(type, r.take(n));
  }

  function decode(data) {
    return readMessage(data, 'msgpack', 'BUFFER_SHORTAGE', read);
  }

  return { encode: encode, decode: decode };
})();

function encoder(data, fn) { settle(msgpack.encode, data, fn); }
function decoder(data, fn) { settle(msgpack.decode, data, fn); }

