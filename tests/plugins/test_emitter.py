"""
The emitter plugin on fakes: its wire (primus-emitter 3.1.1's, as captured
on Node), acks and their timeouts on a Clock, broadcasts, and hostile
packets.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from client_fakes import Harness
from fakes import CountingParser, FakeTransformer, connect, make_primus
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from primus_tx import Primus, PrimusError, Spark
from primus_tx.plugins.emitter import (
    AckLimitError,
    AckTimeout,
    ConnectionEnded,
    EmitterPlugin,
)

sync = SynchronousTestCase()


def server(**plugin_options: Any) -> tuple[Primus, Any]:
    plugin = EmitterPlugin(**plugin_options) if plugin_options else "emitter"
    primus, clock = make_primus(
        transformer=FakeTransformer(), ping_interval=0, plugin={"emitter": plugin}
        if plugin_options
        else "emitter",
    )
    clock.advance(0)  # "initialised"
    return primus, clock


def receive(spark: Any, value: Any) -> None:
    spark.messageReceived(json.dumps(value))


# -- the wire ----------------------------------------------------------------------


def test_send_writes_primus_emitter_packets() -> None:
    primus, _ = server()
    spark, conn = connect(primus)
    spark.send("hi", "good morning")
    spark.send("noargs")
    # The captures from Node, byte for byte (key order included).
    assert conn.sent == [
        '{"type":0,"data":["hi","good morning"]}',
        '{"type":0,"data":["noargs"]}',
    ]


def test_ack_ids_count_from_one_and_the_reply_fires_the_deferred() -> None:
    primus, clock = server()
    spark, conn = connect(primus)
    first = spark.send("sport", "ping-pong", ack=True)
    second = spark.send("sport", "again", ack=True)
    assert conn.sent == [
        '{"type":0,"data":["sport","ping-pong"],"id":1}',
        '{"type":0,"data":["sport","again"],"id":2}',
    ]
    receive(spark, {"id": 2, "type": 1, "data": ["two"]})
    receive(spark, {"id": 1, "type": 1, "data": ["pong", 2]})
    assert sync.successResultOf(first) == ["pong", 2]
    assert sync.successResultOf(second) == ["two"]
    assert not clock.getDelayedCalls()


def test_incoming_events_reach_listeners_and_data_too() -> None:
    primus, _ = server()
    spark, conn = connect(primus)
    got: list[Any] = []
    spark.on("news", lambda *args: got.append(args))
    spark.on("data", lambda data: got.append(("data", data)))
    receive(spark, {"type": 0, "data": ["news", "hello", {"a": 1}, [1, 2]]})
    # As with Node, the application's data listeners see the packet too.
    assert got == [
        ("hello", {"a": 1}, [1, 2]),
        ("data", {"type": 0, "data": ["news", "hello", {"a": 1}, [1, 2]]}),
    ]
    assert conn.sent == []  # no ack asked, none sent


def test_handler_return_value_is_the_ack() -> None:
    primus, _ = server()
    spark, conn = connect(primus)
    spark.on("add", lambda a, b: a + b)
    spark.on("pair", lambda: ("x", 2))
    spark.on("nothing", lambda: None)
    receive(spark, {"type": 0, "data": ["add", 1, 2], "id": 1})
    receive(spark, {"type": 0, "data": ["pair"], "id": 2})
    receive(spark, {"type": 0, "data": ["nothing"], "id": 3})
    receive(spark, {"type": 0, "data": ["nobody"], "id": 4})
    assert conn.sent == [
        '{"id":1,"type":1,"data":[3]}',
        '{"id":2,"type":1,"data":["x",2]}',
        '{"id":3,"type":1,"data":[]}',
        '{"id":4,"type":1,"data":[]}',
    ]


def test_deferred_and_coroutine_replies() -> None:
    primus, _ = server()
    spark, conn = connect(primus)
    later: Deferred[Any] = Deferred()
    spark.on("slow", lambda: later)

    async def answer(x: int) -> int:
        return x * 2

    spark.on("coro", answer)
    receive(spark, {"type": 0, "data": ["slow"], "id": 5})
    receive(spark, {"type": 0, "data": ["coro", 21], "id": 6})
    assert conn.sent == ['{"id":6,"type":1,"data":[42]}']
    later.callback("done")
    assert conn.sent[1] == '{"id":5,"type":1,"data":["done"]}'


def test_failing_handler_sends_no_ack_and_keeps_the_spark() -> None:
    primus, _ = server()
    spark, conn = connect(primus)

    def broken() -> None:
        raise ValueError("boom")

    spark.on("bad", broken)
    spark.on("bad", lambda: "second")
    receive(spark, {"type": 0, "data": ["bad"], "id": 1})
    # the next listener still answers
    assert conn.sent == ['{"id":1,"type":1,"data":["second"]}']
    failing: Deferred[Any] = Deferred()
    spark.on("later", lambda: failing)
    receive(spark, {"type": 0, "data": ["later"], "id": 2})
    failing.errback(ValueError("nope"))
    assert len(conn.sent) == 1
    assert spark.ready_state == Spark.OPEN


def test_reserved_events_are_never_triggered_from_the_wire() -> None:
    primus, _ = server()
    spark, conn = connect(primus)
    seen: list[str] = []
    for name in ("end", "data", "error", "heartbeat", "readyStateChange", "drain",
                 "incoming::data", "outgoing::data"):
        spark.on(name, lambda *a, name=name: seen.append(name))
        receive(spark, {"type": 0, "data": [name, "x"], "id": 9})
    # only the data listener saw the packets; nothing answered
    assert set(seen) == {"data"}
    assert conn.sent == []
    assert spark.ready_state == Spark.OPEN


# -- acks: timeouts, limits, the end --------------------------------------------


def test_ack_timeout_fails_and_a_late_ack_is_ignored() -> None:
    primus, clock = server(ack_timeout=5)
    spark, _conn = connect(primus)
    d = spark.send("q", ack=True)
    clock.advance(4.9)
    assert not d.called
    clock.advance(0.2)
    sync.failureResultOf(d, AckTimeout)
    receive(spark, {"id": 1, "type": 1, "data": ["late"]})
    assert spark.ready_state == Spark.OPEN


def test_per_call_timeout_and_cancel() -> None:
    primus, clock = server()
    spark, _ = connect(primus)
    d = spark.send("q", ack=True, timeout=1)
    clock.advance(1)
    sync.failureResultOf(d, AckTimeout)
    cancelled = spark.send("q", ack=True)
    cancelled.cancel()
    sync.failureResultOf(cancelled, CancelledError)
    assert not clock.getDelayedCalls()


def test_pending_acks_are_bounded() -> None:
    primus, clock = server(max_pending=2)
    spark, conn = connect(primus)
    a = spark.send("q", ack=True)
    b = spark.send("q", ack=True)
    c = spark.send("q", ack=True)
    sync.failureResultOf(c, AckLimitError)
    assert len(conn.sent) == 2  # the refused one was not sent
    receive(spark, {"id": 1, "type": 1, "data": []})
    assert sync.successResultOf(a) == []
    d = spark.send("q", ack=True)
    assert not d.called
    spark.end()
    sync.failureResultOf(b, ConnectionEnded)
    sync.failureResultOf(d, ConnectionEnded)
    assert not clock.getDelayedCalls()


def test_all_pending_acks_fail_when_the_spark_ends_and_new_ones_fail_at_once() -> None:
    primus, clock = server()
    spark, _conn = connect(primus)
    pending = [spark.send("q", i, ack=True) for i in range(3)]
    spark.connectionLost(None)
    for d in pending:
        failure = sync.failureResultOf(d, ConnectionEnded)
        assert spark.id in str(failure.value)
    sync.failureResultOf(spark.send("q", ack=True), ConnectionEnded)
    assert not clock.getDelayedCalls()


def test_spoofed_and_unknown_ack_ids_are_ignored() -> None:
    primus, _ = server()
    victim, _ = connect(primus)
    attacker, _ = connect(primus)
    d = victim.send("q", ack=True)
    # another connection cannot answer the victim's ack
    receive(attacker, {"id": 1, "type": 1, "data": ["spoof"]})
    # unknown ids, string ids (ignored as Node does), booleans
    receive(victim, {"id": 99, "type": 1, "data": ["x"]})
    receive(victim, {"id": "1", "type": 1, "data": ["x"]})
    receive(victim, {"id": True, "type": 1, "data": ["x"]})
    assert not d.called
    receive(victim, {"id": 1, "type": 1, "data": ["real"]})
    assert sync.successResultOf(d) == ["real"]
    # answered once only
    receive(victim, {"id": 1, "type": 1, "data": ["again"]})


# -- hostile packets -----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        0,
        1.5,
        "text",
        [1, 2],
        [],
        {},
        {"type": 0},
        {"type": 0, "data": None},
        {"type": 0, "data": "news"},
        {"type": 0, "data": {"0": "news"}},
        {"type": 0, "data": []},
        {"type": 0, "data": [None, 1]},
        {"type": 0, "data": [1, 2]},
        {"type": 0, "data": [["x"]]},
        {"type": "0", "data": ["news"]},
        {"type": False, "data": ["news"]},
        {"type": None, "data": ["news"]},
        {"type": 7, "data": ["news"]},
        {"type": 1, "data": ["x"]},
        {"type": 1, "data": ["x"], "id": None},
        {"type": 1, "data": ["x"], "id": {"a": 1}},
        {"type": 0, "data": ["news"], "id": "7"},
        {"type": 0, "data": ["news"], "id": [1]},
        {"type": 0, "data": ["news" * 10000] + list(range(10000)), "id": 2**70},
    ],
)
def test_hostile_packets_are_plain_data(value: Any) -> None:
    primus, _ = server()
    spark, conn = connect(primus)
    data: list[Any] = []
    news: list[Any] = []
    spark.on("data", data.append)
    spark.on("news", lambda *a: news.append(a))
    receive(spark, value)
    assert data == [value]
    assert spark.ready_state == Spark.OPEN
    if value == {"type": 0, "data": ["news" * 10000] + list(range(10000)), "id": 2**70}:
        return
    assert news == []
    assert conn.sent == []


def test_numeric_float_ack_id_is_echoed() -> None:
    primus, _ = server()
    spark, conn = connect(primus)
    spark.on("news", lambda: "ok")
    receive(spark, {"type": 0, "data": ["news"], "id": 0})  # falsy: no ack, as Node
    receive(spark, {"type": 0, "data": ["news"], "id": 2.5})
    assert conn.sent == ['{"id":2.5,"type":1,"data":["ok"]}']


# -- broadcasts and the spark class --------------------------------------------


def test_primus_send_broadcasts_encoded_once() -> None:
    parser = CountingParser()
    primus, _ = make_primus(transformer=FakeTransformer(), parser=parser, plugin="emitter")
    conns = [connect(primus)[1] for _ in range(5)]
    parser.encoded.clear()
    primus.send("tick", 1, {"b": 2})
    assert parser.encoded == [{"type": 0, "data": ["tick", 1, {"b": 2}]}]
    for conn in conns:
        assert conn.decoded == [{"type": 0, "data": ["tick", 1, {"b": 2}]}]
    with pytest.raises(PrimusError):
        primus.send("tick", ack=True)


def test_plugins_extend_only_their_server() -> None:
    with_plugin, _ = make_primus(transformer=FakeTransformer(), plugin="emitter")
    without, _ = make_primus(transformer=FakeTransformer())
    spark, _ = connect(with_plugin)
    plain, _ = connect(without)
    assert hasattr(spark, "send") and isinstance(spark, Spark)
    assert not hasattr(plain, "send")
    assert type(plain).__mro__[1] is Spark  # the plain class, one level down
    assert not hasattr(Spark, "send")


def test_event_names_must_be_strings() -> None:
    primus, _ = server()
    spark, conn = connect(primus)
    with pytest.raises(PrimusError):
        spark.send(1)  # type: ignore[arg-type]
    # Node's own emitter events are never sent, as with primus-emitter
    assert spark.send("newListener", 1) is False
    assert spark.send("removeListenerX") is False
    assert conn.sent == []


def test_bad_plugin_options() -> None:
    with pytest.raises(PrimusError):
        EmitterPlugin(ack_timeout=-1)
    with pytest.raises(PrimusError):
        EmitterPlugin(max_pending=0)


# -- the Python client half --------------------------------------------------------


def test_client_send_on_and_acks() -> None:
    h = Harness(plugin="emitter")
    transport = h.open()
    socket: Any = h.socket
    socket.on("greet", lambda name: f"hello {name}")
    d = socket.send("ask", 21, ack=True, timeout=2)
    socket.send("plain", 1)
    assert [json.loads(m) for m in transport.sent] == [
        {"type": 0, "data": ["ask", 21], "id": 1},
        {"type": 0, "data": ["plain", 1]},
    ]
    transport.receive({"type": 0, "data": ["greet", "bob"], "id": 1})
    assert json.loads(transport.sent[-1]) == {"id": 1, "type": 1, "data": ["hello bob"]}
    transport.receive({"id": 1, "type": 1, "data": [42]})
    assert sync.successResultOf(d) == [42]
    late = socket.send("ask", ack=True, timeout=2)
    h.clock.advance(2)
    sync.failureResultOf(late, AckTimeout)
    pending = socket.send("ask", ack=True)
    socket.end()
    sync.failureResultOf(pending, ConnectionEnded)
    assert h.idle()


def test_client_ignores_hostile_packets_and_reserved_events() -> None:
    h = Harness(plugin="emitter")
    transport = h.open()
    h.names()
    socket: Any = h.socket
    got: list[Any] = []
    socket.on("data", got.append)
    for value in (None, 3, "x", [1], {"type": 0, "data": ["open"]},
                  {"type": 0, "data": ["reconnect", {}], "id": 1},
                  {"id": 5, "type": 1, "data": ["x"]}):
        transport.receive(value)
    assert len(got) == 7
    assert transport.sent == []
    assert h.names() == ["data"] * 7  # no open, no reconnect


def test_buffered_send_before_open() -> None:
    h = Harness(plugin="emitter")
    socket: Any = h.socket
    d = socket.send("early", ack=True)
    transport = h.open()
    assert json.loads(transport.sent[0]) == {"type": 0, "data": ["early"], "id": 1}
    transport.receive({"id": 1, "type": 1, "data": []})
    assert sync.successResultOf(d) == []
    socket.end()


def test_plugin_found_by_name_everywhere() -> None:
    primus, _ = make_primus(transformer=FakeTransformer())
    found = primus.plugin("emitter")
    assert found is primus.plugin("emitter")
    assert primus.plugin("no-such-plugin") is None
    with pytest.raises(PrimusError, match="emitter"):
        make_primus(transformer=FakeTransformer(), plugin="emiter")
    assert succeed(None)


def test_ignored_acks_are_logged() -> None:
    from twisted.logger import globalLogPublisher

    events: list[Any] = []
    globalLogPublisher.addObserver(events.append)
    try:
        primus, _ = server()
        spark, _ = connect(primus)
        receive(spark, {"id": 41, "type": 1, "data": ["spoof"]})
    finally:
        globalLogPublisher.removeObserver(events.append)
    logged = [e for e in events if e.get("ack_id") == 41]
    assert len(logged) == 1
    assert logged[0]["log_level"].name == "warn"
    assert logged[0]["conn"] is spark


def test_create_socket_resolves_plugin_names_at_once() -> None:
    from primus_tx.client import create_socket

    Socket = create_socket(plugin="emitter, responder")
    assert sorted(Socket._defaults["plugin"]) == ["emitter", "responder"]
    with pytest.raises(PrimusError, match="Unknown plugin"):
        create_socket(plugin="emitter, nope")
    with pytest.raises(PrimusError):
        create_socket(plugin=42)
