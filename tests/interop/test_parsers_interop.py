"""
Acceptance for the non-JSON parsers: the official Primus 8 client and
server (npm, with the npm codec packages pinned in tests/js) exchange random
values with primus-tx over every parser, compared value by value and, on
the wire, byte by byte with what the npm codecs write; and our Python client
does the same with our server.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted
from codecs_helpers import js_tagged, random_values, same
from nodepeer import NodePrimusServer, node_path
from twisted.internet.defer import Deferred

from primus_tx import PrimusError
from primus_tx.client import Socket
from primus_tx.parsers import find_parser

pytestmark = pytest.mark.timeout(60)

#: parser -> what of the random values it carries exactly (see codecs_helpers)
KINDS: dict[str, dict[str, bool]] = {
    # what node-binarypack writes: no dates, 32-bit integers, no empty buffer
    "binary": {"dates": False, "empty_binary": False, "wide_numbers": False},
    "ejson": {},
    "msgpack": {},
}
#: "engine.io polling" is engine.io kept from upgrading: every message is a
#: polling request or response (binary ones as base64 ``b`` packets).
TRANSFORMERS = ["websockets", "engine.io", "engine.io polling", "sockjs"]
POLLING_ONLY = "engine.io polling"
#: SockJS carries text only: binary parsers are refused with it (below).
PAIRS = [
    (parser, transformer)
    for parser in sorted(KINDS)
    for transformer in TRANSFORMERS
    if not (find_parser(parser).binary and transformer == "sockjs")
]
BINARY = [parser for parser in sorted(KINDS) if find_parser(parser).binary]
COUNT = 40


def wire_of(message: Any) -> dict[str, str]:
    if isinstance(message, str):
        return {"text": message}
    return {"hex": bytes(message).hex()}


async def check_received(codec: Any, values: list[Any], received: list[tuple[Any, Any]]) -> None:
    """
    Wait (bounded) until every value arrived as ``(data, raw)``; each must
    equal the value sent, its frame must be what ``codec`` writes for it.
    """
    deadline = 200
    while len(received) < len(values) and deadline:
        await sleep(0.05)
        deadline -= 1
    assert len(received) == len(values)
    for value, (data, raw) in zip(values, received):
        assert same(data, value), value
        assert wire_of(raw) == wire_of(codec.encode(value)), value


def batch(parser: str, seed: int) -> list[Any]:
    return random_values(seed, COUNT, **KINDS[parser])


class OurServer:
    """
    A primus-tx server for one case (a "transformer" of PAIRS), recording
    every incoming message as ``(data, raw)``.
    """

    def __init__(self, servers: Any, parser: str, transformer: str) -> None:
        self.polling = transformer == POLLING_ONLY
        self.transformer = transformer.split()[0]
        self.primus, self.url = servers.start(
            ping_interval=0, parser=parser, transformer=self.transformer
        )
        self.incoming: list[tuple[Any, Any]] = []
        self.primus.transform(
            "incoming", lambda packet: self.incoming.append((packet.data, packet.raw))
        )


@pytest.mark.parametrize(("parser", "transformer"), PAIRS)
@pytest_twisted.ensureDeferred
async def test_npm_client_and_our_server(
    peers: Any, servers: Any, parser: str, transformer: str
) -> None:
    codec = find_parser(parser)
    values = batch(parser, seed=len(parser) * 7 + len(transformer))
    ours = OurServer(servers, parser, transformer)
    sparks: list[Any] = []
    ours.primus.on("connection", sparks.append)

    node = await peers.client()
    await node.open_client(
        ours.url,
        {"websockets": False} if ours.polling else None,
        parser=parser,
        transformer=ours.transformer,
    )
    await node.eval(
        "const { describe, hexOf } = require('./values');"
        "client.on('data', (data, raw) => emit('typed', describe(data), hexOf(raw)));"
    )

    # client -> server: the npm codec's bytes are ours, the values are equal
    tagged = [js_tagged(value) for value in values]
    await node.eval(
        "const { build } = require('./values');"
        f"for (const t of {json.dumps(tagged)}) client.write(build(t));"
    )
    await check_received(codec, values, ours.incoming)

    # server -> client: values equal as JavaScript sees them, bytes as npm's
    for value in values:
        sparks[0].write(value)
    await node.wait_for("typed", n=len(values), timeout=10)
    for value, event in zip(values, node.named("typed")):
        described, raw = event["args"]
        assert described == js_tagged(value, keep_negative_zero=False), value
        assert raw == wire_of(codec.encode(value)), value
    assert not node.named("error")
    if ours.polling:  # nothing went over a WebSocket
        sessions = ours.primus._server.sessions.values()
        assert [session.transport for session in sessions] == ["polling"]


@pytest.mark.parametrize(("parser", "transformer"), PAIRS)
@pytest_twisted.ensureDeferred
async def test_our_client_and_a_node_server(reactor: Any, parser: str, transformer: str) -> None:
    codec = find_parser(parser)
    values = batch(parser, seed=len(parser) * 11 + len(transformer))
    polling = transformer == POLLING_ONLY
    transformer = transformer.split()[0]
    server = await NodePrimusServer.start(
        reactor,
        {"pingInterval": False, "parser": parser, "transformer": transformer, "echo": False},
        node=node_path(),
    )
    socket = None
    try:
        await server.eval(
            "const { describe, hexOf } = require('./values');"
            "primus.on('connection', (spark) => spark.on('data', (data, raw) =>"
            "  emit('typed', [describe(data), hexOf(raw)])));"
        )
        socket = await Socket.connect(
            server.url,
            parser=parser,
            transformer=transformer,
            transport={"websockets": False} if polling else {},
            reactor=reactor,
        )
        await server.wait_for("connection")
        for value in values:
            socket.write(value)
        await server.wait_for("typed", n=len(values), timeout=10)
        for value, event in zip(values, server.named("typed")):
            described, raw = event["args"]
            assert described == js_tagged(value, keep_negative_zero=False), value
            assert raw == wire_of(codec.encode(value)), value

        received: list[tuple[Any, Any]] = []
        socket.transform("incoming", lambda packet: received.append((packet.data, packet.raw)))
        tagged = [js_tagged(value) for value in values]
        await server.eval(
            "const { build } = require('./values');"
            "const spark = Object.values(sparks)[0];"
            f"for (const t of {json.dumps(tagged)}) spark.write(build(t));"
        )
        await check_received(codec, values, received)
        assert not server.named("error")
    finally:
        if socket is not None:
            await socket.end()
        await server.stop()


@pytest.mark.parametrize(("parser", "transformer"), PAIRS)
@pytest_twisted.ensureDeferred
async def test_our_client_and_our_server(
    reactor: Any, servers: Any, parser: str, transformer: str
) -> None:
    codec = find_parser(parser)
    values = batch(parser, seed=len(parser) * 5 + len(transformer))
    ours = OurServer(servers, parser, transformer)
    ours.primus.on("connection", lambda spark: spark.on("data", spark.write))
    socket = await ours.primus.Socket.connect(
        ours.url, transport={"websockets": False} if ours.polling else {}, reactor=reactor
    )
    try:
        received: list[tuple[Any, Any]] = []
        socket.transform("incoming", lambda packet: received.append((packet.data, packet.raw)))
        for value in values:
            socket.write(value)
        await check_received(codec, values, ours.incoming)
        await check_received(codec, values, received)
    finally:
        await socket.end()


@pytest.mark.parametrize("parser", sorted(KINDS))
@pytest_twisted.ensureDeferred
async def test_heartbeats_in_every_parser(
    reactor: Any, peers: Any, servers: Any, parser: str
) -> None:
    # Our pings, in the parser's encoding, answered by the npm client... The
    # intervals leave room for a loaded machine: a pong that misses one
    # interval ends the spark, which would fail the test for no codec reason.
    primus, url = servers.start(ping_interval=0.5, parser=parser)
    beats: list[str] = []
    primus.on("connection", lambda spark: spark.on("heartbeat", lambda: beats.append(spark.id)))
    node = await peers.client()
    await node.open_client(url, {"pingTimeout": 5000}, parser=parser)
    await node.wait_for("incoming::ping", n=4)
    deadline = 200
    while len(beats) < 3 and deadline:
        await sleep(0.05)
        deadline -= 1
    assert len(beats) >= 3 and not node.named("close") and not node.named("error")

    # ...and a Node server's, answered by our client.
    server = await peers.server({"pingInterval": 250, "parser": parser})
    socket = await Socket.connect(server.url, parser=parser, ping_timeout=2.0, reactor=reactor)
    try:
        await server.wait_for("heartbeat", n=3)
        assert server.named("end") == [] and server.named("error") == []
        assert socket.ready_state == Socket.OPEN
    finally:
        await socket.end()


def sleep(seconds: float) -> Deferred[None]:
    from twisted.internet import reactor
    from twisted.internet.task import deferLater

    return deferLater(reactor, seconds, lambda: None)


@pytest.mark.parametrize("parser", BINARY)
def test_sockjs_refuses_binary_parsers(servers: Any, parser: str) -> None:
    with pytest.raises(PrimusError, match="carries text only"):
        servers.primus(parser=parser, transformer="sockjs")
    with pytest.raises(PrimusError, match="carries text only"):
        Socket("http://127.0.0.1:1", parser=parser, transformer="sockjs", manual=True)
