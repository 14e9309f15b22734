// A small EventEmitter: the browser has EventTarget, but Primus's API is the
// Node one (on/once/off/emit returning whether anybody listened), and
// plugins written for Primus expect exactly that.
function EventEmitter() {
  this._events = {};
}

EventEmitter.prototype._add = function add(event, fn, context, once) {
  if (typeof fn !== 'function') throw new TypeError('The listener must be a function');
  if (!this._events) this._events = {};
  (this._events[event] || (this._events[event] = [])).push({ fn: fn, context: context, once: once });
  return this;
};

EventEmitter.prototype.on = function on(event, fn, context) {
  return this._add(event, fn, context, false);
};
EventEmitter.prototype.addListener = EventEmitter.prototype.on;

EventEmitter.prototype.once = function once(event, fn, context) {
  return this._add(event, fn, context, true);
};

EventEmitter.prototype.removeListener = function removeListener(event, fn) {
  var list = this._events && this._events[event];
  if (!list) return this;
  if (!fn) {
    delete this._events[event];
    return this;
  }
  var kept = list.filter(function keep(entry) { return entry.fn !== fn; });
  if (kept.length) this._events[event] = kept;
  else delete this._events[event];
  return this;
};
EventEmitter.prototype.off = EventEmitter.prototype.removeListener;

EventEmitter.prototype.removeAllListeners = function removeAllListeners(event) {
  if (!this._events) return this;
  if (event === undefined) this._events = {};
  else delete this._events[event];
  return this;
};

EventEmitter.prototype.listeners = function listeners(event) {
  var list = this._events && this._events[event];
  return list ? list.map(function fnOf(entry) { return entry.fn; }) : [];
};

EventEmitter.prototype.listenerCount = function listenerCount(event) {
  var list = this._events && this._events[event];
  return list ? list.length : 0;
};

// Returns whether there were listeners.  The list is copied first so a
// listener that adds or removes listeners does not disturb this emit.
EventEmitter.prototype.emit = function emit(event) {
  var list = this._events && this._events[event];
  if (!list || !list.length) return false;
  var args = Array.prototype.slice.call(arguments, 1);
  var self = this;
  list.slice().forEach(function call(entry) {
    if (entry.once) {
      var current = self._events && self._events[event];
      if (!current || current.indexOf(entry) === -1) return;
      current.splice(current.indexOf(entry), 1);
      if (!current.length) delete self._events[event];
    }
    entry.fn.apply(entry.context || self, args);
  });
  return true;
};
