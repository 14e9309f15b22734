"""
The SockJS session rules that need time or a vanishing client, on fakes:
a Clock for the heartbeat and the disconnect delay, DummyRequest for the
HTTP side, so nothing waits for real seconds.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.web.test.requesthelper import DummyRequest

from primus_tx import Primus
from primus_tx._errors import PrimusError
from primus_tx.transformers.sockjs.server import HIGH_WATER, BrokenPayload, decode_payload


def make(clock: Clock, **transport: Any) -> tuple[Primus, Any, list[Any]]:
    primus = Primus(None, transformer="sockjs", ping_interval=0, reactor=clock,
                    transport=dict({"heartbeat_delay": 25, "disconnect_delay": 5}, **transport))
    sparks: list[Any] = []
    primus.on("connection", sparks.append)
    return primus, primus._server, sparks


def request(path: str, method: bytes = b"POST", body: bytes = b"") -> Any:
    req = DummyRequest(path.strip("/").encode().split(b"/"))
    req.path = b"/primus" + path.encode()
    req.uri = req.path
    req.method = method
    req.content = BytesIO(body)
    req.query = {}
    req.isSecure = lambda: False
    return req


def written(req: Any) -> list[bytes]:
    return list(req.written)


def test_heartbeat_and_disconnect_delay() -> None:
    clock = Clock()
    _, server, sparks = make(clock)
    ended: list[Any] = []
    poll = request("/1/s/xhr")
    server.request(poll)
    assert written(poll) == [b"o\n"] and poll.finished
    sparks[0].on("end", lambda: ended.append(1))
    poll = request("/1/s/xhr")
    server.request(poll)
    clock.advance(24.9)
    assert not poll.finished
    clock.advance(0.2)
    assert written(poll) == [b"h\n"] and poll.finished
    # no receiver for the disconnect delay: the session and its spark end
    clock.advance(4.9)
    assert "s" in server.sessions and not ended
    clock.advance(0.2)
    assert "s" not in server.sessions and ended == [1]
    assert clock.getDelayedCalls() == []


def test_streaming_heartbeat_and_messages_batched() -> None:
    clock = Clock()
    primus, server, sparks = make(clock)
    stream = request("/1/s/xhr_streaming")
    server.request(stream)
    assert written(stream) == [b"h" * 2048 + b"\n", b"o\n"]
    sparks[0].write("one")
    assert written(stream)[-1] == b'a["\\"one\\""]\n'
    clock.advance(25)
    assert written(stream)[-1] == b"h\n"
    # with no receiver, messages wait and go out in one frame
    stream.processingFailed(Failure(ConnectionDone()))
    assert "s" not in server.sessions  # a vanished client ends the session
    poll = request("/1/t/xhr")
    server.request(poll)
    spark = sparks[1]
    spark.write(1)
    spark.write(2)
    poll = request("/1/t/xhr")
    server.request(poll)
    assert written(poll) == [b'a["1","2"]\n']
    primus.destroy()
    assert server.sessions == {} and clock.getDelayedCalls() == []


def test_close_from_the_application_and_primus_end() -> None:
    clock = Clock()
    _, server, sparks = make(clock)
    server.request(request("/1/s/xhr"))
    sparks[0].end("bye")
    poll = request("/1/s/xhr")
    server.request(poll)
    assert written(poll) == [b'a["\\"bye\\"","\\"primus::server::close\\""]\n']
    for _ in range(2):
        poll = request("/1/s/xhr")
        server.request(poll)
        assert written(poll) == [b'c[1000,"Normal closure"]\n']
    clock.advance(5)
    assert server.sessions == {} and clock.getDelayedCalls() == []


def test_flow_control_water_marks() -> None:
    clock = Clock()
    primus, server, sparks = make(clock)
    server.request(request("/1/s/xhr"))
    spark = sparks[0]
    drained: list[Any] = []
    spark.on("drain", lambda: drained.append(1))
    chunk = "x" * 1024
    results = [spark.write(chunk) for _ in range(HIGH_WATER // 1024 + 2)]
    assert results[0] is True and results[-1] is False
    assert spark._connection.bufferedAmount() > HIGH_WATER
    poll = request("/1/s/xhr")
    server.request(poll)
    assert poll.finished and drained == [1]
    assert spark.write("more") is True
    primus.destroy()


def test_reading_paused_holds_sends() -> None:
    clock = Clock()
    primus, server, sparks = make(clock)
    server.request(request("/1/s/xhr"))
    spark = sparks[0]
    got: list[Any] = []
    spark.on("data", got.append)
    spark.pauseProducing()
    send = request("/1/s/xhr_send", body=b'["1", "2"]')
    server.request(send)
    assert not send.finished and got == []
    spark.resumeProducing()
    assert send.finished and send.responseCode == 204 and got == [1, 2]
    primus.destroy()


def test_decode_payload() -> None:
    assert decode_payload(b'["a", "\\ud800"]') == ["a", "\ud800"]
    assert decode_payload(b"[1, null]") == ["1", "null"]
    for body, reason in ((b"", "Payload expected."), (b"{}", "Payload expected."),
                         (b'["a', "Broken JSON encoding."), (b"\xff", "Broken JSON encoding.")):
        with pytest.raises(BrokenPayload, match=reason):
            decode_payload(body)


def test_unknown_option() -> None:
    with pytest.raises(PrimusError, match="heartbeat"):
        Primus(None, transformer="sockjs", transport={"heartbeat": 1}, reactor=Clock())


def test_primus_cors_layer_is_off() -> None:
    primus, _, _ = make(Clock())
    layer = primus._middleware.layers[primus.index_of_layer("cors")]
    assert layer.enabled is False


def test_a_send_over_max_length_is_413_and_keeps_the_session() -> None:
    """
    Mounted without a Site (no guard to refuse it unread), a body or a
    message over ``max_length`` is still refused, and the session goes on.
    """
    clock = Clock()
    primus = Primus(None, transformer="sockjs", ping_interval=0, reactor=clock, max_length=100)
    server = primus._server
    received: list[Any] = []
    primus.on("connection", lambda spark: spark.on("data", received.append))
    server.request(request("/1/s/xhr"))
    big = request("/1/s/xhr_send", body=b'["' + b"x" * 200 + b'"]')
    server.request(big)
    assert big.responseCode == 413
    small = request("/1/s/xhr_send", body=b'["\\"ok\\""]')
    server.request(small)
    assert small.responseCode == 204 and received == ["ok"]
    assert "s" in server.sessions
    primus.destroy()
    clock.advance(10)


def test_a_preflight_for_the_pathname_is_answered_by_primus_cors() -> None:
    """
    As Node Primus: ``OPTIONS /primus`` with a pre-flight is 200 with
    Primus's CORS headers (SockJS itself has no route for it).
    """
    clock = Clock()
    primus, server, _ = make(clock)
    req = request("", method=b"OPTIONS")
    req.requestHeaders.setRawHeaders(b"origin", [b"http://example.test"])
    req.requestHeaders.setRawHeaders(b"access-control-request-method", [b"POST"])
    server.request(req)
    assert req.responseCode == 200 and req.finished
    headers = req.responseHeaders
    assert headers.getRawHeaders(b"access-control-allow-origin") == [b"http://example.test"]
    assert headers.getRawHeaders(b"access-control-allow-methods") == [
        b"GET, HEAD, PUT, POST, DELETE, OPTIONS"
    ]
    assert headers.getRawHeaders(b"access-control-allow-credentials") == [b"true"]
    primus.destroy()
