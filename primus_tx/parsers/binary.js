// primus-tx binary parser for the browser client: BinaryPack in binary
// frames, as Primus's binary parser uses it.  Written for primus-tx.
//
// Writes what node-binarypack writes (so the Primus server, Node clients
// and primus-tx read it), with the fixes primus-tx makes on every side:
// exact UTF-8 lengths, float64 as IEEE writes it, integers beyond 32 bits
// as float64 (readable everywhere), the bytes of a typed array view (not
// its whole buffer), an empty binary allowed.  Reads any BinaryPack; raw
// comes back as an ArrayBuffer, as js-binarypack gives it.
var BinaryPack = (function binaryScope() {
  var MAX_DEPTH = 10000;

  function header(w, fixed, tag16, count) {
    if (count < 16) w.u8(fixed | count);
    else if (count <= 0xffff) w.put(tag16, 2, count);
    else if (count <= 0xffffffff) w.put(tag16 + 1, 4, count);
    else throw new Error('Invalid length');
  }

  function writeNumber(w, v) {
    if (Math.floor(v) !== v || v === Infinity || v === -Infinity) return w.put(0xcb, 8, v);
    if (v >= -32 && v <= 127) return w.u8(v);
    if (v >= 0) {
      if (v <= 0xff) return w.put(0xcc, 1, v);
      if (v <= 0xffff) return w.put(0xcd, 2, v);
      if (v <= 0xffffffff) return w.put(0xce, 4, v);
    } else {
      if (v >= -0x80) return w.put(0xd0, 1, v, true);
      if (v >= -0x8000) return w.put(0xd1, 2, v, true);
      if (v >= -0x80000000) return w.put(0xd2, 4, v, true);
    }
    w.put(0xcb, 8, v);
  }

  function write(w, value, depth) {
    var type = typeof value, i, n, keys, bytes;
    if (type === 'string') {
      bytes = encodeUtf8(value);
      header(w, 0xb0, 0xd8, bytes.length);
      return w.raw(bytes);
    }
    if (type === 'number') return writeNumber(w, value);
    if (type === 'boolean') return w.u8(value ? 0xc3 : 0xc2);
    if (value === null || value === undefined) return w.u8(0xc0);
    if (type !== 'object') throw new Error('Type "' + type + '" not yet supported');
    if (depth > MAX_DEPTH) throw new Error('BinaryPack: value nested too deep');
    if (Array.isArray(value)) {
      header(w, 0x90, 0xdc, value.length);
      for (i = 0; i < value.length; i++) write(w, value[i], depth + 1);
      return;
    }
    bytes = bytesOf(value);
    if (bytes) {
      header(w, 0xa0, 0xda, bytes.length);
      return w.raw(bytes);
    }
    if (value instanceof Date) return write(w, String(value), depth);
    // Plain objects only (their prototype is the root one), in any realm.
    var proto = Object.getPrototypeOf(value);
    if (proto !== null && Object.getPrototypeOf(proto) !== null) {
      throw new Error('Type "' + (value.constructor && value.constructor.name) + '" not yet supported');
    }
    keys = Object.keys(value);
    header(w, 0x80, 0xde, keys.length);
    for (i = 0; i < keys.length; i++) {
      write(w, keys[i], depth + 1);
      write(w, value[keys[i]], depth + 1);
    }
  }

  function pack(value) {
    var w = new ByteWriter();
    write(w, value, 0);
    return w.done().buffer;
  }

  function rawOf(bytes) {
    return copyBytes(bytes).buffer;
  }

  function read(r, depth) {
    if (depth > MAX_DEPTH) throw new Error('BinaryPack: data nested too deep');
    var t = r.bytes[r.need(1)];
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 0x100;
    if (t < 0x90) return r.map(read, t & 0x0f, depth);
    if (t < 0xa0) return r.array(read, t & 0x0f, depth);
    if (t < 0xb0) return rawOf(r.take(t & 0x0f));
    if (t < 0xc0) return decodeUtf8(r.take(t & 0x0f));
    if (t >= 0xca && t <= 0xd3) return r.number(t);
    switch (t) {
      case 0xc0: case 0xc1: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xd8: return decodeUtf8(r.take(r.view.getUint16(r.need(2))));
      case 0xd9: return decodeUtf8(r.take(r.view.getUint32(r.need(4))));
      case 0xda: return rawOf(r.take(r.view.getUint16(r.need(2))));
      case 0xdb: return rawOf(r.take(r.view.getUint32(r.need(4))));
      case 0xdc: return r.array(read, r.view.getUint16(r.need(2)), depth);
      case 0xdd: return r.array(read, r.view.getUint32(r.need(4)), depth);
      case 0xde: return r.map(read, r.view.getUint16(r.need(2)), depth);
      case 0xdf: return r.map(read, r.view.getUint32(r.need(4)), depth);
      default: throw new Error('BinaryPack: unknown type byte 0x' + t.toString(16));
    }
  }

  function unpack(data) {
    return readMessage(data, 'BinaryPack', 'BinaryPack: read index out of range', read);
  }

  return { pack: pack, unpack: unpack };
})();

function encoder(data, fn) { settle(BinaryPack.pack, data, fn); }
function decoder(data, fn) { settle(BinaryPack.unpack, data, fn); }

