"""
The emit and responder plugins on fakes: their wires (primus-emit 1.0.0's
and primus-responder 1.0.4's, as captured on Node), their semantics, and
hostile envelopes.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from client_fakes import Harness
from fakes import FakeTransformer, connect, make_primus
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from primus_tx import Primus, PrimusError, Spark
from primus_tx.plugins.responder import (
    AckLimitError,
    AckTimeout,
    ConnectionEnded,
    ResponderPlugin,
)

sync = SynchronousTestCase()


def server(plugin: Any, **options: Any) -> tuple[Primus, Any]:
    primus, clock = make_primus(transformer=FakeTransformer(), ping_interval=0, plugin=plugin,
                                **options)
    clock.advance(0)
    return primus, clock


def receive(spark: Any, value: Any) -> None:
    spark.messageReceived(json.dumps(value))


# -- emit ----------------------------------------------------------------------------


def test_emit_sends_custom_events_and_keeps_reserved_ones_local() -> None:
    primus, _ = server("emit")
    spark, conn = connect(primus)
    ended: list[Any] = []
    spark.on("end", lambda: ended.append(True))
    spark.emit("news", "hello", {"a": 1}, [1, 2])
    spark.emit("noargs")
    assert conn.sent == ['{"emit":["news","hello",{"a":1},[1,2]]}', '{"emit":["noargs"]}']
    spark.end()
    assert ended == [True]


def test_emit_envelopes_are_events_not_data() -> None:
    primus, _ = server("emit")
    spark, _ = connect(primus)
    got: list[Any] = []
    spark.on("data", lambda d: got.append(("data", d)))
    spark.on("custom", lambda *a: got.append(("custom", a)))
    receive(spark, {"emit": ["custom", {"foo": "foo"}, 1, "bar"]})
    receive(spark, {"emit": []})          # swallowed
    receive(spark, {"emit": ["end"]})     # reserved: dropped
    receive(spark, {"emit": ["data", "x"]})
    receive(spark, {"emit": [None]})
    receive(spark, {"emit": "notarray"})  # data
    receive(spark, [1, 2])                # data
    receive(spark, None)                  # data (Node crashes here)
    assert got == [
        ("custom", ({"foo": "foo"}, 1, "bar")),
        ("data", {"emit": "notarray"}),
        ("data", [1, 2]),
        ("data", None),
    ]
    assert spark.ready_state == Spark.OPEN


def test_emit_waits_for_an_async_connection_listener() -> None:
    primus, _ = server("emit")
    gate: Deferred[None] = Deferred()
    got: list[Any] = []

    def connection(spark: Any) -> Any:
        def ready(_: Any) -> None:
            spark.on("hello", got.append)

        return gate.addCallback(ready)

    primus.on("connection", connection)
    spark, _ = connect(primus)
    receive(spark, {"emit": ["hello", 1]})
    assert got == []
    gate.callback(None)
    assert got == [1]


def test_emit_client_half() -> None:
    h = Harness(plugin="emit")
    transport = h.open()
    socket: Any = h.socket
    got: list[Any] = []
    socket.on("news", got.append)
    socket.emit("custom", 1)
    assert transport.sent == ['{"emit":["custom",1]}']
    transport.receive({"emit": ["news", "x"]})
    transport.receive({"emit": ["open"]})
    transport.receive(None)
    assert got == ["x"]
    socket.end()
    assert h.idle()


# -- responder -------------------------------------------------------------------------


def test_write_and_wait_and_the_response() -> None:
    primus, clock = server("responder")
    spark, conn = connect(primus)
    d = spark.write_and_wait({"q": 21})
    sent = json.loads(conn.sent[0])
    assert list(sent) == ["plugin", "requestId", "data"]
    assert sent["plugin"] == "primus-responder" and sent["data"] == {"q": 21}
    assert uuid.UUID(sent["requestId"]).version == 4
    receive(spark, {"plugin": "primus-responder", "responseId": sent["requestId"],
                    "data": {"answer": 42}})
    assert sync.successResultOf(d) == {"answer": 42}
    assert not clock.getDelayedCalls()


def test_request_handler_returns_the_response() -> None:
    primus, _ = server("responder")
    spark, conn = connect(primus)
    data: list[Any] = []
    spark.on("data", data.append)
    spark.on("request", lambda body: {"answer": body["q"] * 2})
    receive(spark, {"plugin": "primus-responder", "requestId": "r1", "data": {"q": 21}})
    assert conn.sent == ['{"plugin":"primus-responder","responseId":"r1","data":{"answer":42}}']
    spark.off("request")
    spark.on("request", lambda body: None)
    receive(spark, {"plugin": "primus-responder", "requestId": "r2"})
    # done() without a value: no data key, as Node
    assert conn.sent[-1] == '{"plugin":"primus-responder","responseId":"r2"}'
    assert data == []  # envelopes never reach data


def test_responder_timeouts_limits_and_end() -> None:
    primus, clock = server({"responder": ResponderPlugin(timeout=2, max_pending=2)})
    spark, _conn = connect(primus)
    first = spark.write_and_wait(1)
    clock.advance(2)
    sync.failureResultOf(first, AckTimeout)
    a = spark.write_and_wait(2)
    b = spark.write_and_wait(3, timeout=100)
    sync.failureResultOf(spark.write_and_wait(4), AckLimitError)
    spark.end()
    sync.failureResultOf(a, ConnectionEnded)
    sync.failureResultOf(b, ConnectionEnded)
    assert not clock.getDelayedCalls()
    with pytest.raises(PrimusError):
        ResponderPlugin(timeout=-1)


@pytest.mark.parametrize(
    "envelope",
    [
        {"plugin": "primus-responder"},
        {"plugin": "primus-responder", "requestId": None},
        {"plugin": "primus-responder", "requestId": {"a": 1}},
        {"plugin": "primus-responder", "requestId": True},
        {"plugin": "primus-responder", "responseId": "unknown", "data": 1},
        {"plugin": "primus-responder", "responseId": ["x"]},
    ],
)
def test_hostile_responder_envelopes_are_consumed(envelope: Any) -> None:
    primus, _ = server("responder")
    spark, conn = connect(primus)
    data: list[Any] = []
    requests: list[Any] = []
    spark.on("data", data.append)
    spark.on("request", requests.append)
    receive(spark, envelope)
    assert data == [] and requests == [] and conn.sent == []
    for plain in (None, 1, "primus-responder", [], {"plugin": "other"}):
        receive(spark, plain)
    assert data == [None, 1, "primus-responder", [], {"plugin": "other"}]


def test_spoofed_response_ids_are_ignored() -> None:
    primus, _ = server("responder")
    victim, vconn = connect(primus)
    attacker, _ = connect(primus)
    d = victim.write_and_wait("q")
    request_id = json.loads(vconn.sent[0])["requestId"]
    receive(attacker, {"plugin": "primus-responder", "responseId": request_id, "data": "spoof"})
    assert not d.called
    receive(victim, {"plugin": "primus-responder", "responseId": request_id, "data": "real"})
    assert sync.successResultOf(d) == "real"


def test_responder_client_half() -> None:
    h = Harness(plugin="responder")
    transport = h.open()
    socket: Any = h.socket

    async def respond(body: Any) -> Any:
        return {"echo": body}

    socket.on("request", respond)
    d = socket.write_and_wait("ping", timeout=5)
    request_id = json.loads(transport.sent[0])["requestId"]
    transport.receive({"plugin": "primus-responder", "responseId": request_id, "data": "pong"})
    assert sync.successResultOf(d) == "pong"
    transport.receive({"plugin": "primus-responder", "requestId": "s1", "data": 7})
    assert json.loads(transport.sent[-1]) == {
        "plugin": "primus-responder", "responseId": "s1", "data": {"echo": 7},
    }
    pending = socket.write_and_wait("never")
    socket.end()
    sync.failureResultOf(pending, ConnectionEnded)
    assert h.idle()


def test_all_plugins_together_on_one_client() -> None:
    h = Harness(plugin="emitter, emit, responder")
    transport = h.open()
    socket: Any = h.socket
    got: list[Any] = []
    socket.on("a", lambda *x: got.append(("a", x)))
    socket.on("request", lambda body: "r")
    transport.receive({"type": 0, "data": ["a", 1]})
    transport.receive({"emit": ["a", 2]})
    transport.receive({"plugin": "primus-responder", "requestId": "q", "data": 0})
    assert got == [("a", (1,)), ("a", (2,))]
    # the request answered, not re-sent by the emit plugin
    assert [json.loads(m) for m in transport.sent] == [
        {"plugin": "primus-responder", "responseId": "q", "data": "r"}
    ]
    socket.end()
