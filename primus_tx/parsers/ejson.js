// primus-tx ejson parser for the browser client: Meteor's EJSON in text
// frames, written as npm `ejson` 2.2.3 (what Primus's ejson parser runs)
// writes the same value.  Written for primus-tx.
//
// Date -> {"$date": ms}, Uint8Array -> {"$binary": base64}, NaN and the
// infinities -> {"$InfNaN": 0|1|-1}, RegExp -> {"$regexp", "$flags"}, an
// object with one or two keys that looks like one of those (or like
// {"$type","$value"} or {"$escape"}) -> {"$escape": {...}}.  Types added
// with Primus.EJSON.addType(name, factory) (instances with typeName() and
// toJSONValue()) travel as {"$type", "$value"}; an unknown $type is an error.
var EJSON = (function ejsonScope() {
  var types = {};
  var CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  var VALUES = {};
  for (var c = 0; c < CHARS.length; c++) VALUES[CHARS.charAt(c)] = c;
  var has = Object.prototype.hasOwnProperty;

  function only(obj, keys) {
    var own = Object.keys(obj);
    if (own.length !== keys.length) return false;
    for (var i = 0; i < keys.length; i++) if (!has.call(obj, keys[i])) return false;
    return true;
  }

  function looksLikeEJSON(obj) {
    return only(obj, ['$date']) || only(obj, ['$regexp', '$flags']) || only(obj, ['$InfNaN'])
      || only(obj, ['$binary']) || only(obj, ['$escape']) || only(obj, ['$type', '$value']);
  }

  function toBase64(bytes) {
    var out = '', i, n;
    for (i = 0; i + 2 < bytes.length; i += 3) {
      n = bytes[i] << 16 | bytes[i + 1] << 8 | bytes[i + 2];
      out += CHARS.charAt(n >> 18) + CHARS.charAt(n >> 12 & 63) + CHARS.charAt(n >> 6 & 63) + CHARS.charAt(n & 63);
    }
    if (bytes.length - i === 1) {
      n = bytes[i] << 16;
      out += CHARS.charAt(n >> 18) + CHARS.charAt(n >> 12 & 63) + '==';
    } else if (bytes.length - i === 2) {
      n = bytes[i] << 16 | bytes[i + 1] << 8;
      out += CHARS.charAt(n >> 18) + CHARS.charAt(n >> 12 & 63) + CHARS.charAt(n >> 6 & 63) + '=';
    }
    return out;
  }

  // Lenient, as the npm package: padding optional, unknown characters are
  // zero bits.
  function fromBase64(text) {
    if (typeof text !== 'string') throw new Error('EJSON $binary is not a string');
    var size = Math.floor(text.length * 3 / 4);
    if (text.charAt(text.length - 1) === '=') size -= text.charAt(text.length - 2) === '=' ? 2 : 1;
    var out = new Uint8Array(Math.max(size, 0)), at = 0, one = 0, two = 0, three = 0;
    for (var i = 0; i < text.length; i++) {
      var ch = text.charAt(i), v = ch === '=' ? -1 : has.call(VALUES, ch) ? VALUES[ch] : undefined;
      switch (i % 4) {
        case 0:
          if (v < 0) throw new Error('invalid base64 string');
          one = (v || 0) << 2;
          break;
        case 1:
          if (v < 0) throw new Error('invalid base64 string');
          one |= (v || 0) >> 4;
          out[at++] = one;
          two = ((v || 0) & 15) << 4;
          break;
        case 2:
          if (v >= 0) { two |= v >> 2; out[at++] = two; three = (v & 3) << 6; }
          break;
        default:
          if (v >= 0) out[at++] = three | v;
      }
    }
    return out;
  }

  function custom(value) {
    return value && typeof value.toJSONValue === 'function' && typeof value.typeName === 'function'
      && has.call(types, value.typeName());
  }

  // The value as plain JSON values (a new tree; the input is not changed).
  function toJSONValue(value) {
    var i, out, keys;
    if (typeof value === 'number') {
      if (value !== value) return { $InfNaN: 0 };
      if (value === Infinity) return { $InfNaN: 1 };
      if (value === -Infinity) return { $InfNaN: -1 };
      return value;
    }
    if (value === null || typeof value !== 'object') return value;
    if (value instanceof Date) return { $date: value.getTime() };
    if (value instanceof RegExp) return { $regexp: value.source, $flags: value.flags };
    if (typeof Uint8Array !== 'undefined' && value instanceof Uint8Array) return { $binary: toBase64(value) };
    if (custom(value)) return { $type: value.typeName(), $value: value.toJSONValue() };
    if (Array.isArray(value)) {
      out = new Array(value.length);
      for (i = 0; i < value.length; i++) out[i] = toJSONValue(value[i]);
      return out;
    }
    out = {};
    keys = Object.keys(value);
    for (i = 0; i < keys.length; i++) out[keys[i]] = toJSONValue(value[keys[i]]);
    return keys.length && keys.length <= 2 && looksLikeEJSON(value) ? { $escape: out } : out;
  }

  function fromJSONValue(value) {
    var i, keys, out;
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) {
      out = new Array(value.length);
      for (i = 0; i < value.length; i++) out[i] = fromJSONValue(value[i]);
      return out;
    }
    keys = Object.keys(value);
    if (keys.length <= 2 && keys.every(function dollar(k) { return k.charAt(0) === '$'; })) {
      if (only(value, ['$date'])) return new Date(value.$date);
      if (only(value, ['$regexp', '$flags'])) {
        return new RegExp(value.$regexp, String(value.$flags).slice(0, 50)
          .replace(/[^gimuy]/g, '').replace(/(.)(?=.*\1)/g, ''));
      }
      if (only(value, ['$InfNaN'])) return value.$InfNaN / 0;
      if (only(value, ['$binary'])) return fromBase64(value.$binary);
      if (only(value, ['$escape'])) {
        out = {};
        var inner = value.$escape, names = inner !== null && typeof inner === 'object' ? Object.keys(inner) : [];
        for (i = 0; i < names.length; i++) out[names[i]] = fromJSONValue(inner[names[i]]);
        return out;
      }
      if (only(value, ['$type', '$value'])) {
        if (!has.call(types, value.$type)) throw new Error('Custom EJSON type ' + value.$type + ' is not defined');
        return types[value.$type](value.$value);
      }
    }
    out = {};
    for (i = 0; i < keys.length; i++) {
      if (keys[i] !== '__proto__') out[keys[i]] = fromJSONValue(value[keys[i]]);
    }
    return out;
  }

  return {
    addType: function addType(name, factory) {
      if (has.call(types, name)) throw new Error('Type ' + name + ' already present');
      types[name] = factory;
    },
    stringify: function stringify(value) { return JSON.stringify(toJSONValue(value)); },
    parse: function parse(text) {
      if (typeof text !== 'string') throw new Error('EJSON.parse argument should be a string');
      return fromJSONValue(JSON.parse(text));
    }
  };
})();

if (typeof Primus !== 'undefined') Primus.EJSON = EJSON;

function encoder(data, fn) { settle(EJSON.stringify, data, fn); }
function decoder(data, fn) { settle(EJSON.parse, data, fn); }

