"""
The substream plugin on fakes: its wire (substream 0.2.0's, as captured on
Node), both halves, flow control with Twisted producers, and hostile
messages.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from client_fakes import Harness
from fakes import FakeConnection, connect, make_primus
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IConsumer, IPushProducer
from twisted.protocols.basic import FileSender
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from primus_tx import Primus, PrimusError
from primus_tx.parsers import find_parser
from primus_tx.plugins.substream import END, SubStream

sync = SynchronousTestCase()


def server(**options: Any) -> Primus:
    primus, clock = make_primus(ping_interval=0, plugin="substream", **options)
    clock.advance(0)
    return primus


def receive(spark: Any, value: Any) -> None:
    spark.messageReceived(json.dumps(value))


def test_writes_are_substream_envelopes() -> None:
    primus = server()
    spark, conn = connect(primus)
    chat = spark.substream("chat")
    assert chat.write({"hello": "chat"}) is True
    chat.end()
    # As captured from Node's substream plugin, byte for byte.
    assert conn.sent == [
        '{"substream":"chat","args":{"hello":"chat"}}',
        '{"substream":"chat","args":"substream::end"}',
    ]


def test_same_name_same_stream_until_it_ends() -> None:
    primus = server()
    spark, _ = connect(primus)
    first = spark.substream("a")
    assert spark.substream("a") is first
    assert spark.substream("b") is not first
    first.end()
    assert spark.substream("a") is not first


def test_incoming_envelopes_reach_the_stream_and_not_data() -> None:
    primus = server()
    spark, _ = connect(primus)
    chat = spark.substream("chat")
    got: list[Any] = []
    chat.on("data", lambda d: got.append(("chat", d)))
    spark.on("data", lambda d: got.append(("spark", d)))
    receive(spark, {"substream": "chat", "args": {"hi": 1}})
    receive(spark, {"substream": "other", "args": 2})
    receive(spark, "plain")
    assert got == [
        ("chat", {"hi": 1}),
        # A name this side has not opened stays ordinary data, as on Node.
        ("spark", {"substream": "other", "args": 2}),
        ("spark", "plain"),
    ]


def test_the_peer_ends_a_stream() -> None:
    primus = server()
    spark, conn = connect(primus)
    chat = spark.substream("chat")
    events: list[str] = []
    chat.on("close", lambda: events.append("close"))
    chat.on("end", lambda: events.append("end"))
    receive(spark, {"substream": "chat", "args": END})
    assert events == ["close", "end"]
    assert chat.ready_state == SubStream.CLOSED
    assert chat.write("late") is False
    assert conn.sent == []  # no end marker back: the peer ended it
    # The name is free again: the next message is plain data.
    data: list[Any] = []
    spark.on("data", data.append)
    receive(spark, {"substream": "chat", "args": 1})
    assert data == [{"substream": "chat", "args": 1}]


def test_end_with_data_and_spark_end_ends_the_streams() -> None:
    primus = server()
    spark, conn = connect(primus)
    a = spark.substream("a")
    b = spark.substream("b")
    a.end("bye")
    assert conn.sent == [
        '{"substream":"a","args":"bye"}',
        '{"substream":"a","args":"substream::end"}',
    ]
    ended: list[str] = []
    b.on("end", lambda: ended.append("b"))
    states: list[int] = []
    b.on("readyStateChange", lambda: states.append(b.ready_state))
    spark.end()
    assert ended == ["b"]
    assert states == [SubStream.CLOSED]


def test_transforms_run_with_the_stream_as_spark() -> None:
    primus = server()
    seen: list[Any] = []

    def outgoing(packet: Any) -> None:
        seen.append(("out", packet.spark, packet.data))
        packet.data = {"wrapped": packet.data}

    def incoming(packet: Any) -> Any:
        seen.append(("in", packet.spark, packet.data))
        return None

    primus.transform("outgoing", outgoing)
    primus.transform("incoming", incoming)
    spark, conn = connect(primus)
    chat = spark.substream("chat")
    chat.write(1)
    receive(spark, {"substream": "chat", "args": 2})
    # The envelope itself is not run through the outgoing transforms again.
    assert conn.decoded == [{"substream": "chat", "args": {"wrapped": 1}}]
    assert ("out", chat, 1) in seen
    assert ("in", chat, 2) in seen


@pytest.mark.parametrize(
    "hostile",
    [
        None,
        [1, 2, 3],
        {"substream": None, "args": 1},
        {"substream": ["chat"], "args": 1},
        {"substream": {"chat": 1}},
        {"substream": "__proto__", "args": 1},
        {"substream": "chat"},
        "substream::end",
        0,
        "",
    ],
)
def test_hostile_messages_never_raise(hostile: Any) -> None:
    primus = server()
    spark, conn = connect(primus)
    chat = spark.substream("chat")
    got: list[Any] = []
    chat.on("data", got.append)
    data: list[Any] = []
    spark.on("data", data.append)
    errors: list[Any] = []
    primus.on("log", lambda *args: errors.append(args))
    receive(spark, hostile)
    assert not errors
    if hostile == {"substream": "chat"}:
        assert got == [None]  # a missing args is null, as JSON has it
    else:
        assert data == [hostile]
    assert not conn.closed


def test_names_are_strings() -> None:
    primus = server()
    spark, _ = connect(primus)
    with pytest.raises(PrimusError):
        spark.substream(3)  # type: ignore[arg-type]


def test_sparks_without_the_plugin_are_plain() -> None:
    primus, _clock = make_primus(ping_interval=0)
    spark, _ = connect(primus)
    assert not hasattr(spark, "substream")
    assert primus._incoming == []


# -- flow control ------------------------------------------------------------------


def test_a_substream_is_a_consumer_and_a_producer() -> None:
    primus = server()
    spark, _ = connect(primus)
    chat = spark.substream("chat")
    assert verifyObject(IConsumer, chat)
    assert verifyObject(IPushProducer, chat)


class Streaming:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pauseProducing(self) -> None:
        self.calls.append("pause")

    def resumeProducing(self) -> None:
        self.calls.append("resume")

    def stopProducing(self) -> None:
        self.calls.append("stop")


def test_a_full_send_buffer_pauses_the_streams_producers() -> None:
    primus = server()
    spark, conn = connect(primus)
    a, b = spark.substream("a"), spark.substream("b")
    pa, pb = Streaming(), Streaming()
    a.registerProducer(pa, True)
    b.registerProducer(pb, True)
    drained: list[str] = []
    a.on("drain", lambda: drained.append("a"))
    conn.pause_writing()
    assert a.write("x") is False
    conn.resume_writing()
    assert pa.calls == ["pause", "resume"]
    assert pb.calls == ["pause", "resume"]
    assert drained == ["a"]
    b.end()
    assert pb.calls[-1] == "stop"


def test_a_file_streams_into_a_substream() -> None:
    # Text chunks: the JSON parser carries str (bytes would need a binary
    # parser), so the "file" is a text file.
    primus, clock = make_primus(ping_interval=0, plugin="substream")
    clock.advance(0)
    spark, conn = connect(primus)
    stream = spark.substream("file")
    content = "".join(chr(65 + i % 26) for i in range(50000))
    done: Deferred[Any] = FileSender().beginFileTransfer(io.StringIO(content), stream)
    conn.pause_writing()
    clock.advance(0)
    sent_while_paused = len(conn.sent)
    clock.advance(0)
    assert len(conn.sent) == sent_while_paused  # nothing pulled while paused
    conn.resume_writing()
    while not done.called:
        clock.advance(0)
    received = "".join(m["args"] for m in conn.decoded)
    assert received == content


def test_a_binary_file_streams_into_a_substream() -> None:
    # The msgpack parser carries bytes inside an envelope, which JSON cannot.
    primus, clock = make_primus(ping_interval=0, plugin="substream", parser="msgpack")
    clock.advance(0)
    spark, conn = connect(primus, connection=FakeConnection(find_parser("msgpack")))
    stream = spark.substream("file")
    content = bytes(range(256)) * 300  # 76,800 bytes: five FileSender chunks
    done: Deferred[Any] = FileSender().beginFileTransfer(io.BytesIO(content), stream)
    clock.advance(0)
    conn.pause_writing()
    paused_at = len(conn.sent)
    for _ in range(5):
        clock.advance(0)
    assert len(conn.sent) == paused_at
    conn.resume_writing()
    while not done.called:
        clock.advance(0)
    chunks = [m["args"] for m in conn.decoded]
    assert all(type(c) is bytes for c in chunks) and len(chunks) > 2
    assert b"".join(chunks) == content


def test_pausing_a_stream_holds_its_messages_and_the_connection() -> None:
    primus = server()
    spark, conn = connect(primus)
    a, b = spark.substream("a"), spark.substream("b")
    got: list[Any] = []
    a.on("data", got.append)
    a.pauseProducing()
    b.pauseProducing()
    assert not conn.reading
    receive(spark, {"substream": "a", "args": 1})
    receive(spark, {"substream": "a", "args": 2})
    assert got == []
    a.resumeProducing()
    assert got == [1, 2]
    assert not conn.reading  # b still holds the connection
    b.resumeProducing()
    assert conn.reading


def test_a_paused_stream_that_ends_releases_the_connection() -> None:
    primus = server()
    spark, conn = connect(primus)
    a = spark.substream("a")
    a.pauseProducing()
    assert not conn.reading
    receive(spark, {"substream": "a", "args": END})  # the peer ends it
    assert conn.reading
    b = spark.substream("b")
    b.pauseProducing()
    spark.end()  # the connection ends: nothing to resume
    assert not conn.reading


# -- the Python client half --------------------------------------------------------


def test_client_substreams_on_the_wire() -> None:
    harness = Harness(plugin="substream")
    socket: Any = harness.socket
    transport = harness.open()
    chat = socket.substream("chat")
    got: list[Any] = []
    chat.on("data", got.append)
    chat.write({"hello": "chat"})
    transport.receive({"substream": "chat", "args": "hi"})
    transport.receive({"substream": "nope", "args": "hi"})
    transport.receive(None)
    assert got == ["hi"]
    ended: list[str] = []
    chat.on("end", lambda: ended.append("end"))
    transport.receive({"substream": "chat", "args": END})
    assert ended == ["end"]
    socket.substream("news").end("bye")
    assert transport.decoded == [
        {"substream": "chat", "args": {"hello": "chat"}},
        {"substream": "news", "args": "bye"},
        {"substream": "news", "args": END},
    ]


def test_client_streams_buffer_before_open_and_end_with_the_socket() -> None:
    harness = Harness(plugin="substream")
    socket: Any = harness.socket
    chat = socket.substream("chat")
    chat.write(1)
    transport = harness.open()
    assert transport.decoded == [{"substream": "chat", "args": 1}]
    ended: list[str] = []
    chat.on("end", lambda: ended.append("end"))
    socket.end()
    assert ended == ["end"]
