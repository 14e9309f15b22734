"""
Spark behaviour on a FakeConnection and a Clock: identity, writing,
ending, the ``primus::`` protocol, the connection handshake with async
listeners, the heartbeat sweep and flow control.
"""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.protocols.basic import FileSender
from twisted.trial.unittest import SynchronousTestCase

from primus_tx import Address, ParserError
from primus_tx.spark import Spark
from tests.fakes import CountingParser, FakeConnection, FakeTransformer, connect, make_primus

_sync = SynchronousTestCase()

_ID = re.compile(r"^[A-Za-z0-9_-]{21}$")


def _logged(primus: Any) -> list[Any]:
    logged: list[Any] = []
    primus.on("log", lambda level, error: logged.append((level, error)))
    return logged


# -- identity ------------------------------------------------------------------


def test_random_ids_are_21_url_safe_chars_and_unique() -> None:
    primus, _ = make_primus()
    ids = {connect(primus)[0].id for _ in range(200)}
    assert len(ids) == 200
    assert all(_ID.match(i) for i in ids)


def test_id_generator() -> None:
    counter = iter(range(100))
    primus, _ = make_primus(id_generator=lambda: f"spark-{next(counter)}")
    a, _ = connect(primus)
    b, _ = connect(primus, id="transport-id")
    assert (a.id, b.id) == ("spark-0", "spark-1")
    assert primus.spark("spark-1") is b


def test_transport_id_is_used_without_a_generator() -> None:
    primus, _ = make_primus()
    spark, _ = connect(primus, id="from-engine-io")
    assert spark.id == "from-engine-io"


def test_query_headers_request_socket() -> None:
    primus, _ = make_primus()
    request, socket = object(), object()
    spark, _ = connect(
        primus,
        headers={"host": "example.com", "connection": "Upgrade"},
        query={"foo": ["bar", "baz"], "_primuscb": "x"},
        request=request,
        socket=socket,
    )
    assert spark.headers["connection"] == "Upgrade"
    assert spark.query == {"foo": ["bar", "baz"], "_primuscb": "x"}
    assert spark.request is request
    assert spark.socket is socket
    assert spark.primus is primus
    assert spark.ready_state == Spark.OPEN == 3
    assert spark.readyState == 3
    assert Spark.CLOSED == 2 and Spark.OPENING == 1
    assert spark.id in repr(spark)


def test_address_from_the_peer() -> None:
    primus, _ = make_primus()
    spark, _ = connect(primus, peer=("192.0.2.7", 4321, True))
    assert spark.address == Address("192.0.2.7", 4321, True)
    assert (spark.address.ip, spark.address.port, spark.address.secure) == ("192.0.2.7", 4321, True)


def test_address_honours_x_forwarded_for() -> None:
    primus, _ = make_primus()
    spark, _ = connect(
        primus,
        headers={"x-forwarded-for": "13.3.37.1,12.12.12.12", "x-forwarded-port": "9083,1334"},
        peer=("10.0.0.2", 5555, False),
    )
    assert spark.address.ip == "13.3.37.1"
    assert spark.address.port == 9083


def test_address_whitelist_ignores_untrusted_proxies() -> None:
    primus, _ = make_primus(whitelist=["10.0.0.1"])
    trusted, _ = connect(
        primus, headers={"x-forwarded-for": "1.2.3.4"}, peer=("10.0.0.1", 1, False)
    )
    untrusted, _ = connect(
        primus, headers={"x-forwarded-for": "1.2.3.4"}, peer=("10.9.9.9", 2, False)
    )
    assert trusted.address.ip == "1.2.3.4"
    assert untrusted.address == Address("10.9.9.9", 2, False)


def test_address_prefers_what_the_forwarded_middleware_found() -> None:
    primus, _ = make_primus()

    class Request:
        forwarded = Address("203.0.113.5", 80, True)

    spark, _ = connect(primus, request=Request(), peer=("10.0.0.1", 1, False))
    assert spark.address == Address("203.0.113.5", 80, True)


def test_reserved_events() -> None:
    primus, _ = make_primus()
    spark, _ = connect(primus)
    for event in (
        "incoming::data",
        "outgoing::end",
        "readyStateChange",
        "heartbeat",
        "error",
        "data",
        "end",
    ):
        assert spark.reserved(event), event
    for event in ("ERROR", "custom", "Data"):
        assert not spark.reserved(event), event


def test_emits() -> None:
    primus, _ = make_primus()
    spark, _ = connect(primus)
    seen: list[Any] = []
    spark.on("custom", lambda *args: seen.append(args))
    spark.emits("custom")(1, 2)
    spark.emits("custom", lambda a, b: a + b)(1, 2)
    spark.emits("custom", lambda *a: None)(1, 2)
    assert seen == [(1, 2), (3,), ()]


# -- writing ------------------------------------------------------------------------


def test_write_encodes_with_the_parser_and_returns_true() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    assert spark.write({"a": [1, "é"]}) is True
    assert conn.sent == ['{"a":[1,"é"]}']


@pytest.mark.parametrize(
    ("value", "wire"), [(0, "0"), (False, "false"), (None, "null"), ("", '""')]
)
def test_write_falsy_values_are_sent(value: Any, wire: str) -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    spark.write(value)
    assert conn.sent == [wire]


def test_write_escapes_line_separators() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    spark.write(["\u2028\u2029"])
    assert conn.sent == ['["\\u2028\\u2029"]']


def test_write_bytes_goes_out_binary() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    spark.write(b"\x00\xff")
    assert conn.sent == [b"\x00\xff"]


def test_write_encode_failure_is_an_error_and_keeps_the_spark() -> None:
    primus, _ = make_primus()
    logged = _logged(primus)
    spark, conn = connect(primus)
    errors: list[Any] = []
    spark.on("error", errors.append)
    circular: dict[str, Any] = {}
    circular["self"] = circular
    spark.write(circular)
    assert conn.sent == []
    assert len(errors) == 1 and isinstance(errors[0], ParserError)
    assert str(errors[0]).startswith("Failed to encode outgoing data")
    assert logged == [("error", errors[0])]
    assert spark.write("still") is True
    assert conn.sent == ['"still"']


# -- ending ------------------------------------------------------------------------------


def test_end_writes_server_close_then_closes() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    spark.end()
    assert conn.log == [("send", '"primus::server::close"'), ("close", False)]
    assert spark.ready_state == Spark.CLOSED


def test_end_with_reconnect_writes_nothing() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    spark.end(reconnect=True)
    assert conn.log == [("close", True)]


def test_end_with_data_writes_it_first_through_the_transforms() -> None:
    primus, _ = make_primus()
    primus.transform("outgoing", lambda p: setattr(p, "data", f"[{p.data}]"))
    spark, conn = connect(primus)
    spark.end("bye")
    assert conn.log == [("send", '"[bye]"'), ("send", '"primus::server::close"'), ("close", False)]


def test_end_with_zero_sends_zero() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    spark.end(0)
    assert conn.sent == ["0", '"primus::server::close"']


def test_end_twice_is_a_no_op() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    ends: list[Any] = []
    spark.on("end", lambda: ends.append(1))
    spark.end()
    spark.end("again")
    spark.end(reconnect=True)
    assert conn.closes == [False]
    assert len(conn.sent) == 1
    assert ends == [1]


def test_ready_state_change_once() -> None:
    primus, _ = make_primus()
    spark, _ = connect(primus)
    changes: list[int] = []
    spark.on("readyStateChange", lambda: changes.append(spark.ready_state))
    spark.end()
    spark.end()
    assert changes == [Spark.CLOSED]


def test_disconnection_fires_before_user_end_listeners() -> None:
    primus, _ = make_primus()
    order: list[str] = []
    primus.on("disconnection", lambda s: order.append(f"disconnection:{primus.spark(s.id)}"))

    def on_connection(spark: Any) -> None:
        spark.on("end", lambda: order.append("end"))

    primus.on("connection", on_connection)
    spark, _ = connect(primus)
    spark.end()
    # the spark is already out of the registry when "disconnection" fires
    assert order == ["disconnection:None", "end"]


def test_write_after_end_returns_false_and_sends_nothing() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    spark.end(reconnect=True)
    assert spark.write("late") is False
    assert conn.sent == []


def test_messages_after_end_are_ignored() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    data: list[Any] = []
    spark.on("data", data.append)
    spark.end(reconnect=True)
    spark.messageReceived('"late"')
    spark.messageReceived('"primus::id::"')
    assert data == []
    assert conn.sent == []


def test_connection_lost_ends_without_writing() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    events: list[str] = []
    primus.on("disconnection", lambda s: events.append("disconnection"))
    spark.on("end", lambda: events.append("end"))
    spark.connectionLost(Exception("gone"))
    spark.connectionLost(Exception("twice"))
    assert conn.sent == []
    assert events == ["disconnection", "end"]
    assert spark.ready_state == Spark.CLOSED
    assert primus.connected == 0


def test_connection_failed_reports_then_ends() -> None:
    primus, _ = make_primus()
    logged = _logged(primus)
    spark, conn = connect(primus)
    errors: list[Any] = []
    spark.on("error", errors.append)
    problem = ValueError("Max payload size exceeded")
    spark.connectionFailed(problem)
    assert errors == [problem]
    assert logged == [("error", problem)]
    assert conn.log == [("send", '"primus::server::close"'), ("close", False)]


def test_error_without_listeners_is_only_logged() -> None:
    primus, _ = make_primus()
    logged = _logged(primus)
    spark, _ = connect(primus)
    spark.messageReceived("{not json")
    assert len(logged) == 1


# -- incoming and the primus:: protocol -------------------------------------------------------


def test_data_event() -> None:
    primus, _ = make_primus()
    spark, _ = connect(primus)
    data: list[Any] = []
    spark.on("data", data.append)
    spark.messageReceived('{"x":1}')
    spark.messageReceived(b"\x01\x02")
    assert data == [{"x": 1}, b"\x01\x02"]


def test_pong_sets_alive_and_emits_heartbeat() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    beats: list[Any] = []
    data: list[Any] = []
    spark.on("heartbeat", lambda *args: beats.append(args))
    spark.on("data", data.append)
    spark.alive = False
    spark.messageReceived('"primus::pong::1700000000000"')
    assert spark.alive is True
    assert beats == [()]
    assert data == []
    assert conn.sent == []


def test_id_request_is_answered() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    data: list[Any] = []
    spark.on("data", data.append)
    spark.messageReceived('"primus::id::whatever"')
    assert conn.decoded == [f"primus::id::{spark.id}"]
    assert data == []


@pytest.mark.parametrize(
    "message", ["primus::foo::bar", "primus::ping::123", "primus::server::close", "primus::"]
)
def test_other_primus_strings_are_data(message: str) -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    data: list[Any] = []
    spark.on("data", data.append)
    spark.messageReceived(f'"{message}"')
    assert data == [message]
    assert conn.sent == []


def test_protocol_only_for_strings() -> None:
    primus, _ = make_primus()
    spark, _ = connect(primus)
    data: list[Any] = []
    spark.on("data", data.append)
    spark.messageReceived('["primus::pong::1"]')
    assert data == [["primus::pong::1"]]


def test_data_does_not_count_as_alive() -> None:
    primus, _ = make_primus()
    spark, _ = connect(primus)
    spark.alive = False
    spark.messageReceived('"hello"')
    assert spark.alive is False


def test_a_decode_error_does_not_quote_the_clients_text() -> None:
    # Non-ASCII where the text stops being JSON: PyPy 3.9's decoder made an
    # error message the interpreter could not format (SystemError), and the
    # client's text has no place in the server's logs anyway.
    primus, _ = make_primus()
    logged = _logged(primus)
    spark, conn = connect(primus)
    errors: list[Any] = []
    spark.on("error", errors.append)
    spark.messageReceived("s\xe9cret")
    assert [str(error) for error in errors] == [
        "Failed to decode incoming data: JSON syntax error: line 1 column 1 (char 0)"
    ]
    assert logged == [("error", errors[0])]
    assert not conn.closed


def test_decode_error_emits_error_logs_and_keeps_the_connection() -> None:
    primus, _ = make_primus()
    logged = _logged(primus)
    spark, conn = connect(primus)
    errors: list[Any] = []
    data: list[Any] = []
    spark.on("error", errors.append)
    spark.on("data", data.append)
    spark.messageReceived("not json")
    assert len(errors) == 1
    assert isinstance(errors[0], ParserError)
    assert str(errors[0]).startswith("Failed to decode incoming data: ")
    assert logged == [("error", errors[0])]
    assert not conn.closed
    spark.messageReceived('"next"')
    assert data == ["next"]


def test_raising_data_listener_is_reported_and_the_spark_keeps_working() -> None:
    primus, _ = make_primus()
    logged = _logged(primus)
    spark, conn = connect(primus)
    data: list[Any] = []

    def bad(value: Any) -> None:
        if value == "boom":
            raise RuntimeError("listener broke")

    spark.on("data", bad)
    spark.on("data", data.append)
    spark.messageReceived('"boom"')
    spark.messageReceived('"fine"')
    assert [str(e) for _, e in logged] == ["listener broke"]
    assert "fine" in data
    assert spark.ready_state == Spark.OPEN
    assert not conn.closed


def test_parser_sees_every_message_once() -> None:
    parser = CountingParser()
    primus, _ = make_primus(parser=parser)
    spark, _ = connect(primus)
    spark.messageReceived('"a"')
    spark.messageReceived(b"b")
    assert parser.decoded == ['"a"', b"b"]


# -- the connection handshake -------------------------------------------------------------


def test_connection_event_before_any_data() -> None:
    primus, _ = make_primus()
    order: list[Any] = []
    primus.on("connection", lambda spark: order.append(("connection", spark.id)))
    spark, _ = connect(primus)
    assert order == [("connection", spark.id)]
    assert primus.spark(spark.id) is spark


def test_async_connection_listeners_run_in_order_and_data_is_queued() -> None:
    primus, _ = make_primus()
    order: list[Any] = []
    gates: list[Deferred[Any]] = [Deferred(), Deferred()]

    def first(spark: Any) -> Deferred[Any]:
        order.append("first")
        spark.on("data", lambda d: order.append(("data", d)))
        return gates[0]

    async def second(spark: Any) -> None:
        order.append("second")
        await gates[1]
        order.append("second done")

    primus.on("connection", first)
    primus.on("connection", second)
    primus.on("connection", lambda spark: order.append("third"))
    spark, conn = connect(primus)
    assert order == ["first"]
    spark.messageReceived('"hello"')
    spark.messageReceived('"primus::id::"')  # protocol is answered at once
    assert conn.decoded == [f"primus::id::{spark.id}"]
    spark.messageReceived('"in"')
    gates[0].callback(None)
    assert order == ["first", "second"]
    spark.messageReceived('"order"')
    gates[1].callback(None)
    assert order == [
        "first",
        "second",
        "second done",
        "third",
        ("data", "hello"),
        ("data", "in"),
        ("data", "order"),
    ]
    spark.messageReceived('"after"')
    assert order[-1] == ("data", "after")


def test_queued_data_is_transformed_before_queueing() -> None:
    primus, _ = make_primus()
    gate: Deferred[Any] = Deferred()
    data: list[Any] = []

    def on_connection(spark: Any) -> Deferred[Any]:
        spark.on("data", data.append)
        return gate

    primus.on("connection", on_connection)
    primus.transform("incoming", lambda p: setattr(p, "data", p.data + 1))
    spark, _ = connect(primus)
    spark.messageReceived("1")
    spark.messageReceived("2")
    gate.callback(None)
    assert data == [2, 3]


def test_failing_async_connection_listener_ends_the_spark_with_an_error() -> None:
    primus, _ = make_primus()
    logged = _logged(primus)
    errors: list[Any] = []
    later: list[Any] = []

    def on_connection(spark: Any) -> Deferred[Any]:
        spark.on("error", errors.append)
        return fail(PermissionError("not you"))

    primus.on("connection", on_connection)
    primus.on("connection", later.append)
    spark, conn = connect(primus)
    assert [str(e) for e in errors] == ["not you"]
    assert [str(e) for _, e in logged] == ["not you"]
    assert later == []
    assert spark.ready_state == Spark.CLOSED
    assert conn.log == [("send", '"primus::server::close"'), ("close", False)]
    assert primus.connected == 0


def test_raising_sync_connection_listener_ends_the_spark_with_an_error() -> None:
    primus, _ = make_primus()
    errors: list[Any] = []

    def on_connection(spark: Any) -> None:
        spark.on("error", errors.append)
        raise ValueError("sync refusal")

    primus.on("connection", on_connection)
    spark, conn = connect(primus)
    assert [str(e) for e in errors] == ["sync refusal"]
    assert spark.ready_state == Spark.CLOSED
    assert conn.closes == [False]


def test_queued_data_is_dropped_when_the_connection_listener_fails() -> None:
    primus, _ = make_primus()
    gate: Deferred[Any] = Deferred()
    data: list[Any] = []

    def on_connection(spark: Any) -> Deferred[Any]:
        spark.on("data", data.append)
        return gate

    primus.on("connection", on_connection)
    spark, _ = connect(primus)
    spark.messageReceived('"queued"')
    gate.errback(RuntimeError("no"))
    assert data == []
    assert spark.ready_state == Spark.CLOSED


# -- heartbeat -----------------------------------------------------------------------------------------


def test_first_tick_pings_with_the_clock_time() -> None:
    primus, clock = make_primus(ping_interval=10)
    clock.advance(1000)  # not a multiple of anything the sweep cares about
    spark, conn = connect(primus)
    clock.advance(10 - (1000 % 10) or 10)
    assert conn.decoded == [f"primus::ping::{int(clock.seconds() * 1000)}"]
    assert spark.alive is False


def test_ping_is_encoded_and_prepared_once_per_tick() -> None:
    parser = CountingParser()
    transformer = FakeTransformer()
    primus, clock = make_primus(ping_interval=5, parser=parser, transformer=transformer)
    conns = [connect(primus)[1] for _ in range(4)]
    clock.advance(5)
    assert parser.encoded == ["primus::ping::5000"]
    assert transformer.servers[0].prepared == ['"primus::ping::5000"']
    for conn in conns:
        assert conn.sent == ['"primus::ping::5000"']
        assert conn.log[0][0] == "prepared"


def test_websockets_ping_frame_is_a_prepared_text_message() -> None:
    primus, clock = make_primus(ping_interval=1)
    _, conn = connect(primus)
    clock.advance(1)
    assert conn.sent == ['"primus::ping::1000"']


def test_unanswered_ping_ends_with_reconnect_at_the_next_tick() -> None:
    primus, clock = make_primus(ping_interval=5)
    spark, conn = connect(primus)
    clock.advance(5)
    assert spark.ready_state == Spark.OPEN
    clock.advance(4)
    assert spark.ready_state == Spark.OPEN
    clock.advance(1)
    assert spark.ready_state == Spark.CLOSED
    # no primus::server::close: the client should reconnect
    assert conn.sent == ['"primus::ping::5000"']
    assert conn.closes == [True]
    assert primus.connected == 0


def test_pong_keeps_the_spark_alive() -> None:
    primus, clock = make_primus(ping_interval=5)
    spark, conn = connect(primus)
    for tick in range(1, 5):
        clock.advance(5)
        spark.messageReceived(f'"primus::pong::{tick * 5000}"')
    assert spark.ready_state == Spark.OPEN
    assert len(conn.sent) == 4


def test_websocket_ping_frame_keeps_the_spark_alive() -> None:
    primus, clock = make_primus(ping_interval=5)
    spark, _ = connect(primus)
    for _ in range(4):
        clock.advance(5)
        spark.pingReceived()
    assert spark.ready_state == Spark.OPEN


def test_data_does_not_keep_the_spark_alive() -> None:
    primus, clock = make_primus(ping_interval=5)
    spark, _ = connect(primus)
    clock.advance(5)
    spark.messageReceived('"chatty"')
    clock.advance(5)
    assert spark.ready_state == Spark.CLOSED


def test_overriding_spark_heartbeat() -> None:
    primus, clock = make_primus(ping_interval=5)
    spark, conn = connect(primus)
    calls: list[float] = []
    spark.heartbeat = lambda: calls.append(clock.seconds())
    clock.advance(5)
    clock.advance(5)
    clock.advance(5)
    assert calls == [5, 10, 15]
    assert conn.sent == []
    assert spark.ready_state == Spark.OPEN


def test_a_raising_heartbeat_does_not_stop_the_sweep() -> None:
    primus, clock = make_primus(ping_interval=5)
    logged = _logged(primus)
    bad, _ = connect(primus)
    good, conn = connect(primus)

    def broken() -> None:
        raise RuntimeError("custom heartbeat broke")

    bad.heartbeat = broken
    clock.advance(5)
    assert conn.sent == ['"primus::ping::5000"']
    assert [str(e) for _, e in logged] == ["custom heartbeat broke"]
    clock.advance(5)
    assert good.ready_state == Spark.CLOSED  # never answered


def test_no_heartbeat_when_disabled() -> None:
    primus, clock = make_primus(ping_interval=False)
    spark, conn = connect(primus)
    clock.advance(3600)
    assert conn.sent == []
    assert spark.ready_state == Spark.OPEN


# -- flow control ---------------------------------------------------------------------------------------


def test_pause_writing_makes_write_return_false_and_resume_emits_drain() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    drains: list[int] = []
    spark.on("drain", lambda: drains.append(1))
    conn.pause_writing()
    assert spark.write("a") is False
    assert conn.sent == ['"a"']  # still sent: False is advice, not refusal
    conn.resume_writing()
    assert drains == [1]
    assert spark.write("b") is True
    conn.resume_writing()  # not paused: no extra drain
    assert drains == [1]


def test_push_producer_is_paused_and_resumed() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    calls: list[str] = []

    class Producer:
        def pauseProducing(self) -> None:
            calls.append("pause")

        def resumeProducing(self) -> None:
            calls.append("resume")

        def stopProducing(self) -> None:
            calls.append("stop")

    spark.registerProducer(Producer(), True)
    assert calls == []
    conn.pause_writing()
    conn.pause_writing()
    assert calls == ["pause"]
    conn.resume_writing()
    assert calls == ["pause", "resume"]
    spark.unregisterProducer()
    conn.pause_writing()
    conn.resume_writing()
    assert calls == ["pause", "resume"]


def test_push_producer_registered_while_paused_is_paused_at_once() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    calls: list[str] = []

    class Producer:
        def pauseProducing(self) -> None:
            calls.append("pause")

        def resumeProducing(self) -> None:
            calls.append("resume")

        def stopProducing(self) -> None:
            calls.append("stop")

    conn.pause_writing()
    spark.registerProducer(Producer(), True)
    assert calls == ["pause"]
    conn.resume_writing()
    assert calls == ["pause", "resume"]
    spark.end()
    assert calls == ["pause", "resume", "stop"]


def test_registering_two_producers_raises() -> None:
    primus, _ = make_primus()
    spark, _ = connect(primus)

    class Producer:
        def pauseProducing(self) -> None: ...

        def resumeProducing(self) -> None: ...

        def stopProducing(self) -> None: ...

    spark.registerProducer(Producer(), True)
    with pytest.raises(RuntimeError):
        spark.registerProducer(Producer(), True)
    spark.unregisterProducer()
    spark.registerProducer(Producer(), True)


def test_registering_on_an_ended_spark_stops_the_producer() -> None:
    primus, _ = make_primus()
    spark, _ = connect(primus)
    spark.end()
    calls: list[str] = []

    class Producer:
        def stopProducing(self) -> None:
            calls.append("stop")

    spark.registerProducer(Producer(), True)
    assert calls == ["stop"]


def test_pull_producer_file_sender_runs_to_completion_on_the_clock() -> None:
    primus, clock = make_primus(ping_interval=0)
    spark, conn = connect(primus)
    content = bytes(range(256)) * 200  # 51200 bytes: four FileSender chunks

    # the transport's buffer fills up with the second chunk
    def fill_up(message: Any) -> None:
        if len(conn.sent) == 2:
            conn.pause_writing()

    conn.on_send = fill_up
    done = FileSender().beginFileTransfer(BytesIO(content), spark)
    assert conn.sent == []  # nothing until the reactor turns
    clock.advance(0)
    assert len(conn.sent) == 2
    clock.advance(0)
    clock.advance(1)
    assert len(conn.sent) == 2  # paused: the producer is not pulled
    assert clock.getDelayedCalls() == []
    _sync.assertNoResult(done)
    conn.resume_writing()
    clock.advance(0)
    assert b"".join(conn.sent) == content
    assert _sync.successResultOf(done) == content[-1:]
    assert clock.getDelayedCalls() == []


def test_ending_the_spark_stops_a_pull_producer_and_cancels_its_call() -> None:
    primus, clock = make_primus(ping_interval=0)
    spark, conn = connect(primus)
    conn.on_send = lambda message: conn.pause_writing()
    done = FileSender().beginFileTransfer(BytesIO(b"x" * 100000), spark)
    clock.advance(0)
    assert len(conn.sent) == 1
    conn.resume_writing()  # schedules the next pull
    conn.on_send = None
    assert len(clock.getDelayedCalls()) == 1
    spark.end(reconnect=True)
    assert clock.getDelayedCalls() == []
    _sync.failureResultOf(done)
    assert len(conn.sent) == 1


def test_pause_producing_pauses_reading() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    spark.pauseProducing()
    assert conn.reading is False
    spark.resumeProducing()
    assert conn.reading is True
    assert (conn.read_pauses, conn.read_resumes) == (1, 1)


def test_stop_producing_ends_the_spark() -> None:
    primus, _ = make_primus()
    spark, conn = connect(primus)
    spark.stopProducing()
    assert spark.ready_state == Spark.CLOSED
    assert conn.closed


def test_fake_connection_reports_buffered_amount() -> None:
    conn = FakeConnection()
    conn.buffered = 12
    assert conn.bufferedAmount() == 12


def test_sync_result_helpers_work_with_plain_deferreds() -> None:
    # guards the helper the other tests rely on
    assert _sync.successResultOf(succeed(1)) == 1


def test_errors_go_to_twisted_logger_with_named_fields_when_nobody_listens_to_log() -> None:
    from twisted.logger import LogLevel, capturedLogs

    primus, _ = make_primus()
    spark, _ = connect(primus)
    with capturedLogs() as events:
        spark.messageReceived("not json")
    warnings = [e for e in events if e.get("log_level") == LogLevel.warn]
    assert len(warnings) == 1
    event = warnings[0]
    assert event["error_type"] == "ParserError"
    assert str(event["error"]).startswith("Failed to decode incoming data")
    assert event["spark"] == spark.id


def test_end_is_safe_when_writing_its_data_ends_the_spark() -> None:
    # Primus re-checks the state after writing ``data`` in end(): a write
    # can end the spark (a transport failing synchronously, a transform
    # calling end()).  Nothing may be sent after the close, and "end" and
    # "disconnection" fire once.
    primus, _ = make_primus()
    spark, conn = connect(primus)
    events: list[str] = []
    primus.on("disconnection", lambda s: events.append("disconnection"))
    spark.on("end", lambda: events.append("end"))
    conn.on_send = lambda message: spark.connectionLost(None)
    spark.end("bye")
    assert conn.sent == ['"bye"']
    assert conn.closes == [True]
    assert events == ["disconnection", "end"]
