"""
The browser client served at /primus/primus.js, in real headless Chromium
against a primus-tx server (docs/protocol/primus.rst).
"""

from __future__ import annotations

from typing import Any

from spec_orders import SERVER_ASKED_RECONNECT

OPENED = "() => window.log && window.log.includes('open')"


def connect(page: Any, options: str = "{}") -> None:
    """
    Create ``window.primus`` with these options and record its events in
    ``window.log``.
    """
    page.evaluate(
        f"() => {{ window.primus = new Primus({options}); window.log = record(window.primus); }}"
    )


def events(page: Any) -> list[str]:
    return page.evaluate("() => window.log.slice()")


def test_connect_open_then_end(server_factory: Any, page_factory: Any) -> None:
    server = server_factory()
    page = page_factory(server.url)
    connect(page)
    page.wait_for_function(OPENED)
    assert len(server.control("sparks")) == 1
    page.evaluate("() => window.primus.end()")
    assert events(page) == [
        "readyStateChange:opening",
        "readyStateChange:open",
        "open",
        "readyStateChange:end",
        "close",
        "end",
    ]


def test_echo_unicode_and_edge_values(server_factory: Any, page_factory: Any) -> None:
    server = server_factory()
    page = page_factory(server.url)
    connect(page)
    page.wait_for_function(OPENED)
    russian = "\u0420\u0423\u0421\u0421\u041a\u0418\u0419"
    values = [0, False, None, "", "a\u2028b\u2029c", f"pong{russian} €€€ 😀", {"nested": [1, 2.5]}]
    page.evaluate(
        """(values) => {
          window.raws = [];
          window.primus.on('data', (data, raw) => window.raws.push(raw));
          values.forEach((value) => window.primus.write(value));
        }""",
        values,
    )
    page.wait_for_function(f"() => window.raws.length === {len(values)}")
    server_got = server.control("stats")["received"]
    assert server_got == values
    received = page.evaluate("() => window.log.filter((e) => e.startsWith('data:'))")
    assert received == ["data:" + page.evaluate("(v) => JSON.stringify(v)", v) for v in values]
    raws = page.evaluate("() => window.raws")
    # Both directions escape the JavaScript line separators on the wire.
    assert raws[4] == '"a\\u2028b\\u2029c"'
    assert raws[0] == "0"
    assert raws[3] == '""'


def test_writes_are_buffered_until_open(server_factory: Any, page_factory: Any) -> None:
    server = server_factory()
    page = page_factory(server.url)
    connect(page, "{manual: true}")
    page.evaluate("() => { for (let i = 1; i <= 5; i++) window.primus.write(i); }")
    assert page.evaluate("() => window.primus.buffer.length") == 5
    page.evaluate("() => window.primus.open()")
    server.wait_for(lambda stats: len(stats["received"]) == 5)
    assert server.control("stats")["received"] == [1, 2, 3, 4, 5]
    assert page.evaluate("() => window.primus.buffer.length") == 0


def test_queue_size_drops_the_oldest(server_factory: Any, page_factory: Any) -> None:
    server = server_factory()
    page = page_factory(server.url)
    connect(page, "{manual: true, queueSize: 3}")
    page.evaluate("() => { for (let i = 1; i <= 5; i++) window.primus.write(i); }")
    page.evaluate("() => window.primus.open()")
    page.wait_for_function("() => window.log.filter((e) => e.startsWith('data:')).length === 3")
    assert server.control("stats")["received"] == [3, 4, 5]


def test_id_is_the_spark_id(server_factory: Any, page_factory: Any) -> None:
    server = server_factory()
    page = page_factory(server.url)
    connect(page)
    # Asked before the connection is open: the request is buffered.
    spark_id = page.evaluate("() => new Promise((resolve) => window.primus.id(resolve))")
    assert server.control("sparks") == [spark_id]
    assert spark_id


def test_url_has_pathname_query_and_cache_buster(server_factory: Any, page_factory: Any) -> None:
    server = server_factory()
    page = page_factory(server.url)
    url = page.evaluate(
        "() => new Primus('http://127.0.0.1:1/ignored?x=1&y=a%20b', {manual: true})"
        ".uri({protocol: 'ws:', query: true})"
    )
    assert url.startswith("ws://127.0.0.1:1/primus?x=1&y=a%20b&_primuscb=")
    assert len(url.rsplit("=", 1)[1]) >= 7


def test_ended_by_the_server_does_not_reconnect(server_factory: Any, page_factory: Any) -> None:
    server = server_factory()
    page = page_factory(server.url)
    connect(page, "{reconnect: {min: 50}}")
    page.wait_for_function(OPENED)
    server.control("end")
    page.wait_for_function("() => window.log.includes('end')")
    # Long enough for several back-off attempts, had one been scheduled.
    page.wait_for_timeout(400)
    assert events(page)[2:] == ["open", "readyStateChange:end", "close", "end"]
    assert server.control("stats")["connections"] == 1


def test_server_asks_for_a_reconnect(server_factory: Any, page_factory: Any) -> None:
    server = server_factory()
    page = page_factory(server.url)
    connect(page, "{reconnect: {min: 50}}")
    page.wait_for_function(OPENED)
    first = server.control("sparks")
    server.control("end", reconnect="1")
    page.wait_for_function("() => window.log.filter((e) => e === 'open').length === 2")
    assert events(page)[3:] == SERVER_ASKED_RECONNECT
    attempt = page.evaluate("() => window.primus.recovery.attempt")
    assert attempt is None  # reset after success
    second = server.control("sparks")
    assert len(second) == 1 and second != first


def test_survives_a_server_restart(server_factory: Any, page_factory: Any) -> None:
    server = server_factory()
    page = page_factory(server.url)
    connect(page, "{reconnect: {min: 100, max: 300, retries: 100}}")
    page.wait_for_function(OPENED)
    server.restart()
    page.wait_for_function(
        "() => window.log.filter((e) => e === 'open').length === 2", timeout=15000
    )
    log = events(page)
    assert log[3:6] == ["readyStateChange:end", "close", "reconnect scheduled"]
    assert log[-3:] == ["reconnected", "readyStateChange:open", "open"]
    # Failed attempts are not errors, and the client never gave up.
    assert "error" not in log and "end" not in log
    page.evaluate("() => window.primus.write('after restart')")
    page.wait_for_function("() => window.log.includes('data:\"after restart\"')")


def test_offline_then_online(server_factory: Any, page_factory: Any, browser_context: Any) -> None:
    server = server_factory()
    page = page_factory(server.url)
    connect(page, "{reconnect: {min: 50}}")
    page.wait_for_function(OPENED)
    browser_context.set_offline(True)
    page.wait_for_function("() => window.log.includes('end')")
    assert page.evaluate("() => window.primus.online") is False
    browser_context.set_offline(False)
    page.wait_for_function("() => window.log.filter((e) => e === 'open').length === 2")
    assert events(page)[3:] == [
        "offline",
        "readyStateChange:end",
        "close",
        "end",
        "online",
        "reconnect scheduled",
        "readyStateChange:opening",
        "reconnect",
        "reconnected",
        "readyStateChange:open",
        "open",
    ]


def test_ping_timeout_reconnects(server_factory: Any, page_factory: Any) -> None:
    server = server_factory()  # pings every 30 s: the client gives up first
    page = page_factory(server.url)
    connect(page, "{pingTimeout: 200, reconnect: {min: 50}}")
    page.wait_for_function(OPENED)
    page.wait_for_function("() => window.log.filter((e) => e === 'open').length === 2")
    assert events(page)[3:] == [
        "offline",
        "readyStateChange:end",
        "close",
        "reconnect scheduled",
        "readyStateChange:opening",
        "reconnect",
        "reconnected",
        "online",
        "readyStateChange:open",
        "open",
    ]


def test_heartbeat_keeps_the_connection(server_factory: Any, page_factory: Any) -> None:
    server = server_factory("--ping-interval", "0.2")
    page = page_factory(server.url)
    connect(page)
    page.wait_for_function(OPENED)
    assert page.evaluate("() => window.primus.options.pingTimeout") == 300
    first = server.control("sparks")
    page.evaluate(
        "() => { window.pings = 0; window.primus.on('outgoing::pong', () => window.pings++); }"
    )
    # The server ends a spark at the first tick after an unanswered ping.
    page.wait_for_function("() => window.pings >= 4")
    assert server.control("sparks") == first
    assert "offline" not in events(page)


def test_refused_by_authorization(server_factory: Any, page_factory: Any) -> None:
    server = server_factory("--auth")
    page = page_factory(server.url)
    assert page.evaluate("() => Primus.prototype.authorization") is True
    connect(page, "{reconnect: {min: 50}}")
    assert page.evaluate("() => window.primus.options.strategy") == "disconnect,online"
    page.wait_for_function("() => window.log.includes('end')")
    page.wait_for_timeout(400)
    assert events(page) == [
        "readyStateChange:opening",
        "error",
        "readyStateChange:end",
        "close",
        "end",
    ]
    assert server.control("stats")["auth_calls"] == 1
