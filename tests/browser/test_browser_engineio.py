"""
The browser library's engine.io transport (our own Engine.IO v4 client) in
headless Chromium against a primus-tx server using the engine.io
transformer: polling only (``websockets: false``) and polling then upgrade.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

OPENED = "() => window.log && window.log.includes('open')"
ARGS = ("--transformer", "engine.io", "--transport", '{"ping_interval": 0.5, "ping_timeout": 1}')


def _until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def connect(page: Any, options: str = "{}") -> None:
    page.evaluate(
        f"() => {{ window.primus = new Primus({options}); window.log = record(window.primus);"
        " window.got = []; window.primus.on('data', (d) => window.got.push(d)); }"
    )


@pytest.mark.parametrize("websockets", [False, True])
def test_engineio_echo_and_end(server_factory: Any, page_factory: Any, websockets: bool) -> None:
    server = server_factory(*ARGS)
    page = page_factory(server.url)
    connect(page, "{websockets: %s}" % ("true" if websockets else "false"))
    page.wait_for_function(OPENED)
    expected = "websocket" if websockets else "polling"
    page.wait_for_function(f"() => window.primus.socket && window.primus.socket.transport === '{expected}'")
    sparks = server.control("sparks")
    assert sparks == [page.evaluate("() => window.primus.socket.id")]
    values = ["hello", {"n": [1, 2.5]}, "h\u00e9llo \u2603", 0, None]
    page.evaluate("(values) => values.forEach((v) => window.primus.write(v))", values)
    page.wait_for_function(f"() => window.got.length === {len(values)}")
    assert page.evaluate("() => window.got") == values
    assert server.control("stats")["received"] == values
    # Heartbeats (Engine.IO pings every 0.5 s) keep the session up.
    page.wait_for_timeout(1600)
    assert page.evaluate("() => window.primus.readyState") == 3
    assert server.control("sparks") == sparks
    server.control("write", data='"broadcast"')
    page.wait_for_function("() => window.got.includes('broadcast')")
    page.evaluate("() => window.primus.end()")
    _until(lambda: server.control("sparks") == [])
    log = page.evaluate("() => window.log.slice()")
    assert log[:3] == ["readyStateChange:opening", "readyStateChange:open", "open"]
    assert log[-2:] == ["close", "end"]


def test_engineio_server_end_and_reconnect(server_factory: Any, page_factory: Any) -> None:
    server = server_factory(*ARGS)
    page = page_factory(server.url)
    connect(page, "{websockets: false, reconnect: {min: 100, max: 200}}")
    page.wait_for_function(OPENED)
    first = server.control("sparks")
    server.control("end", reconnect=1)
    page.wait_for_function("() => window.log.includes('reconnected')")
    second = server.control("sparks")
    assert len(second) == 1 and second != first
    server.control("end")
    page.wait_for_function("() => window.log.includes('end')")
    assert "reconnect scheduled" in page.evaluate("() => window.log")
