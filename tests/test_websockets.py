"""
The Autobahn engine's framing (``faye``, and ``websockets`` with compression): messages of every header size
reach a real WebSocket client intact, with and without compression, and
broadcasts and heartbeats use the frame prepared once.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateResponse,
    PerMessageDeflateResponseAccept,
)
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import Primus, PrimusError
from primus_tx.transformers.websockets.server import (
    PrimusWebSocketProtocol,
    _frame_header,
    bounded_inflation,
)

pytestmark = pytest.mark.timeout(30)

# Payload sizes around every boundary of the frame header's length field.
SIZES = [0, 1, 125, 126, 127, 65535, 65536, 200_000]


class Collector(WebSocketClientProtocol):
    def onOpen(self) -> None:
        self.factory.opened.callback(self)

    def onMessage(self, payload: bytes, is_binary: bool) -> None:
        if payload.startswith(b'"primus::ping'):
            return
        self.factory.messages.append((payload, is_binary))
        waiter = self.factory.waiter
        if waiter and len(self.factory.messages) >= waiter[0]:
            self.factory.waiter = None
            waiter[1].callback(None)


async def collect(reactor: Any, port: int, count: int, compress: bool = False) -> Any:
    factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}/primus")
    factory.protocol = Collector
    factory.opened = Deferred()
    factory.messages = []
    done: Deferred[None] = Deferred()
    factory.waiter = (count, done)
    if compress:
        factory.setProtocolOptions(
            perMessageCompressionOffers=[PerMessageDeflateOffer()],
            perMessageCompressionAccept=lambda response: PerMessageDeflateResponseAccept(response)
            if isinstance(response, PerMessageDeflateResponse)
            else None,
        )
    reactor.connectTCP("127.0.0.1", port, factory)
    client = await factory.opened
    return client, factory, done


def test_frame_header_lengths() -> None:
    """
    The three encodings of the payload length (RFC 6455 §5.2).
    """
    assert _frame_header(0x81, 0) == b"\x81\x00"
    assert _frame_header(0x81, 125) == b"\x81\x7d"
    assert _frame_header(0x82, 126) == b"\x82\x7e\x00\x7e"
    assert _frame_header(0x81, 65535) == b"\x81\x7e\xff\xff"
    assert _frame_header(0x81, 65536) == b"\x81\x7f" + (65536).to_bytes(8, "big")


def test_the_protocol_keeps_autobahns_logger() -> None:
    """
    Autobahn logs through its own txaio logger; a twisted.logger Logger in
    its place turns two debug calls per message into real log events.
    """
    assert not isinstance(PrimusWebSocketProtocol.log, Logger)


@pytest.mark.parametrize("compression", [False, True])
@pytest_twisted.ensureDeferred
async def test_every_header_size_reaches_the_client(reactor: Any, compression: bool) -> None:
    """
    Text and binary messages of every length class arrive intact, framed
    by us or (with permessage-deflate) by Autobahn.
    """
    site = Site(Resource())
    if compression and not bounded_inflation():
        # This Autobahn cannot bound decompression: Primus refuses it.
        with pytest.raises(PrimusError):
            Primus(site, transformer="faye", ping_interval=0, compression=True)
        return
    primus = Primus(site, transformer="faye", ping_interval=0, compression=compression)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    sparks: list[Any] = []
    primus.on("connection", sparks.append)
    try:
        client, factory, done = await collect(
            reactor, port.getHost().port, 2 * len(SIZES), compress=compression
        )
        while not sparks:
            await Deferred.fromCoroutine(_tick(reactor))
        for size in SIZES:
            sparks[0].write("é" * (size // 2))
            sparks[0].write(b"\x00" * size)
        await done.addTimeout(10, reactor)
        expected = []
        for size in SIZES:
            expected.append((('"' + "é" * (size // 2) + '"').encode(), False))
            expected.append((b"\x00" * size, True))
        assert factory.messages == expected
        if compression:
            assert client._perMessageCompress is not None
        client.dropConnection(abort=True)
    finally:
        await primus.destroy()
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_broadcast_and_heartbeat_use_the_prepared_frame(reactor: Any) -> None:
    """
    ``primus.write`` and the heartbeat send the frame prepared once; every
    client receives it.
    """
    site = Site(Resource())
    primus = Primus(site, transformer="faye", ping_interval=0)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    try:
        clients = [await collect(reactor, port.getHost().port, 1) for _ in range(3)]
        while primus.connected < 3:
            await Deferred.fromCoroutine(_tick(reactor))
        primus.write({"to": "all", "big": "x" * 70000})
        for _, factory, done in clients:
            await done.addTimeout(5, reactor)
            assert factory.messages == [(b'{"to":"all","big":"' + b"x" * 70000 + b'"}', False)]
        pings: list[bytes] = []
        first = clients[0][0]
        first.onMessage = lambda payload, binary: pings.append(payload)
        primus._sweep()
        while not pings:
            await Deferred.fromCoroutine(_tick(reactor))
        assert pings[0].startswith(b'"primus::ping::')
        for client, _, _ in clients:
            client.dropConnection(abort=True)
    finally:
        await primus.destroy()
        await port.stopListening()


async def _tick(reactor: Any) -> None:
    d: Deferred[None] = Deferred()
    reactor.callLater(0.01, d.callback, None)
    await d


@pytest_twisted.ensureDeferred
async def test_connections_share_the_servers_options(reactor: Any) -> None:
    """
    An open connection keeps no copy of the Autobahn options (they live on
    the server's protocol class), and they still apply: max_length is
    enforced with 1009.
    """
    site = Site(Resource())
    primus = Primus(site, transformer="faye", ping_interval=0, max_length=1000)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    sparks: list[Any] = []
    primus.on("connection", sparks.append)
    try:
        client, _factory, _ = await collect(reactor, port.getHost().port, 1)
        closed: Deferred[Any] = Deferred()
        client.onClose = lambda clean, code, reason: closed.callback(code)
        while not sparks:
            await Deferred.fromCoroutine(_tick(reactor))
        await Deferred.fromCoroutine(_tick(reactor))
        protocol = sparks[0].socket
        assert not set(protocol.CONFIG_ATTRS) & set(vars(protocol))
        assert protocol.maxMessagePayloadSize == 1000
        client.sendMessage(b'"' + b"x" * 2000 + b'"', False)
        assert await closed.addTimeout(5, reactor) == 1009
    finally:
        await primus.destroy()
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_direct_writes_keep_order_with_queued_data(reactor: Any) -> None:
    """
    Messages go straight to the socket only when nothing is queued: once
    the transport holds data (the client stopped reading), later messages
    queue behind it and everything arrives in order.
    """
    site = Site(Resource())
    # 36 MB for a client that stops reading: no slow-client cap here.
    primus = Primus(site, transformer="faye", ping_interval=0, max_buffered=0)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    sparks: list[Any] = []
    primus.on("connection", sparks.append)
    try:
        total = 600
        client, factory, done = await collect(reactor, port.getHost().port, total)
        while not sparks:
            await Deferred.fromCoroutine(_tick(reactor))
        spark = sparks[0]
        client.transport.pauseProducing()
        queued_at = None
        for index in range(total):
            spark.write({"n": index, "pad": "x" * 60000})
            if queued_at is None and spark.socket.bufferedAmount() > 0:
                queued_at = index
        assert queued_at is not None, "the kernel took everything; nothing was queued"
        client.transport.resumeProducing()
        await done.addTimeout(20, reactor)
        assert [int(p.split(b",")[0][5:]) for p, _ in factory.messages] == list(range(total))
        client.dropConnection(abort=True)
    finally:
        await primus.destroy()
        await port.stopListening()
