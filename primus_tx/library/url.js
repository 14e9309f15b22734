// URLs and query strings, as Primus builds them on the wire.

// yeast: Date.now() in a URL-safe base 64, with a ".<seed>" suffix when two
// ids are asked for in the same millisecond.  Used as the `_primuscb`
// cache buster so no proxy or back-forward cache replays a handshake.
var YEAST_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_';
var yeastPrevious = '';
var yeastSeed = 0;

function base64(number) {
  var text = '';
  do {
    text = YEAST_ALPHABET.charAt(number % 64) + text;
    number = Math.floor(number / 64);
  } while (number > 0);
  return text;
}

function yeast() {
  var now = base64(Date.now());
  if (now !== yeastPrevious) {
    yeastSeed = 0;
    yeastPrevious = now;
    return now;
  }
  return now + '.' + base64(yeastSeed++);
}

function decodePart(text) {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch (e) {
    return null;
  }
}

// "a=1&b=2" -> {a: '1', b: '2'}; the first of repeated keys wins.
function parseQuery(query) {
  var result = {};
  String(query || '').replace(/^[?#&]/, '').split('&').forEach(function each(part) {
    if (!part) return;
    var at = part.indexOf('=');
    var key = decodePart(at === -1 ? part : part.slice(0, at));
    var value = at === -1 ? '' : decodePart(part.slice(at + 1));
    if (key === null || value === null || Object.prototype.hasOwnProperty.call(result, key)) return;
    result[key] = value;
  });
  return result;
}

function stringifyQuery(object) {
  var pairs = [];
  Object.keys(object || {}).forEach(function each(key) {
    var value = object[key];
    if (value === null || value === undefined || (typeof value === 'number' && isNaN(value))) value = '';
    pairs.push(encodeURIComponent(key) + '=' + encodeURIComponent(value));
  });
  return pairs.join('&');
}

function defaultUrl() {
  try {
    if (location.origin && location.origin !== 'null') return location.origin;
    if (location.protocol && location.host) return location.protocol + '//' + location.host;
  } catch (e) { /* not a browser */ }
  return 'http://127.0.0.1';
}

// The parts of a URL Primus uses, resolved against the page for relative
// and protocol-relative addresses.  `query` keeps its leading "?".
function parseUrl(address) {
  var base;
  try { base = location.href; } catch (e) { base = undefined; }
  var url = base ? new URL(address, base) : new URL(address);
  var auth = '';
  if (url.username) {
    auth = decodeURIComponent(url.username) + (url.password ? ':' + decodeURIComponent(url.password) : '');
  }
  return {
    href: url.href,
    protocol: url.protocol,
    auth: auth,
    username: url.username,
    password: url.password,
    host: url.host,
    hostname: url.hostname,
    port: url.port,
    pathname: url.pathname,
    query: url.search,
    hash: url.hash,
    origin: url.origin
  };
}
