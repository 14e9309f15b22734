// Named timers, so that "is the connect timer still running?" is a question
// the state machine can ask, and end() can cancel everything at once.
var MAX_DELAY = 2147483647; // setTimeout treats anything longer as 0

function Timers(owner) {
  this.owner = owner;
  this.pending = {};
}

Timers.prototype.setTimeout = function set(name, fn, ms) {
  var timers = this;
  timers.clear(name);
  timers.pending[name] = setTimeout(function fire() {
    delete timers.pending[name];
    fn.call(timers.owner);
  }, Math.min(Math.max(+ms || 0, 0), MAX_DELAY));
  return timers;
};

Timers.prototype.active = function active(name) {
  return Object.prototype.hasOwnProperty.call(this.pending, name);
};

// clear() cancels every timer; clear('a', 'b') only those.
Timers.prototype.clear = function clear() {
  var names = arguments.length ? Array.prototype.slice.call(arguments) : Object.keys(this.pending);
  for (var i = 0; i < names.length; i++) {
    if (this.active(names[i])) {
      clearTimeout(this.pending[names[i]]);
      delete this.pending[names[i]];
    }
  }
  return this;
};

// '30 seconds', '500 ms', 2000: the forms Primus's reconnect options accept.
var UNITS = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000, y: 31557600000 };

function duration(value, fallback) {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'number') return value;
  var match = /^\s*(-?\d*\.?\d+)\s*([a-z]*)\s*$/i.exec(String(value));
  if (!match) return fallback;
  var unit = match[2].toLowerCase();
  var scale = !unit || /^(ms|msecs?|milliseconds?)$/.test(unit) ? UNITS.ms
    : /^(s|secs?|seconds?)$/.test(unit) ? UNITS.s
    : /^(m|mins?|minutes?)$/.test(unit) ? UNITS.m
    : /^(h|hrs?|hours?)$/.test(unit) ? UNITS.h
    : /^(d|days?)$/.test(unit) ? UNITS.d
    : /^(w|weeks?)$/.test(unit) ? UNITS.w
    : /^(y|yrs?|years?)$/.test(unit) ? UNITS.y
    : null;
  return scale === null ? fallback : parseFloat(match[1]) * scale;
}
