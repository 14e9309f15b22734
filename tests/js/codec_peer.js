'use strict';
/*
 * codec_peer.js — the npm codecs Primus 8.0.9 runs (primus-msgpack →
 * msgpack-lite 0.1.26, binary-pack → binarypack 0.0.4 and its browser
 * build js-binarypack 0.0.9, ejson 2.2.3) side by side with primus-tx's own
 * browser codec, for tests/codecs.py.
 *
 * stdin: one JSON object {"parser": "msgpack"|"binary"|"ejson",
 *   "ours": "<path of primus-tx's codec .js>",
 *   "encode": [tagged value, ...],      (tests/js/values.js)
 *   "decode": [{"hex": ..} | {"text": ..}, ...]}
 * stdout: one JSON object {"encode": [{"npm": packet, "ours": packet,
 *   "browser"?: packet}], "decode": [{"npm": tagged, "ours": tagged,
 *   "browser"?: tagged}]}, where a packet is {"hex"} or {"text"} and a
 * failure is {"error": message}.
 */

const vm = require('vm');
const fs = require('fs');
const { build, describe, hexOf } = require('./values');

function primusText(packet) {
  // What Primus does to every string packet, on both sides.
  return typeof packet === 'string'
    ? packet.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
    : packet;
}

function npmCodec(parser) {
  if (parser === 'msgpack') {
    const m = require('primus-msgpack');
    return {
      encode: (v) => m.encode(v),
      decode: (p) => m.decode(p instanceof ArrayBuffer ? new Uint8Array(p) : p)
    };
  }
  if (parser === 'binary') {
    const b = require('binary-pack');
    return { encode: (v) => b.pack(v), decode: (p) => b.unpack(p) };
  }
  if (parser === 'ejson') {
    const e = require('ejson');
    return { encode: (v) => e.stringify(v), decode: (p) => e.parse(p) };
  }
  throw new Error('unknown parser ' + parser);
}

function browserBinary() {
  // js-binarypack, as Primus pastes it into its browser library.
  const exports = {};
  (new Function(require('binary-pack').BrowserSource)).call(exports);
  const bp = exports.BinaryPack;
  return {
    encode: (v) => bp.pack(v),
    decode: (p) => bp.unpack(Buffer.isBuffer(p)
      ? p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength) : p)
  };
}

function ourCodec(path) {
  // Our codec runs in a fresh context, as in a browser: no Node Buffer.
  const source = fs.readFileSync(path, 'utf8');
  const context = vm.createContext({
    TextEncoder, TextDecoder, ArrayBuffer, DataView, Date, RegExp, atob, btoa,
    Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
    Uint32Array, Float32Array, Float64Array
  });
  vm.runInContext(source + '\nthis.__codec = { encoder: encoder, decoder: decoder };', context);
  const codec = context.__codec;
  function call(fn, value) {
    let out, failure;
    fn(value, (err, result) => { failure = err; out = result; });
    if (failure) throw failure;
    return out;
  }
  return {
    encode: (v) => call(codec.encoder, v),
    decode: (p) => call(codec.decoder, p)
  };
}

function packet(codec, value) {
  try {
    return hexOf(primusText(codec.encode(value)));
  } catch (err) {
    return { error: String(err && err.message) };
  }
}

function toInput(p, arrayBuffer) {
  if (p.text !== undefined) return p.text;
  const b = Buffer.from(p.hex, 'hex');
  if (!arrayBuffer) return b;
  const copy = new Uint8Array(b.length);
  copy.set(b);
  return copy.buffer;
}

function decoded(codec, p, arrayBuffer) {
  try {
    return describe(codec.decode(toInput(p, arrayBuffer)));
  } catch (err) {
    return { error: String(err && err.message) };
  }
}

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const job = JSON.parse(input);
  const npm = npmCodec(job.parser);
  const ours = ourCodec(job.ours);
  const browser = job.parser === 'binary' ? browserBinary() : null;
  const result = { encode: [], decode: [] };
  for (const tagged of job.encode || []) {
    const value = build(tagged);
    const row = { npm: packet(npm, value), ours: packet(ours, value) };
    if (browser) row.browser = packet(browser, value);
    result.encode.push(row);
  }
  for (const p of job.decode || []) {
    const row = { npm: decoded(npm, p, false), ours: decoded(ours, p, true) };
    if (browser) row.browser = decoded(browser, p, true);
    result.decode.push(row);
  }
  process.stdout.write(JSON.stringify(result));
});
