// Runs a built primus-tx browser library in a Node vm sandbox with a fake
// WebSocket and a virtual clock, so the client's state machine can be
// tested deterministically and fast.
//
// stdin: JSON {library: "<source>", script: "<js>"}; the script runs in the
// sandbox with `clock.tick(ms)`, `sockets` (every FakeWebSocket made) and
// must assign `result`, printed as JSON on stdout.
'use strict';

const vm = require('vm');

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const { library, script } = JSON.parse(input);
  const timers = [];
  let now = 1700000000000;
  let nextId = 1;
  const clock = {
    setTimeout(fn, ms) {
      const timer = { id: nextId++, at: now + (ms || 0), fn };
      timers.push(timer);
      return timer.id;
    },
    clearTimeout(id) {
      const at = timers.findIndex((t) => t.id === id);
      if (at !== -1) timers.splice(at, 1);
    },
    tick(ms) {
      const until = now + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at || a.id - b.id);
        if (!timers.length || timers[0].at > until) break;
        const timer = timers.shift();
        now = timer.at;
        timer.fn();
      }
      now = until;
    },
    pending() { return timers.length; },
  };

  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closed = false;
      sockets.push(this);
    }
    send(data) { this.sent.push(data); }
    close() { this.closed = true; this.readyState = 3; }
    open() { this.readyState = 1; if (this.onopen) this.onopen({}); }
    message(data) { if (this.onmessage) this.onmessage({ data }); }
    fail() {
      this.readyState = 3;
      if (this.onerror) this.onerror({});
      if (this.onclose) this.onclose({ code: 1006 });
    }
    drop() { this.readyState = 3; if (this.onclose) this.onclose({ code: 1005 }); }
  }
  FakeWebSocket.OPEN = 1;

  const sandbox = {
    WebSocket: FakeWebSocket,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    URL,
    clock,
    sockets,
    result: undefined,
    console,
  };
  vm.createContext(sandbox);
  vm.runInContext('Date.now = function () { return ' + 'clockNow(); };', Object.assign(sandbox, {
    clockNow: () => now,
  }));
  vm.runInContext(library, sandbox, { filename: 'primus.js' });
  vm.runInContext(script, sandbox, { filename: 'script.js' });
  process.stdout.write(JSON.stringify(sandbox.result === undefined ? null : sandbox.result));
});
