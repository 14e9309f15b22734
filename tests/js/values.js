'use strict';
// Typed values for the parser tests, which JSON alone cannot carry (NaN,
// -0, Dates, bytes, key order): every value is a tagged array, the same in
// tests/codecs.py.
//   ["null"] ["bool", b] ["num", "<float64 hex>" | "nan"] ["str", s]
//   ["bytes", base64] ["typed", name, base64] ["date", "<float64 hex>"]
//   ["regexp", source, flags] ["list", [..]] ["dict", [[key, value], ..]]
// build() makes the JavaScript value, describe() tags one.

function numHex(n) {
  if (Number.isNaN(n)) return 'nan';
  const b = Buffer.alloc(8);
  b.writeDoubleBE(n);
  return b.toString('hex');
}

function hexNum(h) {
  return h === 'nan' ? NaN : Buffer.from(h, 'hex').readDoubleBE(0);
}

function build(t) {
  switch (t[0]) {
    case 'null': return null;
    case 'bool': return t[1];
    case 'num': return hexNum(t[1]);
    case 'str': return t[1];
    case 'bytes': return Buffer.from(t[1], 'base64');
    case 'u8': return new Uint8Array(Buffer.from(t[1], 'base64'));
    case 'typed': {
      const raw = Buffer.from(t[2], 'base64');
      const copy = new Uint8Array(raw.length);
      copy.set(raw);
      return new globalThis[t[1]](copy.buffer);
    }
    case 'date': return new Date(hexNum(t[1]));
    case 'regexp': return new RegExp(t[1], t[2]);
    case 'list': return t[1].map(build);
    case 'dict': {
      const out = {};
      for (const [key, value] of t[1]) out[key] = build(value);
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
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return ['bytes', Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')];
  if (v instanceof ArrayBuffer) return ['bytes', Buffer.from(v).toString('base64')];
  if (ArrayBuffer.isView(v)) {
    return ['typed', v.constructor.name, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')];
  }
  if (v instanceof Date) return ['date', numHex(v.getTime())];
  if (v instanceof RegExp) return ['regexp', v.source, v.flags];
  if (Array.isArray(v)) return ['list', v.map(describe)];
  if (typeof v === 'object') return ['dict', Object.keys(v).map((k) => [k, describe(v[k])])];
  return ['other', String(v)];
}

function hexOf(packet) {
  if (typeof packet === 'string') return { text: packet };
  if (packet instanceof ArrayBuffer) return { hex: Buffer.from(packet).toString('hex') };
  return { hex: Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength).toString('hex') };
}

module.exports = { build, describe, hexOf };
