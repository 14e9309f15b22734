"""
The browser library's sockjs transport (our own SockJS client,
``primus_tx/transformers/sockjs/client.js``) in headless Chromium against a
primus-tx server using the sockjs transformer.

Which SockJS transport a page really uses is read from the requests
Chromium makes (Playwright's ``request`` and ``websocket`` events), not
only from what the client says about itself.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from spec_orders import SERVER_ASKED_RECONNECT

OPENED = "() => window.log && window.log.includes('open')"
NO_WEBSOCKET = ("--transformer", "sockjs", "--transport", '{"websocket": false}')
WITH_WEBSOCKET = ("--transformer", "sockjs")


def _until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Traffic:
    """
    The SockJS endpoints a page asked for: the last path segment of every
    HTTP request under /primus/, and every WebSocket URL it opened.
    """

    def __init__(self, page: Any) -> None:
        self.requests: list[str] = []
        self.websockets: list[str] = []
        page.on("request", self._request)
        page.on("websocket", lambda ws: self.websockets.append(ws.url))

    def _request(self, request: Any) -> None:
        path = request.url.split("?", 1)[0]
        if "/primus/" in path:
            self.requests.append(path.rsplit("/", 1)[1])

    @property
    def endpoints(self) -> set[str]:
        return set(self.requests)


def open_page(page_factory: Any, server: Any) -> tuple[Any, Traffic]:
    """
    A blank page of ``server``, its traffic recorded from before the
    client exists.
    """
    page = page_factory(server.url)
    return page, Traffic(page)


def connect(page: Any, options: str = "{}") -> None:
    """
    Create ``window.primus`` with these options; ``window.log`` records its
    events and ``window.got`` the data it receives.
    """
    page.evaluate(
        f"() => {{ window.primus = new Primus({options}); window.log = record(window.primus);"
        " window.got = []; window.raws = [];"
        " window.primus.on('data', (d, raw) => { window.got.push(d); window.raws.push(raw); }); }"
    )


def only(transport: str, more: str = "") -> str:
    """
    Client options that allow just this SockJS transport (plus ``more``).
    """
    return "{transport: {transports: ['" + transport + "']}" + (", " + more if more else "") + "}"


def events(page: Any) -> list[str]:
    return page.evaluate("() => window.log.slice()")


def kind(page: Any) -> str:
    return page.evaluate("() => window.primus.socket && window.primus.socket.kind")


def test_xhr_streaming_when_the_server_has_no_websocket(
    server_factory: Any, page_factory: Any
) -> None:
    server = server_factory(*NO_WEBSOCKET)
    page, traffic = open_page(page_factory, server)
    connect(page)
    page.wait_for_function(OPENED)
    assert kind(page) == "xhr-streaming"
    page.evaluate("() => window.primus.write('hello')")
    page.wait_for_function("() => window.got.length === 1")
    assert traffic.websockets == []
    assert {"info", "xhr_streaming", "xhr_send"} <= traffic.endpoints
    assert "websocket" not in traffic.endpoints
    assert "eventsource" not in traffic.endpoints and "xhr" not in traffic.endpoints
    page.evaluate("() => window.primus.end()")
    _until(lambda: server.control("sparks") == [])
    assert events(page) == [
        "readyStateChange:opening",
        "readyStateChange:open",
        "open",
        'data:"hello"',
        "readyStateChange:end",
        "close",
        "end",
    ]


def test_xhr_streaming_echoes_unicode_and_edge_values(
    server_factory: Any, page_factory: Any
) -> None:
    server = server_factory(*NO_WEBSOCKET)
    page, traffic = open_page(page_factory, server)
    connect(page)
    page.wait_for_function(OPENED)
    russian = "\u0420\u0423\u0421\u0421\u041a\u0418\u0419"
    values: list[Any] = [
        0,
        False,
        None,
        "",
        "a\u2028b\u2029c",
        f"pong{russian} €€€ 😀",
        'quote " backslash \\ newline \n tab \t nul \x00',
        {"nested": [1, 2.5, {"deep": True}]},
        [],
    ]
    page.evaluate("(values) => values.forEach((v) => window.primus.write(v))", values)
    page.wait_for_function(f"() => window.got.length === {len(values)}")
    assert server.control("stats")["received"] == values
    assert page.evaluate("() => window.got") == values
    raws = page.evaluate("() => window.raws")
    assert raws[0] == "0" and raws[3] == '""'
    assert raws[4] == '"a\\u2028b\\u2029c"'
    assert kind(page) == "xhr-streaming"
    assert "xhr_send" in traffic.endpoints


def test_xhr_streaming_buffers_writes_before_open(server_factory: Any, page_factory: Any) -> None:
    server = server_factory(*NO_WEBSOCKET)
    page, traffic = open_page(page_factory, server)
    connect(page, "{manual: true}")
    page.evaluate("() => { for (let i = 1; i <= 5; i++) window.primus.write(i); }")
    assert page.evaluate("() => window.primus.buffer.length") == 5
    assert traffic.requests == []
    page.evaluate("() => window.primus.open()")
    server.wait_for(lambda stats: len(stats["received"]) == 5)
    assert server.control("stats")["received"] == [1, 2, 3, 4, 5]
    page.wait_for_function("() => window.got.length === 5")
    assert page.evaluate("() => window.got") == [1, 2, 3, 4, 5]
    assert page.evaluate("() => window.primus.buffer.length") == 0
    assert kind(page) == "xhr-streaming"


def test_xhr_streaming_id_is_the_spark_id(server_factory: Any, page_factory: Any) -> None:
    server = server_factory(*NO_WEBSOCKET)
    page, _ = open_page(page_factory, server)
    connect(page)
    # Asked before the connection is open: the request is buffered.
    spark_id = page.evaluate("() => new Promise((resolve) => window.primus.id(resolve))")
    assert spark_id
    assert server.control("sparks") == [spark_id]
    assert kind(page) == "xhr-streaming"


def test_xhr_streaming_ended_by_the_server_does_not_reconnect(
    server_factory: Any, page_factory: Any
) -> None:
    server = server_factory(*NO_WEBSOCKET)
    page, traffic = open_page(page_factory, server)
    connect(page, "{reconnect: {min: 50}}")
    page.wait_for_function(OPENED)
    server.control("end")
    page.wait_for_function("() => window.log.includes('end')")
    streams = traffic.requests.count("xhr_streaming")
    # Long enough for several back-off attempts, had one been scheduled.
    page.wait_for_timeout(400)
    assert events(page) == [
        "readyStateChange:opening",
        "readyStateChange:open",
        "open",
        "readyStateChange:end",
        "close",
        "end",
    ]
    assert server.control("stats")["connections"] == 1
    assert server.control("sparks") == []
    # No new session was started after the end.
    assert traffic.requests.count("xhr_streaming") == streams
    assert traffic.requests.count("info") == 1


def test_xhr_streaming_server_asks_for_a_reconnect(server_factory: Any, page_factory: Any) -> None:
    server = server_factory(*NO_WEBSOCKET)
    page, traffic = open_page(page_factory, server)
    connect(page, "{reconnect: {min: 50, max: 100}}")
    page.wait_for_function(OPENED)
    first = server.control("sparks")
    server.control("end", reconnect="1")
    page.wait_for_function("() => window.log.filter((e) => e === 'open').length === 2")
    assert events(page)[3:] == SERVER_ASKED_RECONNECT
    second = server.control("sparks")
    assert len(second) == 1 and second != first
    assert kind(page) == "xhr-streaming"
    assert traffic.requests.count("info") == 2
    page.evaluate("() => window.primus.write('again')")
    page.wait_for_function("() => window.got.includes('again')")


def test_xhr_streaming_survives_a_server_restart(server_factory: Any, page_factory: Any) -> None:
    server = server_factory(*NO_WEBSOCKET)
    page, _ = open_page(page_factory, server)
    connect(page, "{reconnect: {min: 100, max: 300, retries: 100}}")
    page.wait_for_function(OPENED)
    server.restart()
    page.wait_for_function("() => window.log.filter((e) => e === 'open').length === 2")
    log = events(page)
    assert log[3:6] == ["readyStateChange:end", "close", "reconnect scheduled"]
    assert log[-3:] == ["reconnected", "readyStateChange:open", "open"]
    # A dropped stream and failed attempts are not errors; the client never gave up.
    assert "error" not in log and "end" not in log
    assert kind(page) == "xhr-streaming"
    page.evaluate("() => window.primus.write('after restart')")
    page.wait_for_function("() => window.got.includes('after restart')")
    assert server.control("stats")["received"] == ["after restart"]


def test_websockets_false_in_the_client_uses_http(server_factory: Any, page_factory: Any) -> None:
    server = server_factory(*WITH_WEBSOCKET)
    page, traffic = open_page(page_factory, server)
    connect(page, "{websockets: false}")
    page.wait_for_function(OPENED)
    assert page.evaluate("() => window.primus.AVOID_WEBSOCKETS") is True
    assert kind(page) == "xhr-streaming"
    page.evaluate("() => window.primus.write({ok: ['\u00e9', 1]})")
    page.wait_for_function("() => window.got.length === 1")
    assert page.evaluate("() => window.got") == [{"ok": ["\u00e9", 1]}]
    assert traffic.websockets == []
    assert {"xhr_streaming", "xhr_send"} <= traffic.endpoints


def test_websocket_when_everything_is_enabled(server_factory: Any, page_factory: Any) -> None:
    server = server_factory(*WITH_WEBSOCKET)
    page, traffic = open_page(page_factory, server)
    connect(page)
    page.wait_for_function(OPENED)
    assert kind(page) == "websocket"
    values = ["h\u00e9llo \u2603", 0, False, None, "", "a\u2028b"]
    page.evaluate("(values) => values.forEach((v) => window.primus.write(v))", values)
    page.wait_for_function(f"() => window.got.length === {len(values)}")
    assert page.evaluate("() => window.got") == values
    assert server.control("stats")["received"] == values
    assert len(traffic.websockets) == 1
    assert traffic.websockets[0].startswith(f"ws://127.0.0.1:{server.port}/primus/")
    assert traffic.websockets[0].split("?", 1)[0].endswith("/websocket")
    # Only /info went over HTTP: no streaming, polling or send requests.
    assert traffic.endpoints == {"info"}
    spark_id = page.evaluate("() => new Promise((resolve) => window.primus.id(resolve))")
    assert server.control("sparks") == [spark_id]
    page.evaluate("() => window.primus.end()")
    _until(lambda: server.control("sparks") == [])


@pytest.mark.parametrize(
    "forced, receiver", [("eventsource", "eventsource"), ("xhr-polling", "xhr")]
)
def test_forced_transport(
    server_factory: Any, page_factory: Any, forced: str, receiver: str
) -> None:
    server = server_factory(*WITH_WEBSOCKET)
    page, traffic = open_page(page_factory, server)
    connect(page, only(forced, "reconnect: {min: 50, max: 100}"))
    page.wait_for_function(OPENED)
    assert kind(page) == forced
    values = ["h\u00e9llo \u2603", 0, None, "", "a\u2028b", {"n": [1, 2.5]}]
    page.evaluate("(values) => values.forEach((v) => window.primus.write(v))", values)
    page.wait_for_function(f"() => window.got.length === {len(values)}")
    assert page.evaluate("() => window.got") == values
    assert server.control("stats")["received"] == values
    assert traffic.websockets == []
    assert {receiver, "xhr_send"} <= traffic.endpoints
    assert "xhr_streaming" not in traffic.endpoints
    # Server-requested reconnect comes back over the same transport.
    server.control("end", reconnect="1")
    page.wait_for_function("() => window.log.filter((e) => e === 'open').length === 2")
    assert kind(page) == forced
    page.evaluate("() => window.primus.write('again')")
    page.wait_for_function("() => window.got.includes('again')")
    page.evaluate("() => window.primus.end()")
    _until(lambda: server.control("sparks") == [])
    assert "error" not in events(page)


@pytest.mark.parametrize(
    "forced, receiver", [("xhr-streaming", "xhr_streaming"), ("eventsource", "eventsource")]
)
def test_streams_are_renewed_at_the_response_limit(
    server_factory: Any, page_factory: Any, forced: str, receiver: str
) -> None:
    server = server_factory(
        "--transformer", "sockjs", "--transport", '{"websocket": false, "response_limit": 4096}'
    )
    page, traffic = open_page(page_factory, server)
    # A single name may be given as a string, as sockjs-client allows.
    connect(page, "{transport: {transports: '" + forced + "'}}")
    page.wait_for_function(OPENED)
    sparks = server.control("sparks")
    values = [f"{i:03d}" + "x\u00e9" * 100 for i in range(40)]
    page.evaluate("(values) => values.forEach((v) => window.primus.write(v))", values)
    page.wait_for_function(f"() => window.got.length === {len(values)}")
    # Every echo, in order, on one session over several responses.
    assert page.evaluate("() => window.got") == values
    assert traffic.requests.count(receiver) >= 2
    assert server.control("sparks") == sparks
    assert server.control("stats")["connections"] == 1
    assert "error" not in events(page) and kind(page) == forced


@pytest.mark.parametrize("forced", ["eventsource", "xhr-polling"])
def test_forced_transport_survives_a_server_restart(
    server_factory: Any, page_factory: Any, forced: str
) -> None:
    server = server_factory(*NO_WEBSOCKET)
    page, _ = open_page(page_factory, server)
    connect(page, only(forced, "reconnect: {min: 100, max: 300}"))
    page.wait_for_function(OPENED)
    server.restart()
    page.wait_for_function("() => window.log.filter((e) => e === 'open').length === 2")
    log = events(page)
    assert log[3:6] == ["readyStateChange:end", "close", "reconnect scheduled"]
    assert "error" not in log and "end" not in log
    assert kind(page) == forced
    page.evaluate("() => window.primus.write('after restart')")
    page.wait_for_function("() => window.got.includes('after restart')")


@pytest.mark.parametrize("forced", ["websocket", "xhr-streaming", "eventsource", "xhr-polling"])
def test_end_with_data_delivers_it(server_factory: Any, page_factory: Any, forced: str) -> None:
    """
    ``primus.end(data)`` writes just before closing: over HTTP the last
    ``xhr_send`` must go out before the receiver is dropped.
    """
    # A polling session with no poll out when the client stops is only
    # noticed by the server after the disconnect delay (as with
    # sockjs-client): keep it short.
    server = server_factory("--transformer", "sockjs", "--transport", '{"disconnect_delay": 1}')
    page, _ = open_page(page_factory, server)
    connect(page, only(forced))
    page.wait_for_function(OPENED)
    assert kind(page) == forced
    page.evaluate("() => { window.primus.write('one'); window.primus.end('bye'); }")
    server.wait_for(lambda stats: len(stats["received"]) == 2)
    assert server.control("stats")["received"] == ["one", "bye"]
    _until(lambda: server.control("sparks") == [])
    assert events(page)[-2:] == ["close", "end"]


@pytest.mark.parametrize("forced", ["websocket", "xhr-streaming", "eventsource", "xhr-polling"])
def test_heartbeats_keep_the_session(server_factory: Any, page_factory: Any, forced: str) -> None:
    """
    Primus pings (inside SockJS frames) and SockJS ``h`` frames both reach
    the client, and its pongs reach the server: with a ping timeout well
    under the time waited, the connection stays up on one spark.
    """
    server = server_factory(
        "--transformer",
        "sockjs",
        "--ping-interval",
        "0.2",
        "--transport",
        '{"heartbeat_delay": 0.1}',
    )
    page, _ = open_page(page_factory, server)
    connect(page, only(forced))
    page.wait_for_function(OPENED)
    assert page.evaluate("() => window.primus.options.pingTimeout") == 300
    page.evaluate(
        "() => { window.pings = 0; window.primus.on('incoming::ping', () => window.pings++); }"
    )
    sparks = server.control("sparks")
    page.wait_for_timeout(1200)
    assert page.evaluate("() => window.pings") >= 3
    assert events(page) == ["readyStateChange:opening", "readyStateChange:open", "open"]
    assert server.control("sparks") == sparks
    assert kind(page) == forced


def test_websocket_ended_by_the_server(server_factory: Any, page_factory: Any) -> None:
    server = server_factory(*WITH_WEBSOCKET)
    page, traffic = open_page(page_factory, server)
    connect(page, "{reconnect: {min: 50}}")
    page.wait_for_function(OPENED)
    assert kind(page) == "websocket"
    server.control("end", reconnect="1")
    page.wait_for_function("() => window.log.filter((e) => e === 'open').length === 2")
    server.control("end")
    page.wait_for_function("() => window.log.includes('end')")
    page.wait_for_timeout(300)
    assert events(page)[-3:] == ["readyStateChange:end", "close", "end"]
    assert "error" not in events(page)
    assert len(traffic.websockets) == 2
    assert server.control("stats")["connections"] == 2
