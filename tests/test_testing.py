"""
primus_tx.testing: the fakes application authors test with behave as the
real transports do, as far as a spark or a client socket can tell — and
the worked example of docs/testing.rst passes.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyClass, verifyObject

from primus_tx import ParserError, PrimusError, Spark
from primus_tx.client import IClientTransport, Socket
from primus_tx.interfaces import IConnection, IParser, ITransformer
from primus_tx.parsers.json import parser as json_parser
from primus_tx.testing import (
    FakeClientTransformer,
    FakeClientTransport,
    FakeConnection,
    PrimusFixture,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"

sync = SynchronousTestCase()


def echo(fixture: PrimusFixture) -> list[Spark]:
    """
    A "connection" handler that echoes every message back; the sparks seen.
    """
    seen: list[Spark] = []

    def connection(spark: Spark) -> None:
        seen.append(spark)
        spark.on("data", lambda data: spark.write(["echo", data]))

    fixture.primus.on("connection", connection)
    return seen


# -- the interfaces --------------------------------------------------------------


def test_the_fakes_provide_the_interfaces_they_stand_for() -> None:
    assert verifyObject(IConnection, FakeConnection())
    assert verifyClass(IClientTransport, FakeClientTransport)
    transformer = FakeClientTransformer()
    assert verifyObject(ITransformer, transformer)
    assert verifyClass(IClientTransport, transformer.client())
    assert issubclass(transformer.client(), FakeClientTransport)


# -- PrimusFixture.connect -----------------------------------------------------------


def test_connect_makes_a_registered_spark_and_runs_the_connection_listeners() -> None:
    fixture = PrimusFixture()
    seen = echo(fixture)
    spark, client = fixture.connect()
    assert seen == [spark]
    assert fixture.primus.spark(spark.id) is spark
    assert fixture.primus.connected == 1
    assert fixture.connections == [client]
    assert client.spark is spark
    assert spark.socket is client
    assert spark.ready_state == Spark.OPEN


def test_a_query_string_is_parsed_as_primus_parses_it() -> None:
    fixture = PrimusFixture()
    spark, _ = fixture.connect(query="?name=ada+l&tag=a&tag=b&flag")
    assert spark.query == {"name": "ada l", "tag": ["a", "b"], "flag": ""}
    spark, _ = fixture.connect(query={"name": "grace", "tag": ["x", "y"]})
    assert spark.query == {"name": "grace", "tag": ["x", "y"]}
    spark, _ = fixture.connect()
    assert spark.query == {}


def test_headers_are_lower_case_and_proxy_headers_give_the_address() -> None:
    fixture = PrimusFixture()
    spark, _ = fixture.connect(
        headers={"User-Agent": "tests", "X-Forwarded-For": "203.0.113.9, 10.0.0.1"},
        peer=("10.0.0.1", 4000, False),
    )
    assert spark.headers == {"user-agent": "tests", "x-forwarded-for": "203.0.113.9, 10.0.0.1"}
    assert spark.address.ip == "203.0.113.9"
    spark, _ = fixture.connect(peer=("192.0.2.1", 4321, True))
    assert (spark.address.ip, spark.address.port, spark.address.secure) == ("192.0.2.1", 4321, True)


def test_the_transport_id_and_the_id_generator_are_honoured() -> None:
    spark, _ = PrimusFixture().connect(id="transport-id")
    assert spark.id == "transport-id"
    spark, _ = PrimusFixture(id_generator=lambda: "generated").connect(id="transport-id")
    assert spark.id == "generated"


def test_options_reach_primus_and_a_given_clock_is_used() -> None:
    clock = Clock()
    fixture = PrimusFixture(reactor=clock, pathname="/rt", ping_interval=0)
    assert fixture.clock is clock
    assert fixture.primus.spec["pathname"] == "/rt"
    assert fixture.primus.spec["pingInterval"] is False


# -- what the client receives ----------------------------------------------------------


def test_messages_are_what_the_client_application_sees() -> None:
    fixture = PrimusFixture()
    echo(fixture)
    spark, client = fixture.connect()
    client.receive({"n": 1})
    client.receive("primus::id::")  # the client asks for its id
    fixture.advance(30)  # a heartbeat ping
    spark.write("primus::other::kept")
    assert client.sent == [
        '["echo",{"n":1}]',
        f'"primus::id::{spark.id}"',
        '"primus::ping::30000"',
        '"primus::other::kept"',
    ]
    assert client.decoded == [
        ["echo", {"n": 1}],
        f"primus::id::{spark.id}",
        "primus::ping::30000",
        "primus::other::kept",
    ]
    assert client.messages == [["echo", {"n": 1}], "primus::other::kept"]


def test_broadcasts_are_unwrapped_whatever_the_transformer() -> None:
    for transformer in ("websockets", "faye", "engine.io", "sockjs", "browserchannel"):
        fixture = PrimusFixture(transformer=transformer)
        _, one = fixture.connect()
        _, two = fixture.connect()
        fixture.primus.write({"to": "all"})
        assert one.messages == two.messages == [{"to": "all"}], transformer
        assert one.log == [("prepared", '{"to":"all"}')]
        assert one.prepared[0] is two.prepared[0]


@pytest.mark.parametrize("size", [10, 200, 70000])
def test_websocket_frames_of_every_length_are_read_back(size: int) -> None:
    fixture = PrimusFixture()
    _, client = fixture.connect()
    fixture.primus.write("x" * size)
    fixture.primus.write(b"\x00" * size)
    assert client.sent == [f'"{"x" * size}"', b"\x00" * size]


def test_an_unknown_kind_of_prepared_broadcast_is_refused_clearly() -> None:
    connection = FakeConnection()
    with pytest.raises(TypeError, match="cannot read a broadcast prepared as object"):
        connection.sendPrepared(object())
    assert connection.sent == []


@implementer(IParser)
class Reversing:
    """
    JSON written backwards: a parser whose wire text no one would mistake
    for the default's.
    """

    name = "reversing"
    binary = False

    def encode(self, data: Any) -> str:
        return json_parser.encode(data)[::-1]

    def decode(self, message: Any) -> Any:
        return json_parser.decode(message[::-1])

    def library(self) -> str:
        return ""


def test_the_server_parser_decodes_what_was_sent() -> None:
    fixture = PrimusFixture(parser=Reversing())
    echo(fixture)
    _, client = fixture.connect()
    client.receive("hi")
    assert client.sent == [']"ih","ohce"[']
    assert client.messages == [["echo", "hi"]]


# -- playing the client ---------------------------------------------------------------------


def test_a_message_that_does_not_decode_is_reported_and_the_connection_kept() -> None:
    fixture = PrimusFixture()
    spark, client = fixture.connect()
    errors: list[Exception] = []
    spark.on("error", errors.append)
    client.receive_raw("{not json")
    assert isinstance(errors[0], ParserError)
    assert not client.closed


def test_data_waits_for_an_asynchronous_connection_listener() -> None:
    fixture = PrimusFixture()
    ready: Deferred[None] = Deferred()
    received: list[Any] = []

    def connection(spark: Spark) -> Deferred[None]:
        spark.on("data", received.append)
        return ready

    fixture.primus.on("connection", connection)
    _, client = fixture.connect()
    client.receive(1)
    client.receive(2)
    assert received == []
    ready.callback(None)
    assert received == [1, 2]


def test_a_pong_answers_the_heartbeat_and_silence_ends_the_spark() -> None:
    fixture = PrimusFixture(ping_interval=10)
    spark, client = fixture.connect()
    heartbeats: list[None] = []
    spark.on("heartbeat", lambda: heartbeats.append(None))
    fixture.advance(10)
    client.pong()
    assert client.log[-1] == ("prepared", '"primus::ping::10000"')
    assert heartbeats == [None]
    fixture.advance(10)  # answered: pinged again
    assert client.decoded[-1] == "primus::ping::20000"
    fixture.advance(10)  # unanswered: dropped, the client may reconnect
    assert client.closes == [True]
    assert not client.ended_by_server
    assert spark.ready_state == Spark.CLOSED


def test_a_pong_needs_a_ping_or_a_timestamp() -> None:
    fixture = PrimusFixture()
    spark, client = fixture.connect()
    with pytest.raises(PrimusError, match="no ping to answer"):
        client.pong()
    heartbeats: list[None] = []
    spark.on("heartbeat", lambda: heartbeats.append(None))
    client.pong(1234)
    client.ping()  # a WebSocket PING frame counts too
    assert heartbeats == [None, None]


def test_losing_the_connection_ends_the_spark_without_a_word() -> None:
    fixture = PrimusFixture()
    spark, client = fixture.connect()
    events: list[str] = []
    fixture.primus.on("disconnection", lambda s: events.append("disconnection"))
    spark.on("end", lambda: events.append("end"))
    client.lose()
    assert events == ["disconnection", "end"]
    assert client.closes == [True]
    assert client.sent == []
    assert fixture.primus.connected == 0


def test_a_transport_failure_is_reported_and_the_client_told_to_stop() -> None:
    fixture = PrimusFixture()
    spark, client = fixture.connect()
    errors: list[Exception] = []
    spark.on("error", errors.append)
    client.fail(ValueError("frame too big"))
    assert [str(e) for e in errors] == ["frame too big"]
    assert client.ended_by_server
    assert client.closes == [False]


def test_spark_end_tells_the_client_not_to_reconnect() -> None:
    fixture = PrimusFixture()
    spark, client = fixture.connect()
    spark.end({"bye": True})
    assert client.messages == [{"bye": True}]
    assert client.decoded[-1] == "primus::server::close"
    assert client.ended_by_server and client.closes == [False]
    with pytest.raises(AssertionError, match="after closing"):
        client.send("late")


def test_flow_control_is_played_by_the_connection() -> None:
    fixture = PrimusFixture()
    spark, client = fixture.connect()
    drains: list[None] = []
    spark.on("drain", lambda: drains.append(None))
    client.buffered = 70000
    assert client.bufferedAmount() == 70000
    client.pause_writing()
    assert spark.write("a") is False
    client.resume_writing()
    assert drains == [None]
    assert spark.write("b") is True
    spark.pauseProducing()
    assert client.reading is False and client.read_pauses == 1
    spark.resumeProducing()
    assert client.reading is True and client.read_resumes == 1


def test_on_send_can_fill_the_buffer_at_a_given_message() -> None:
    fixture = PrimusFixture()
    spark, client = fixture.connect()
    client.on_send = lambda message: client.pause_writing() if message == '"full"' else None
    assert spark.write("fine") is True
    assert spark.write("full") is False


def test_a_connection_without_a_spark_says_so() -> None:
    with pytest.raises(PrimusError, match="not connected"):
        FakeConnection().receive("x")


# -- shutting down --------------------------------------------------------------------------


def test_destroy_ends_every_spark_and_refuses_new_connections() -> None:
    fixture = PrimusFixture()
    _, one = fixture.connect()
    _, two = fixture.connect()
    done = fixture.destroy(timeout=5)
    sync.successResultOf(done)
    assert one.ended_by_server and two.ended_by_server
    with pytest.raises(PrimusError, match="destroyed"):
        fixture.connect()


def test_destroy_with_reconnect_asks_clients_to_come_back() -> None:
    fixture = PrimusFixture()
    _, client = fixture.connect()
    sync.successResultOf(fixture.destroy(reconnect=True))
    assert client.closes == [True] and not client.ended_by_server


# -- the client side -------------------------------------------------------------------------


def client_socket(**options: Any) -> tuple[Socket, FakeClientTransformer, Clock]:
    clock = Clock()
    transformer = FakeClientTransformer()
    socket = Socket(
        "http://example.com:8080/?room=1", transformer=transformer, reactor=clock, **options
    )
    return socket, transformer, clock


def test_a_socket_on_the_fake_transport_opens_writes_and_answers_pings() -> None:
    socket, transformer, clock = client_socket()
    with pytest.raises(PrimusError, match="not tried to connect"):
        transformer.transport  # noqa: B018
    socket.write({"early": True})
    clock.advance(0)
    transport = transformer.transport
    assert transport.url is not None and transport.url.startswith(
        "ws://example.com:8080/primus?room=1&_primuscb="
    )
    assert transport.headers == {}
    received: list[Any] = []
    socket.on("data", received.append)
    transport.accept()
    transport.receive({"hello": 1})
    transport.ping()
    socket.write("later")
    assert received == [{"hello": 1}]
    assert transport.decoded == [{"early": True}, "primus::pong::0", "later"]
    assert transport.messages == [{"early": True}, "later"]
    socket.end()
    assert transport.closed


def test_the_server_ending_the_spark_ends_the_socket() -> None:
    socket, transformer, clock = client_socket()
    clock.advance(0)
    transformer.transport.accept()
    events: list[str] = []
    for name in ("close", "end", "reconnect scheduled"):
        socket.on(name, lambda *args, name=name: events.append(name))
    transformer.transport.server_end()
    assert events == ["close", "end"]
    assert not clock.getDelayedCalls()


def test_the_server_asking_for_a_reconnect_gets_a_new_transport() -> None:
    socket, transformer, clock = client_socket(reconnect={"min": 1.0})
    clock.advance(0)
    transformer.transport.accept()
    transformer.transport.server_end(reconnect=True)
    clock.advance(1.0)
    assert len(transformer.transports) == 2
    transformer.transport.fail(ConnectionRefusedError("refused"))
    transformer.transport.receive_raw("ignored: no transport took it")
    socket.end()
    assert not clock.getDelayedCalls()


def test_a_failed_attempt_fails_connect() -> None:
    clock = Clock()
    transformer = FakeClientTransformer()
    d = Socket.connect("http://example.com", transformer=transformer, reactor=clock, strategy=False)
    clock.advance(0)
    transformer.transport.fail(ConnectionRefusedError("refused"))
    assert "refused" in str(sync.failureResultOf(d).value)


def test_the_client_transformer_has_no_server_side() -> None:
    with pytest.raises(PrimusError, match="PrimusFixture"):
        FakeClientTransformer().server(object())
    assert FakeClientTransformer().library() == ""


def test_a_client_transformer_parser_is_used_by_its_transports() -> None:
    clock = Clock()
    transformer = FakeClientTransformer(parser=Reversing())
    socket = Socket(
        "http://example.com", transformer=transformer, parser=Reversing(), reactor=clock
    )
    received: list[Any] = []
    socket.on("data", received.append)
    clock.advance(0)
    transformer.transport.accept()
    transformer.transport.receive("hi")
    socket.write("there")
    assert received == ["hi"]
    assert transformer.transport.sent == ['"ereht"']
    assert transformer.transport.messages == ["there"]
    socket.end()


# -- the worked example of docs/testing.rst ----------------------------------------------------


def _example_tests() -> list[str]:
    source = (EXAMPLES / "test_chat.py").read_text(encoding="utf-8")
    return re.findall(r"^def (test_\w+)\(", source, re.MULTILINE)


def test_the_example_has_tests() -> None:
    assert len(_example_tests()) >= 4


@pytest.mark.parametrize("name", _example_tests())
def test_the_documented_example_passes(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for module in ("chat", "test_chat"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    example = importlib.import_module("test_chat")
    getattr(example, name)()


def _literal_blocks() -> list[str]:
    """
    The code of docs/testing.rst's ``::`` literal blocks.
    """
    lines = (EXAMPLES.parent / "testing.rst").read_text(encoding="utf-8").splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.endswith("::") and not line.lstrip().startswith(".."):
            block = []
            for following in lines[i + 2 :]:
                if following and not following.startswith("    "):
                    break
                block.append(following[4:])
            blocks.append("\n".join(block).strip() + "\n")
    return blocks


def test_the_documented_snippets_run() -> None:
    blocks = _literal_blocks()
    assert len(blocks) == 2
    for block in blocks:
        namespace: dict[str, Any] = {
            "Clock": Clock,
            "Deferred": Deferred,
            "FakeClientTransformer": FakeClientTransformer,
            "Socket": Socket,
            "fixture": PrimusFixture(),
        }
        exec(compile(block, "docs/testing.rst", "exec"), namespace)
