"""
``build_library`` and the client's state machine, without a browser: the
built library runs in Node's ``vm`` with a fake WebSocket and a virtual
clock (``library_harness.js``), so back-off delays and timeouts are exact.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import Clock

from primus_tx import PRIMUS_VERSION, Primus
from primus_tx.library import build_library, default_ping_timeout
from tests.conftest import require_tool

HARNESS = Path(__file__).parent / "library_harness.js"


def make_primus(**options: Any) -> Primus:
    return Primus(None, reactor=Clock(), **options)


def run(script: str, primus: Any = None) -> Any:
    node = require_tool("node")
    library = (primus if primus is not None else make_primus()).library()
    completed = subprocess.run(
        [node, str(HARNESS)],
        input=json.dumps({"library": library, "script": script}),
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


# A recorder like the browser tests' one.
RECORD = """
function record(primus) {
  var log = [];
  ['open', 'data', 'error', 'end', 'close', 'timeout', 'readyStateChange', 'online',
   'offline', 'reconnect scheduled', 'reconnect', 'reconnected', 'reconnect timeout',
   'reconnect failed'].forEach(function (name) {
    primus.on(name, function (arg) {
      if (name === 'readyStateChange') log.push(name + ':' + arg);
      else if (name === 'data') log.push('data:' + JSON.stringify(arg));
      else if (name === 'reconnect scheduled') log.push(name + ':' + arg.attempt + ':' + arg.scheduled);
      else log.push(name);
    });
  });
  return log;
}
"""


@pytest.mark.parametrize(
    ("interval", "expected"),
    [(30.0, 45000), (0.3, 450), (0.001, 2), (0, False), (2.5, 3750)],
)
def test_default_ping_timeout(interval: float, expected: Any) -> None:
    assert default_ping_timeout(interval) == expected


def test_compiled_settings_and_global_name() -> None:
    primus = make_primus(pathname="/realtime", ping_interval=0, global_name="Realtime")
    primus.authorize(lambda request: None)
    source = build_library(primus)
    assert source.startswith("/*! primus-tx browser client")
    result = run(
        "var P = this.Realtime; result = [typeof this.Primus, P.prototype.pathname,"
        " P.prototype.version, P.prototype.authorization, P.prototype.defaultPingTimeout,"
        " new P({manual: true}).options.strategy];",
        primus,
    )
    assert result == ["undefined", "/realtime", PRIMUS_VERSION, True, False, "disconnect,online"]


def test_plugin_library_runs_with_the_constructor() -> None:
    class Shout:
        library = (
            "Primus.prototype.ark.shout = function (primus) {"
            " primus.shout = function (t) { primus.write(String(t).toUpperCase()); }; };"
        )

        def server(self, primus: Any, options: Any) -> None:
            pass

    primus = make_primus()
    primus.plugin("shout", Shout())
    result = run("var p = new Primus({manual: true}); p.shout('hi'); result = p.buffer;", primus)
    assert result == ["HI"]


def test_backoff_delays_retries_and_failure_order() -> None:
    result = run(
        RECORD
        + """
        Math.random = function () { return 0.5; };
        var p = new Primus('http://example.test', {reconnect: {min: 100, max: 550, retries: 3}});
        var log = record(p);
        clock.tick(0);
        sockets[0].open();
        sockets[0].drop();
        for (var i = 0; i < 10; i++) {
          clock.tick(1000);
          var last = sockets[sockets.length - 1];
          if (!last.closed && last.readyState === 0) last.fail();
        }
        result = {log: log, sockets: sockets.length, pending: clock.pending()};
        """
    )
    scheduled = [e for e in result["log"] if e.startswith("reconnect scheduled")]
    # 100 exactly, then round(1.5 * 100 * 2^(n-1)) capped at max.
    assert scheduled == [
        "reconnect scheduled:1:100",
        "reconnect scheduled:2:300",
        "reconnect scheduled:3:550",
    ]
    assert result["sockets"] == 4
    assert "error" not in result["log"]
    assert result["log"][-3:] == ["end", "reconnect failed", "readyStateChange:end"]
    assert result["pending"] == 0


def test_connect_timeout_then_retry() -> None:
    result = run(
        RECORD
        + """
        var p = new Primus('http://example.test', {timeout: 250, reconnect: {min: 50}});
        var log = record(p);
        clock.tick(249);
        var before = log.slice();
        clock.tick(1);
        clock.tick(50);
        sockets[sockets.length - 1].open();
        result = {before: before, log: log, urls: sockets.map(function (s) { return s.url; })};
        """
    )
    assert result["before"] == ["readyStateChange:opening"]
    assert result["log"] == [
        "readyStateChange:opening",
        "timeout",
        "reconnect scheduled:1:50",
        "reconnect",
        "reconnected",
        "readyStateChange:open",
        "open",
    ]
    assert all(u.startswith("ws://example.test/primus?_primuscb=") for u in result["urls"])


def test_ping_is_answered_and_silence_is_offline() -> None:
    result = run(
        RECORD
        + """
        var p = new Primus('http://example.test', {pingTimeout: 1000, strategy: false});
        var log = record(p);
        clock.tick(0);
        sockets[0].open();
        clock.tick(900);
        sockets[0].message('"primus::ping::1234"');
        clock.tick(900);
        var alive = p.readyState === Primus.OPEN;
        clock.tick(100);
        result = {sent: sockets[0].sent, alive: alive, log: log, online: p.online};
        """
    )
    assert result["sent"] == ['"primus::pong::1234"']
    assert result["alive"] is True
    assert result["log"][-4:] == ["offline", "readyStateChange:end", "close", "end"]
    assert result["online"] is False


def test_protocol_messages_and_user_data() -> None:
    result = run(
        RECORD
        + """
        var p = new Primus('http://example.test', {pingTimeout: false});
        var log = record(p);
        var ids = [];
        p.id(function (id) { ids.push(id); });
        clock.tick(0);
        sockets[0].open();
        sockets[0].message('"primus::id::abc"');
        sockets[0].message('"primus::foo::bar"');
        sockets[0].message('not json');
        sockets[0].message('"primus::server::close"');
        sockets[0].drop();
        result = {ids: ids, sent: sockets[0].sent, log: log};
        """
    )
    assert result["ids"] == ["abc"]
    assert result["sent"] == ['"primus::id::"']
    assert result["log"] == [
        "readyStateChange:opening",
        "readyStateChange:open",
        "open",
        'data:"primus::foo::bar"',  # unknown primus:: messages are data
        "error",  # undecodable message: reported, connection kept
        "readyStateChange:end",
        "close",
        "end",
    ]


def test_transforms_context_errors_and_encoding() -> None:
    result = run(
        RECORD
        + """
        var p = new Primus('http://example.test', {pingTimeout: false});
        var log = record(p);
        var errors = [];
        p.on('error', function (e) { errors.push(e.message); });
        p.transform('outgoing', function (packet) { if (packet.data === 'drop') return false; });
        p.transform('outgoing', function (packet, next) { packet.data = [packet.data]; next(); });
        p.transform('incoming', function (packet) { packet.data = packet.data + '!'; });
        clock.tick(0);
        sockets[0].open();
        p.write('drop');
        p.write('keep');
        p.write(undefined);
        var circular = {}; circular.self = circular;
        p.write(circular);
        sockets[0].message('"in"');
        var thrown = null;
        try { Primus.prototype.write.call({}, 'x'); } catch (e) { thrown = e.message; }
        try { p.transform('sideways', function () {}); } catch (e) { thrown += ' / ' + e.message; }
        result = {sent: sockets[0].sent, log: log, errors: errors, thrown: thrown};
        """
    )
    assert result["sent"] == ['["keep"]', "[null]"]
    assert 'data:"in!"' in result["log"]
    assert any("circular" in e.lower() for e in result["errors"])
    assert "Invalid transformer type" in result["errors"]
    assert "Primus#write" in result["thrown"] and "context" in result["thrown"]


def test_end_is_emitted_once_and_destroy_cleans_up() -> None:
    result = run(
        RECORD
        + """
        var p = new Primus('http://example.test', {pingTimeout: 5000});
        var log = record(p);
        var destroyed = 0;
        p.on('destroy', function () { destroyed++; });
        clock.tick(0);
        sockets[0].open();
        p.end();
        p.end();
        var first = p.destroy();
        var second = p.destroy();
        result = {log: log, first: first, second: second, destroyed: destroyed,
                  pending: clock.pending(), closed: sockets[0].closed};
        """
    )
    assert result["log"].count("end") == 1
    assert result["first"] is True and result["second"] is False
    assert result["destroyed"] == 1
    assert result["pending"] == 0
    assert result["closed"] is True
