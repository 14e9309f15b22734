"""
The client socket's rules (docs/protocol/primus.rst, "Client events and their
orders"), on a Clock with a fake transport: event orders, buffering, timers,
strategies and the back-off.
"""

from __future__ import annotations

from typing import Any

import pytest
from client_fakes import Harness
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from primus_tx import Packet, ParserError, PrimusError
from primus_tx.client import (
    CLOSED,
    OPEN,
    OPENING,
    Socket,
)
from primus_tx.client._url import Yeast

sync = SynchronousTestCase()


# -- opening and ending ------------------------------------------------------


def test_open_then_end_event_order() -> None:
    h = Harness()
    assert h.socket.ready_state == CLOSED
    assert h.transports == []  # opens on the next reactor turn
    h.clock.advance(0)
    assert h.names() == ["readyStateChange:opening"]
    assert h.socket.ready_state == OPENING
    h.transport.accept()
    assert h.names() == ["readyStateChange:open", "open"]
    assert h.socket.ready_state == OPEN
    d = h.socket.end()
    assert h.names() == ["readyStateChange:end", "close", "end"]
    assert h.transport.closed
    assert sync.successResultOf(d) is None
    assert h.idle()


def test_end_is_emitted_once() -> None:
    h = Harness()
    h.open()
    h.socket.end()
    h.socket.end()
    h.socket.end("late")
    assert h.names().count("end") == 1
    assert h.idle()


def test_end_before_open_never_connects() -> None:
    h = Harness()
    h.socket.end()
    assert h.names() == ["close", "end"]
    h.clock.advance(100)
    assert h.transports == []
    assert h.idle()


def test_manual_does_not_open() -> None:
    h = Harness(manual=True)
    h.clock.advance(100)
    assert h.transports == []
    h.socket.open()
    assert h.names() == ["readyStateChange:opening"]
    h.transport.accept()
    assert h.socket.ready_state == OPEN
    h.socket.end()


def test_destroy() -> None:
    h = Harness()
    h.open()
    h.names()
    assert h.socket.destroy() is True
    assert h.names() == ["readyStateChange:end", "close", "end", "destroy"]
    assert h.socket.listener_count("end") == 0
    assert h.socket.destroy() is False
    with pytest.raises(PrimusError):
        h.socket.open()
    assert h.idle()


# -- the URL -------------------------------------------------------------------


def test_url_uses_pathname_keeps_query_adds_cache_buster() -> None:
    h = Harness("http://usr:pass@example.com:1234/ignored/path?x=1&x=2&y=a%20b", pathname="rt")
    h.clock.advance(0)
    assert h.transport.url == "ws://usr:pass@example.com:1234/rt?x=1&y=a%20b&_primuscb=0"
    h.socket.end()


def test_secure_url_and_headers() -> None:
    h = Harness("https://example.com", transport={"headers": {"X-Token": "t"}})
    h.clock.advance(0)
    assert h.transport.url == "wss://example.com/primus?_primuscb=0"
    assert h.transport.headers == {"X-Token": "t"}
    assert "headers" not in h.transport.options
    h.socket.end()


def test_outgoing_url_can_be_rewritten_by_a_plugin() -> None:
    class RewriteQuery:
        @staticmethod
        def client(socket: Socket, options: dict[str, Any]) -> None:
            socket.on("outgoing::url", lambda url: url.update(query="foo=bar"))

    h = Harness(plugin={"rewrite": RewriteQuery})
    h.clock.advance(0)
    assert h.transport.url == "ws://example.com:8080/primus?foo=bar"
    assert h.socket.plugin("rewrite") is RewriteQuery
    h.socket.end()


def test_yeast_ids() -> None:
    now = [1.0]
    yeast = Yeast(lambda: now[0])
    assert yeast() == "Fe"  # 1000 ms in base 64
    assert yeast() == "Fe.0"
    assert yeast() == "Fe.1"
    now[0] = 1.001
    assert yeast() == "Ff"


def test_invalid_url_and_options() -> None:
    with pytest.raises(PrimusError, match="ftp"):
        Socket("ftp://example.com", manual=True)
    with pytest.raises(PrimusError, match="ping"):
        Socket("http://example.com", ping=1)
    with pytest.raises(PrimusError, match="Unknown Socket option"):
        Socket("http://example.com", queueSize=1)
    with pytest.raises(PrimusError, match="strategy"):
        Socket("http://example.com", strategy="sometimes", manual=True)
    with pytest.raises(PrimusError, match="Unsupported transformer"):
        Socket("http://example.com", transformer="carrier-pigeon", manual=True)


def test_strategies() -> None:
    def strategy(**options: Any) -> str:
        return Harness(manual=True, **options).socket.strategy

    assert strategy() == "disconnect,online,timeout"
    assert strategy(authorization=True) == "disconnect,online"
    assert strategy(strategy="Disconnect, timeout") == "disconnect,timeout"
    assert strategy(strategy=["online"]) == "online"
    assert strategy(strategy=False) == ""


# -- writing -------------------------------------------------------------------------


def test_writes_are_buffered_until_open_and_flushed_before_open_event() -> None:
    h = Harness(queue_size=3)
    seen: list[Any] = []
    h.socket.on("open", lambda: seen.append(list(h.transport.sent)))
    for number in range(5):
        assert h.socket.write(number) is True
    assert list(h.socket.buffer) == [2, 3, 4]
    h.open()
    assert seen == [["2", "3", "4"]]
    assert h.socket.buffer == type(h.socket.buffer)()
    h.socket.end()


def test_write_encodes_text_and_binary() -> None:
    h = Harness()
    t = h.open()
    h.socket.write({"a": "\u2028"})
    h.socket.write(b"\x00\x01")
    assert t.sent == ['{"a":"\\u2028"}', b"\x00\x01"]
    h.socket.end()


def test_encode_error_is_an_error_event_and_keeps_the_connection() -> None:
    h = Harness()
    t = h.open()
    errors: list[Exception] = []
    h.socket.on("error", errors.append)
    h.socket.write({"bad": object()})
    assert isinstance(errors[0], ParserError)
    assert h.socket.ready_state == OPEN
    assert t.sent == []
    h.socket.end()


def test_end_with_data_writes_it_first() -> None:
    h = Harness()
    t = h.open()
    h.socket.end("bye")
    assert t.sent == ['"bye"']
    assert t.closed


# -- receiving ----------------------------------------------------------------------


def test_data_has_one_argument_and_transforms_see_raw() -> None:
    h = Harness()
    t = h.open()
    h.names()
    raws: list[object] = []
    h.socket.transform("incoming", lambda packet: raws.append(packet.raw))
    t.receive({"x": 1})
    assert h.events == [("data", ({"x": 1},))]
    assert raws == ['{"x":1}']
    h.socket.end()


def test_decode_error_is_reported_and_message_dropped() -> None:
    h = Harness()
    t = h.open()
    errors: list[Exception] = []
    h.socket.on("error", errors.append)
    t.receive_raw("not json")
    assert isinstance(errors[0], ParserError)
    t.receive("after")
    assert [args[0] for name, args in h.events if name == "data"] == ["after"]
    assert h.socket.ready_state == OPEN
    h.socket.end()


def test_binary_message_passes_through() -> None:
    h = Harness()
    t = h.open()
    t.receive_raw(b"\x01\x02")
    assert ("data", (b"\x01\x02",)) in h.events
    h.socket.end()


def test_unknown_protocol_messages_are_data_and_known_ones_are_not() -> None:
    h = Harness(ping_timeout=False)
    t = h.open()
    h.names()
    t.receive("primus::foo::bar")
    t.receive("primus::server::whatever")
    t.receive("primus::id::abc")
    assert h.events == [("data", ("primus::foo::bar",))]
    h.socket.end()


def test_server_close_ends_without_reconnect() -> None:
    h = Harness()
    t = h.open()
    h.names()
    t.receive("primus::server::close")
    assert h.socket.ready_state == OPEN
    t.drop()
    assert h.names() == ["readyStateChange:end", "close", "end"]
    assert h.idle()


# -- id ----------------------------------------------------------------------------------


def test_id_asks_the_server_and_waits() -> None:
    h = Harness()
    d = h.socket.id()  # buffered: not open yet
    t = h.open()
    assert t.sent == ['"primus::id::"']
    sync.assertNoResult(d)
    t.receive("primus::id::spark-1")
    assert sync.successResultOf(d) == "spark-1"
    h.socket.end()


def test_id_can_be_cancelled() -> None:
    h = Harness()
    h.open()
    d = h.socket.id()
    d.cancel()
    sync.failureResultOf(d)
    assert h.socket.listener_count("incoming::id") == 0
    h.socket.end()


# -- transforms, emits, reserved --------------------------------------------------------


def test_outgoing_transform_rewrites_and_drops() -> None:
    h = Harness()
    t = h.open()

    def outgoing(packet: Packet) -> Any:
        if packet.data == "drop":
            return False
        packet.data = packet.data.upper()
        return None

    h.socket.transform("outgoing", outgoing)
    h.socket.write("hi")
    h.socket.write("drop")
    assert t.sent == ['"HI"']
    h.socket.end()


def _holding() -> tuple[Any, list[Deferred[None]]]:
    """
    A transform that holds ``"first"`` until its Deferred fires, drops
    ``"drop"`` and marks everything else with ``"!"``.
    """
    pending: list[Deferred[None]] = []

    def transform(packet: Packet) -> Any:
        if packet.data == "first":
            d: Deferred[None] = Deferred()
            pending.append(d)
            return d
        if packet.data == "drop":
            return False
        packet.data = packet.data + "!"
        return None

    return transform, pending


def test_incoming_transforms_async_keep_order() -> None:
    h = Harness()
    t = h.open()
    slow, pending = _holding()
    h.socket.transform("incoming", slow)
    h.names()
    t.receive("first")
    t.receive("drop")
    t.receive("second")
    assert h.events == []
    pending[0].callback(None)
    assert [args[0] for _, args in h.events] == ["first", "second!"]
    h.socket.end()


def test_outgoing_async_transform_keeps_write_order() -> None:
    # The spark's rule, by the same lane: a write waits behind a message an
    # asynchronous outgoing transform still holds.
    h = Harness()
    t = h.open()
    slow, pending = _holding()
    h.socket.transform("outgoing", slow)
    assert h.socket.write("first") is True
    h.socket.write("drop")
    h.socket.write("second")
    assert t.sent == []
    pending[0].callback(None)
    assert t.sent == ['"first"', '"second!"']
    h.socket.write("third")
    assert t.sent[-1] == '"third!"'
    h.socket.end()


def test_outgoing_async_transform_failure_is_an_error_and_the_rest_follow() -> None:
    h = Harness()
    t = h.open()
    errors: list[BaseException] = []
    h.socket.on("error", errors.append)
    slow, pending = _holding()
    h.socket.transform("outgoing", slow)
    h.socket.write("first")
    h.socket.write("second")
    pending[0].errback(ValueError("nope"))
    assert [str(e) for e in errors] == ["nope"]
    assert t.sent == ['"second!"']
    h.socket.end()


def test_transform_type_is_checked() -> None:
    h = Harness(manual=True)
    with pytest.raises(PrimusError, match="transformer type"):
        h.socket.transform("sideways", lambda p: None)


def test_emits_and_reserved() -> None:
    h = Harness(manual=True)
    got: list[Any] = []
    h.socket.on("custom", lambda *a: got.append(a))
    h.socket.emits("custom")(1, 2)
    h.socket.emits("custom", lambda a, b: a + b)(1, 2)
    assert got == [(1, 2), (3,)]
    assert h.socket.reserved("reconnect scheduled")
    assert h.socket.reserved("incoming::data")
    assert not h.socket.reserved("custom")


def test_plugin_client_is_called_with_socket_and_options() -> None:
    calls: list[Any] = []

    class Plugin:
        @staticmethod
        def client(socket: Socket, options: dict[str, Any]) -> None:
            calls.append((socket, options["pathname"]))

    class ServerOnly:
        @staticmethod
        def server(primus: Any, options: Any) -> None:
            raise AssertionError("not on the client")

    h = Harness(manual=True, plugin={"p": Plugin, "s": ServerOnly})
    assert calls == [(h.socket, "/primus")]


def test_transports_provide_the_interface() -> None:
    from client_fakes import FakeTransport
    from zope.interface.verify import verifyClass

    from primus_tx.client import IClientTransport
    from primus_tx.transformers import find_transformer
    from primus_tx.transformers.websockets.client import WebSocketsClientTransport

    assert find_transformer("websockets").client() is WebSocketsClientTransport
    assert verifyClass(IClientTransport, WebSocketsClientTransport)
    assert verifyClass(IClientTransport, FakeTransport)


def test_websockets_false_reaches_the_transport() -> None:
    """
    Primus's ``websockets: false`` is a socket option; transports that can
    avoid WebSocket read it from their options.
    """
    h = Harness(websockets=False)
    h.open()
    assert h.transports[0].options["websockets"] is False
    h.socket.end()
    plain = Harness()
    plain.open()
    assert "websockets" not in plain.transports[0].options
    plain.socket.end()
