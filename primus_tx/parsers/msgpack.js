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
  var utf8 = typeof TextEncoder !== 'undefined' ? new TextEncoder() : null;
  var text = typeof TextDecoder !== 'undefined' ? new TextDecoder('utf-8') : null;

  function classOf(name) {
    return typeof global[name] === 'function' ? global[name] : null;
  }

  // -- writing -------------------------------------------------------------

  function Writer() {
    this.bytes = new Uint8Array(256);
    this.view = new DataView(this.bytes.buffer);
    this.at = 0;
  }

  Writer.prototype.room = function room(n) {
    if (this.at + n <= this.bytes.length) return;
    var size = this.bytes.length * 2;
    while (size < this.at + n) size *= 2;
    var next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.at));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  };

  Writer.prototype.u8 = function u8(b) { this.room(1); this.bytes[this.at++] = b; };
  Writer.prototype.tag = function tag(t, size, value) {
    this.room(1 + size);
    this.bytes[this.at++] = t;
    if (size === 1) this.view.setUint8(this.at, value);
    else if (size === 2) this.view.setUint16(this.at, value);
    else if (size === 4) this.view.setUint32(this.at, value);
    this.at += size;
  };
  Writer.prototype.raw = function raw(bytes) {
    this.room(bytes.length);
    this.bytes.set(bytes, this.at);
    this.at += bytes.length;
  };

  function encodeUtf8(s) {
    if (utf8) return utf8.encode(s);
    var out = [], i, c, d;
    for (i = 0; i < s.length; i++) {
      c = s.charCodeAt(i);
      if (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.length
        && (d = s.charCodeAt(i + 1)) >= 0xDC00 && d <= 0xDFFF) {
        c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
        i++;
      } else if (c >= 0xD800 && c <= 0xDFFF) {
        c = 0xFFFD;
      }
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xC0 | c >> 6, 0x80 | c & 63);
      else if (c < 0x10000) out.push(0xE0 | c >> 12, 0x80 | c >> 6 & 63, 0x80 | c & 63);
      else out.push(0xF0 | c >> 18, 0x80 | c >> 12 & 63, 0x80 | c >> 6 & 63, 0x80 | c & 63);
    }
    return new Uint8Array(out);
  }

  function viewBytes(view) {
    return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  }

  function writeNumber(w, v) {
    var i = v | 0;
    if (v !== i) {
      w.room(9);
      w.bytes[w.at++] = 0xcb;
      w.view.setFloat64(w.at, v);
      w.at += 8;
    } else if (i >= -32 && i <= 127) w.u8(i & 0xff);
    else if (i >= 0) {
      if (i <= 0xff) w.tag(0xcc, 1, i);
      else if (i <= 0xffff) w.tag(0xcd, 2, i);
      else w.tag(0xce, 4, i);
    } else if (i >= -0x80) { w.u8(0xd0); w.u8(i & 0xff); }
    else if (i >= -0x8000) { w.room(3); w.bytes[w.at++] = 0xd1; w.view.setInt16(w.at, i); w.at += 2; }
    else { w.room(5); w.bytes[w.at++] = 0xd2; w.view.setInt32(w.at, i); w.at += 4; }
  }

  // msgpack-lite never uses the 8-bit length for exactly 255 bytes.
  function writeBin(w, bytes) {
    var n = bytes.length;
    if (n < 255) w.tag(0xc4, 1, n);
    else if (n <= 0xffff) w.tag(0xc5, 2, n);
    else w.tag(0xc6, 4, n);
    w.raw(bytes);
  }

  function writeExt(w, type, payload) {
    var n = payload.length;
    var fixed = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 }[n];
    if (fixed) w.u8(fixed);
    else if (n < 255) w.tag(0xc7, 1, n);
    else if (n <= 0xffff) w.tag(0xc8, 2, n);
    else w.tag(0xc9, 4, n);
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
    if (typeof DataView !== 'undefined' && value instanceof DataView) return [0x1D, viewBytes(value), true];
    for (i = 0; i < TYPED.length; i++) {
      Class = classOf(TYPED[i][1]);
      if (Class && value instanceof Class) return [TYPED[i][0], viewBytes(value), true];
    }
    return null;
  }

  function write(w, value, depth) {
    var type = typeof value, i, n, keys, bytes;
    if (type === 'string') {
      bytes = encodeUtf8(value);
      n = bytes.length;
      if (n < 32) w.u8(0xa0 | n);
      else if (n <= 0xff) w.tag(0xd9, 1, n);
      else if (n <= 0xffff) w.tag(0xda, 2, n);
      else w.tag(0xdb, 4, n);
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
      else if (n <= 0xffff) w.tag(0xdc, 2, n);
      else w.tag(0xdd, 4, n);
      for (i = 0; i < n; i++) write(w, value[i], depth + 1);
      return;
    }
    if (NodeBuffer && NodeBuffer.isBuffer(value)) return writeBin(w, viewBytes(value));
    var ext = extOf(value);
    if (ext) {
      var inner = ext[2] ? ext[1] : encode(ext[1]);
      return writeExt(w, ext[0], inner);
    }
    keys = Object.keys(value);
    n = keys.length;
    if (n < 16) w.u8(0x80 | n);
    else if (n <= 0xffff) w.tag(0xde, 2, n);
    else w.tag(0xdf, 4, n);
    for (i = 0; i < n; i++) {
      write(w, keys[i], depth + 1);
      write(w, value[keys[i]], depth + 1);
    }
  }

  function encode(value) {
    var w = new Writer();
    write(w, value, 0);
    return w.bytes.slice(0, w.at);
  }

  // -- reading -------------------------------------------------------------

  function Reader(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = 0;
  }

  Reader.prototype.need = function need(n) {
    if (n > this.bytes.length - this.at) throw new Error('BUFFER_SHORTAGE');
    var at = this.at;
    this.at += n;
    return at;
  };
  Reader.prototype.take = function take(n) {
    var at = this.need(n);
    return this.bytes.subarray(at, at + n);
  };

  function decodeUtf8(bytes) {
    if (text) return text.decode(bytes);
    var out = '', i = 0, c, n, extra;
    while (i < bytes.length) {
      c = bytes[i++];
      extra = c >= 0xF0 && c < 0xF8 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c < 0xE0 ? 1 : c < 0x80 ? 0 : -1;
      if (extra < 0 || i + extra > bytes.length) { out += '\ufffd'; continue; }
      n = extra ? c & (0x3F >> extra) : c;
      for (var k = 0; k < extra; k++) {
        if ((bytes[i] & 0xC0) !== 0x80) { n = -1; break; }
        n = n << 6 | bytes[i++] & 63;
      }
      if (n < 0 || n > 0x10FFFF) out += '\ufffd';
      else out += String.fromCodePoint(n);
    }
    return out;
  }

  function copy(bytes) {
    var out = new Uint8Array(bytes.length);
    out.set(bytes);
    return out;
  }

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
    if (type === 0x1A) return copy(payload).buffer;
    if (type === 0x1B) return NodeBuffer ? NodeBuffer.from(payload) : copy(payload);
    if (type === 0x1D) return new DataView(copy(payload).buffer);
    for (i = 0; i < TYPED.length; i++) {
      if (TYPED[i][0] !== type) continue;
      Class = classOf(TYPED[i][1]);
      if (Class && payload.length % Class.BYTES_PER_ELEMENT === 0) return new Class(copy(payload).buffer);
    }
    throw new Error('Unknown msgpack extension type 0x' + type.toString(16));
  }

  function readArray(r, n, depth) {
    if (n > r.bytes.length - r.at) throw new Error('BUFFER_SHORTAGE');
    var out = new Array(n);
    for (var i = 0; i < n; i++) out[i] = read(r, depth + 1);
    return out;
  }

  function readMap(r, n, depth) {
    if (n * 2 > r.bytes.length - r.at) throw new Error('BUFFER_SHORTAGE');
    var out = {};
    for (var i = 0; i < n; i++) {
      var key = String(read(r, depth + 1)), value = read(r, depth + 1);
      if (key !== '__proto__') out[key] = value;
    }
    return out;
  }

  function read(r, depth) {
    if (depth > MAX_DEPTH) throw new Error('msgpack: data nested too deep');
    var t = r.bytes[r.need(1)], at, n;
    if (t < 0x80) return t;
    if (t < 0x90) return readMap(r, t & 0x0f, depth);
    if (t < 0xa0) return readArray(r, t & 0x0f, depth);
    if (t < 0xc0) return decodeUtf8(r.take(t & 0x1f));
    if (t >= 0xe0) return t - 0x100;
    switch (t) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return copy(r.take(r.bytes[r.need(1)]));
      case 0xc5: return copy(r.take(r.view.getUint16(r.need(2))));
      case 0xc6: return copy(r.take(r.view.getUint32(r.need(4))));
      case 0xc7: n = r.bytes[r.need(1)]; break;
      case 0xc8: n = r.view.getUint16(r.need(2)); break;
      case 0xc9: n = r.view.getUint32(r.need(4)); break;
      case 0xca: return r.view.getFloat32(r.need(4));
      case 0xcb: return r.view.getFloat64(r.need(8));
      case 0xcc: return r.bytes[r.need(1)];
      case 0xcd: return r.view.getUint16(r.need(2));
      case 0xce: return r.view.getUint32(r.need(4));
      case 0xcf: at = r.need(8); return r.view.getUint32(at) * 4294967296 + r.view.getUint32(at + 4);
      case 0xd0: return r.view.getInt8(r.need(1));
      case 0xd1: return r.view.getInt16(r.need(2));
      case 0xd2: return r.view.getInt32(r.need(4));
      case 0xd3: at = r.need(8); return r.view.getInt32(at) * 4294967296 + r.view.getUint32(at + 4);
      case 0xd4: n = 1; break;
      case 0xd5: n = 2; break;
      case 0xd6: n = 4; break;
      case 0xd7: n = 8; break;
      case 0xd8: n = 16; break;
      case 0xd9: return decodeUtf8(r.take(r.bytes[r.need(1)]));
      case 0xda: return decodeUtf8(r.take(r.view.getUint16(r.need(2))));
      case 0xdb: return decodeUtf8(r.take(r.view.getUint32(r.need(4))));
      case 0xdc: return readArray(r, r.view.getUint16(r.need(2)), depth);
      case 0xdd: return readArray(r, r.view.getUint32(r.need(4)), depth);
      case 0xde: return readMap(r, r.view.getUint16(r.need(2)), depth);
      case 0xdf: return readMap(r, r.view.getUint32(r.need(4)), depth);
      default: throw new Error('Invalid type: 0x' + t.toString(16));
    }
    var type = r.bytes[r.need(1)];
    return fromExt(type, r.take(n));
  }

  function decode(data) {
    var bytes;
    if (typeof ArrayBuffer !== 'undefined' && data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (data && typeof data === 'object' && typeof data.byteLength === 'number' && data.buffer) {
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      throw new Error('msgpack messages are binary; got ' + typeof data);
    }
    return read(new Reader(bytes), 0);
  }

  return { encode: encode, decode: decode };
})();

function encoder(data, fn) { settle(msgpack.encode, data, fn); }
function decoder(data, fn) { settle(msgpack.decode, data, fn); }

// Primus's parser contract: fn(error, result), never a throw.
function settle(work, data, fn) {
  var result, error;
  try { result = work(data); } catch (e) { error = e; }
  fn(error, result);
}
