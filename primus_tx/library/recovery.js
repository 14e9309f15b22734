// Reconnection back-off, with the numbers and events of Primus's `recovery`
// module so that UIs written for Primus keep working:
//
// * attempt 1 waits exactly `min`; attempt n waits
//   min(round((random() + 1) * min * factor^(n-1)), max);
// * asking for attempt retries+1 fails with "Unable to recover";
// * each attempt has `reconnect timeout` ms to succeed.
//
// The attempt object (`opts`) is what every event carries.
function Recovery(options) {
  EventEmitter.call(this);
  options = options || {};
  this.attempt = null;
  this._done = null;
  this['reconnect timeout'] = duration(options['reconnect timeout'], 30000);
  this.retries = 'retries' in options ? +options.retries : 10;
  this.factor = 'factor' in options ? +options.factor : 2;
  this.max = duration(options.max, Infinity);
  this.min = duration(options.min, 500);
  this.timers = new Timers(this);
}

Recovery.prototype = Object.create(EventEmitter.prototype);
Recovery.prototype.constructor = Recovery;

Recovery.prototype.reconnecting = function reconnecting() {
  return !!this.attempt;
};

// Start (or continue) recovering; ignored while an attempt is waiting for
// its back-off timer.
Recovery.prototype.reconnect = function reconnect() {
  return this.backoff(this.attempt);
};

Recovery.prototype.backoff = function backoff(opts) {
  var recovery = this;
  opts = opts || recovery.attempt || {};
  if (opts.backoff) return recovery;

  ['reconnect timeout', 'retries', 'factor', 'max', 'min'].forEach(function fill(key) {
    if (!(key in opts)) opts[key] = recovery[key];
  });
  opts.start = +opts.start || Date.now();
  opts.duration = +opts.duration || 0;
  opts.attempt = +opts.attempt || 0;

  if (opts.attempt === opts.retries) {
    recovery.finish(new Error('Unable to recover'), opts);
    return recovery;
  }

  opts.backoff = true;
  opts.attempt++;
  recovery.attempt = opts;
  opts.scheduled = opts.attempt === 1
    ? opts.min
    : Math.min(Math.round((Math.random() + 1) * opts.min * Math.pow(opts.factor, opts.attempt - 1)), opts.max);

  recovery.timers.setTimeout('reconnect', function attempt() {
    opts.duration = Date.now() - opts.start;
    opts.backoff = false;
    recovery.timers.clear('reconnect', 'timeout');

    var settled = false;
    var done = recovery._done = function done(err) {
      if (settled) return;
      settled = true;
      recovery.reset();
      if (err) return recovery.backoff(opts);
      recovery.finish(undefined, opts);
    };

    // Armed before the event so that an attempt failing synchronously
    // (inside the listeners) cancels it through reset().
    recovery.timers.setTimeout('timeout', function tooSlow() {
      var err = new Error('Failed to reconnect in a timely manner');
      opts.duration = Date.now() - opts.start;
      recovery.emit('reconnect timeout', err, opts);
      done(err);
    }, opts['reconnect timeout']);

    recovery.emit('reconnect', opts, done);
  }, opts.scheduled);

  recovery.emit('reconnect scheduled', opts);
  return recovery;
};

Recovery.prototype.finish = function finish(err, opts) {
  opts.duration = Date.now() - opts.start;
  if (err) this.emit('reconnect failed', err, opts);
  else this.emit('reconnected', opts);
};

// The transport tells us how the current attempt went.
Recovery.prototype.reconnected = function reconnected(err) {
  if (this._done) this._done(err);
  return this;
};

Recovery.prototype.reset = function reset() {
  this._done = this.attempt = null;
  this.timers.clear('reconnect', 'timeout');
  return this;
};
