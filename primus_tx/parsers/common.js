// primus-tx parsers, browser side: what every codec of primus-tx shares
// (Primus's parser contract, and byte buffers for the binary formats).
// Written for primus-tx; prepended to the parser's own source.

// Primus's parser contract: fn(error, result), never a throw.
function settle(work, data, fn) {
  var result, error;
  try { result = work(data); } catch (e) { error = e; }
  fn(error, result);
}

var utf8Encoder = typeof TextEncoder !== 'undefined' ? new TextEncoder() : null;
var utf8Decoder = typeof TextDecoder !== 'undefined' ? new TextDecoder('utf-8') : null;

// UTF-8, a lone surrogate as U+FFFD (as TextEncoder and Node do).
function encodeUtf8(s) {
  if (utf8Encoder) return utf8Encoder.encode(s);
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

// Invalid sequences as U+FFFD, as Node and the npm codecs read them: the
// WHATWG decoder's rules (as TextDecoder), so overlong forms, surrogates and
// values past U+10FFFF are replaced, one U+FFFD for each maximal bad prefix.
function decodeUtf8(bytes) {
  if (utf8Decoder) return utf8Decoder.decode(bytes);
  var out = '', i = 0, c, b, need, n, low, high;
  while (i < bytes.length) {
    c = bytes[i++];
    if (c < 0x80) { out += String.fromCharCode(c); continue; }
    low = 0x80; high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) { need = 1; n = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) {
      need = 2; n = c & 0x0F;
      if (c === 0xE0) low = 0xA0; else if (c === 0xED) high = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3; n = c & 0x07;
      if (c === 0xF0) low = 0x90; else if (c === 0xF4) high = 0x8F;
    } else { out += '\ufffd'; continue; }
    // A byte that does not continue the sequence is read again after it.
    while (need && i < bytes.length && (b = bytes[i]) >= low && b <= high) {
      n = n << 6 | b & 0x3F;
      i++; need--; low = 0x80; high = 0xBF;
    }
    if (need) out += '\ufffd';
    else if (n < 0x10000) out += String.fromCharCode(n);
    else out += String.fromCharCode(0xD800 + (n - 0x10000 >> 10), 0xDC00 + (n - 0x10000 & 0x3FF));
  }
  return out;
}

// The bytes an ArrayBuffer or a view (typed array, DataView, Buffer)
// holds, or null.
function bytesOf(value) {
  if (typeof ArrayBuffer === 'undefined' || !value || typeof value !== 'object') return null;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return null;
}

function copyBytes(bytes) {
  var out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}

// A growing big-endian byte buffer.
function ByteWriter() {
  this.bytes = new Uint8Array(256);
  this.view = new DataView(this.bytes.buffer);
  this.at = 0;
}

ByteWriter.prototype.room = function room(n) {
  if (this.at + n <= this.bytes.length) return;
  var size = this.bytes.length * 2;
  while (size < this.at + n) size *= 2;
  var next = new Uint8Array(size);
  next.set(this.bytes.subarray(0, this.at));
  this.bytes = next;
  this.view = new DataView(next.buffer);
};
ByteWriter.prototype.u8 = function u8(b) { this.room(1); this.bytes[this.at++] = b & 0xff; };
// A tag byte, then `value` in `size` bytes: unsigned, or `signed`; size 8
// is a float64.
ByteWriter.prototype.put = function put(tag, size, value, signed) {
  this.room(1 + size);
  this.bytes[this.at++] = tag;
  var v = this.view, at = this.at;
  if (size === 1) { if (signed) v.setInt8(at, value); else v.setUint8(at, value); }
  else if (size === 2) { if (signed) v.setInt16(at, value); else v.setUint16(at, value); }
  else if (size === 4) { if (signed) v.setInt32(at, value); else v.setUint32(at, value); }
  else v.setFloat64(at, value);
  this.at += size;
};
ByteWriter.prototype.raw = function raw(bytes) {
  this.room(bytes.length);
  this.bytes.set(bytes, this.at);
  this.at += bytes.length;
};
ByteWriter.prototype.done = function done() { return this.bytes.slice(0, this.at); };

// Reads a byte buffer; `shortage` is the message when it runs out (and
// before anything is allocated for a count the buffer cannot hold).
function ByteReader(bytes, shortage) {
  this.bytes = bytes;
  this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  this.at = 0;
  this.shortage = shortage;
}

ByteReader.prototype.need = function need(n) {
  if (n > this.bytes.length - this.at) throw new Error(this.shortage);
  var at = this.at;
  this.at += n;
  return at;
};
ByteReader.prototype.take = function take(n) {
  var at = this.need(n);
  return this.bytes.subarray(at, at + n);
};
ByteReader.prototype.expect = function expect(items) {
  if (items > this.bytes.length - this.at) throw new Error(this.shortage);
};
// The number tags MessagePack and BinaryPack share (0xca-0xd3): float32,
// float64, uint8-64, int8-64; 64-bit integers as the nearest double.
ByteReader.prototype.number = function number(t) {
  var v = this.view, at;
  switch (t) {
    case 0xca: return v.getFloat32(this.need(4));
    case 0xcb: return v.getFloat64(this.need(8));
    case 0xcc: return v.getUint8(this.need(1));
    case 0xcd: return v.getUint16(this.need(2));
    case 0xce: return v.getUint32(this.need(4));
    case 0xcf: at = this.need(8); return v.getUint32(at) * 4294967296 + v.getUint32(at + 4);
    case 0xd0: return v.getInt8(this.need(1));
    case 0xd1: return v.getInt16(this.need(2));
    case 0xd2: return v.getInt32(this.need(4));
    default: at = this.need(8); return v.getInt32(at) * 4294967296 + v.getUint32(at + 4);
  }
};
// `n` values read with `read(reader, depth)`, as an array; or `n` key and
// value pairs as an object (keys as property names, "__proto__" dropped, as
// JavaScript's own readers do).
ByteReader.prototype.array = function array(read, n, depth) {
  this.expect(n);
  var out = new Array(n);
  for (var i = 0; i < n; i++) out[i] = read(this, depth + 1);
  return out;
};
ByteReader.prototype.map = function map(read, n, depth) {
  this.expect(n * 2);
  var out = {};
  for (var i = 0; i < n; i++) {
    var key = String(read(this, depth + 1)), value = read(this, depth + 1);
    if (key !== '__proto__') out[key] = value;
  }
  return out;
};

// The first value of a binary message, read with `read(reader, depth)`.
function readMessage(data, format, shortage, read) {
  var bytes = bytesOf(data);
  if (!bytes) throw new Error(format + ' messages are binary; got ' + typeof data);
  return read(new ByteReader(bytes, shortage), 0);
}
