'use strict';
// How the Node test drivers put values into their NDJSON events and take
// them out of commands: bytes travel as {"$binary": "<base64>"}, errors as
// their message, functions not at all.  Shared by primus_client_driver.js
// and primus_server_driver.js so both ends speak the same encoding.

function toWire(value, skipKeys) {
  if (value === undefined) return null;
  if (Buffer.isBuffer(value)) return { $binary: value.toString('base64') };
  if (value instanceof ArrayBuffer) return { $binary: Buffer.from(value).toString('base64') };
  if (ArrayBuffer.isView(value)) {
    return {
      $binary: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
    };
  }
  if (value instanceof Error) return value.message;
  if (Array.isArray(value)) return value.map((item) => toWire(item, skipKeys));
  if (value && typeof value === 'object') {
    const out = {};
    for (const key of Object.keys(value)) {
      const item = value[key];
      if (typeof item === 'function') continue;
      if (skipKeys && skipKeys.has(key)) continue;
      out[key] = toWire(item, skipKeys);
    }
    return out;
  }
  if (typeof value === 'function') return null;
  return value;
}

function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '$binary' && typeof value.$binary === 'string') {
      return Buffer.from(value.$binary, 'base64');
    }
    const out = {};
    for (const key of keys) out[key] = fromWire(value[key]);
    return out;
  }
  return value;
}

module.exports = { toWire, fromWire };
