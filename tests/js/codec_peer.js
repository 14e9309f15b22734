'use strict';
/*
 * codec_peer.js — the npm codecs Primus 8.0.9 runs (primus-msgpack →
 * msgpack-lite 0.1.26, binary-pack → binarypack 0.0.4 and its browser
 * build js-binarypack 0.0.9, ejson 2.2.3) side by side with primus-tx's own
 * browser codec, for tests/codecs.py.
 *
 * stdin: one JSON object {"parser": "msgpack"|"binary"|"ejson",
 *   "ours": "<primus-tx's browser codec: the parser's library() source>",
 *   "encode": [tagged value, ...],      (tests/js/values.js)
 *   "decode": [{"hex": ..} | {"text": ..}, ...]}
 * stdout: one JSON object {"encode": [{"npm": packet, "ours": packet,
 *   "browser"?: packet}], "decode": [{"npm": tagged, "ours": tagged,
 *   "browser"?: tagged}]}, where a packet is {"hex"} or {"text"} and a
 * failure is {"error": message}.
 */

const vm = require('vm');
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

function ourCodec(source) {
  // Our codec runs in a fresh context, as in a browser: no Node Buffer.
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

async function packet(codec, value) {
  try {
    let out = codec.encode(value);
    // js-binarypack builds a Blob (Node has one too), read here at once
    if (typeof Blob !== 'undefined' && out instanceof Blob) out = await out.arrayBuffer();
    return hexOf(primusText(out));
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
process.stdin.on('end', async () => {
  const job = JSON.parse(input);
  const npm = npmCodec(job.parser);
  const ours = ourCodec(job.ours);
  const browser = job.parser === 'binary' ? browserBinary() : null;
  const result = { encode: [], decode: [] };
  for (const tagged of job.encode || []) {
    const value = build(tagged);
    const row = { npm: await packet(npm, value), ours: await packet(ours, value) };
    if (browser) row.browser = await packet(browser, value);
    result.encode.push(row);
  }
  for (const p of job.decode || []) {
    const row = { npm: decoded(npm, p, false), ours: decoded(ours, p, true) };
    if (browser) row.browser = decoded(browser, p, true);
    result.decode.push(row);
  }
  process.stdout.write(JSON.stringify(result));
});
