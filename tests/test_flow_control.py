"""
Flow control on real loopback connections: what fakes cannot show.

A spark must notice a client that stops reading (``write()`` returns
``False``, registered producers pause), recover when it reads again
(``"drain"``, producers resume), and stop reading from a client when the
application pauses it.  These run the real TCP (and TLS) transports, because
the pause/resume signals come from the kernel's buffers filling.
"""

from __future__ import annotations

import io
import json

import pytest
import pytest_twisted
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import defer, ssl
from twisted.protocols.basic import FileSender
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import Primus


class RecordingClient(WebSocketClientProtocol):
    """
    A WebSocket client that records messages and can stop reading.
    """

    def onConnect(self, response):
        self.factory.connected.callback(self)

    def onOpen(self):
        self.messages = []
        self.received_bytes = 0
        self.factory.opened.callback(self)

    def onMessage(self, payload, isBinary):
        self.received_bytes += len(payload)
        self.messages.append((payload, isBinary))
        waiter = self.factory.waiter
        if waiter is not None and waiter[0](self):
            self.factory.waiter = None
            waiter[1].callback(self)

    def onClose(self, wasClean, code, reason):
        if not self.factory.closed.called:
            self.factory.closed.callback((wasClean, code, reason))

    def wait_until(self, predicate):
        d = defer.Deferred()
        if predicate(self):
            d.callback(self)
        else:
            self.factory.waiter = (predicate, d)
        return d


def client_factory(url):
    factory = WebSocketClientFactory(url)
    factory.protocol = RecordingClient
    factory.connected = defer.Deferred()
    factory.opened = defer.Deferred()
    factory.closed = defer.Deferred()
    factory.waiter = None
    return factory


async def sleep(reactor, seconds):
    d = defer.Deferred()
    reactor.callLater(seconds, d.callback, None)
    await d


@pytest.fixture
def server(reactor, each_websocket_engine):
    """
    A Primus on a real site on 127.0.0.1, once per WebSocket engine (flow
    control must hold on both); yields (primus, port, sparks).
    """
    site = Site(Resource())
    primus = Primus(site, ping_interval=0, transformer=each_websocket_engine)
    sparks = []
    primus.on("connection", sparks.append)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield primus, port, sparks
    pytest_twisted.blockon(primus.destroy())
    pytest_twisted.blockon(defer.maybeDeferred(port.stopListening))


async def connect(reactor, port_number, tls_context=None):
    factory = client_factory(f"ws://127.0.0.1:{port_number}/primus")
    if tls_context is None:
        reactor.connectTCP("127.0.0.1", port_number, factory)
    else:
        reactor.connectSSL("127.0.0.1", port_number, factory, tls_context)
    client = await factory.opened
    return client, factory


async def wait_for_spark(reactor, sparks, count=1):
    for _ in range(200):
        if len(sparks) >= count:
            return sparks[count - 1]
        await sleep(reactor, 0.01)
    raise AssertionError("no spark")


def fill_until_full(spark, chunk, limit=400):
    """
    Write ``chunk`` until ``write()`` says the buffer is full.
    """
    for written in range(1, limit + 1):
        if not spark.write(chunk):
            return written
    raise AssertionError(f"write() never returned False after {limit} messages")


@pytest_twisted.ensureDeferred
async def test_channel_is_not_the_producer_after_takeover(reactor, server):
    """
    After the upgrade the TCP transport's producer is the WebSocket
    connection, not twisted.web's HTTPChannel (docs/protocol/twisted.rst,
    "Handing a connection to the WebSocket protocol").
    """
    _primus, port, sparks = server
    client, _factory = await connect(reactor, port.getHost().port)
    spark = await wait_for_spark(reactor, sparks)
    transport = spark.socket.transport
    assert transport.producer is spark.socket
    assert transport.streamingProducer
    client.dropConnection(abort=True)


@pytest_twisted.ensureDeferred
async def test_write_returns_false_then_drain_when_client_reads_again(reactor, server):
    """
    A client that stops reading makes ``write()`` return ``False``; when it
    reads again ``"drain"`` fires and every message arrives, in order.
    """
    _primus, port, sparks = server
    client, _factory = await connect(reactor, port.getHost().port)
    spark = await wait_for_spark(reactor, sparks)
    drained = defer.Deferred()
    spark.on("drain", lambda: drained.called or drained.callback(None))

    client.transport.pauseProducing()
    chunk = {"blob": "x" * 65536}
    count = fill_until_full(spark, chunk)
    assert spark.write(chunk) is False  # still full
    count += 1
    assert spark.socket.bufferedAmount() > 0

    client.transport.resumeProducing()
    await drained
    assert spark.write({"last": True}) is True
    await client.wait_until(lambda c: len(c.messages) == count + 1)
    assert json.loads(client.messages[-1][0]) == {"last": True}
    assert all(json.loads(p) == chunk for p, _ in client.messages[:-1])
    client.dropConnection(abort=True)


class CountingPushProducer:
    """
    An application push producer that writes into a spark as fast as it is
    allowed to.
    """

    def __init__(self, reactor, spark, chunk, total):
        self.reactor = reactor
        self.spark = spark
        self.chunk = chunk
        self.remaining = total
        self.paused = False
        self.pauses = 0
        self.resumes = 0
        self.stopped = False
        self.done = defer.Deferred()
        self._call = None

    def start(self):
        self.spark.registerProducer(self, True)
        self._schedule()

    def _schedule(self):
        if self._call is None and not self.paused and not self.stopped:
            self._call = self.reactor.callLater(0, self._produce)

    def _produce(self):
        self._call = None
        while not self.paused and not self.stopped and self.remaining:
            self.remaining -= 1
            self.spark.write(self.chunk)
        if not self.remaining and not self.done.called:
            self.spark.unregisterProducer()
            self.done.callback(None)

    def pauseProducing(self):
        self.paused = True
        self.pauses += 1

    def resumeProducing(self):
        self.paused = False
        self.resumes += 1
        self._schedule()

    def stopProducing(self):
        self.stopped = True
        if self._call is not None:
            self._call.cancel()
            self._call = None


@pytest_twisted.ensureDeferred
async def test_push_producer_is_paused_and_resumed(reactor, server):
    """
    A push producer registered on a spark is paused while the client does
    not read and resumed when it does; nothing is lost.
    """
    _primus, port, sparks = server
    client, _factory = await connect(reactor, port.getHost().port)
    spark = await wait_for_spark(reactor, sparks)
    client.transport.pauseProducing()
    producer = CountingPushProducer(reactor, spark, b"y" * 65536, total=150)
    producer.start()
    # TCP pauses and resumes many times while the kernel's buffers fill;
    # wait until the producer stays paused.
    stable = False
    for _ in range(100):
        await sleep(reactor, 0.05)
        if producer.paused:
            before = producer.remaining
            await sleep(reactor, 0.15)
            if producer.paused and producer.remaining == before:
                stable = True
                break
    assert stable, "the producer was never held paused"
    assert producer.pauses >= 1
    assert producer.remaining > 0

    client.transport.resumeProducing()
    await producer.done
    assert producer.resumes >= 1
    await client.wait_until(lambda c: len(c.messages) == 150)
    assert all(p == b"y" * 65536 and binary for p, binary in client.messages)
    client.dropConnection(abort=True)


@pytest_twisted.ensureDeferred
async def test_file_sender_streams_a_file_into_a_spark(reactor, server):
    """
    ``FileSender`` (a pull producer) streams a file into a spark, one binary
    message per chunk, paced by a client that reads slowly.
    """
    _primus, port, sparks = server
    client, _factory = await connect(reactor, port.getHost().port)
    spark = await wait_for_spark(reactor, sparks)
    # More than the kernel buffers of a loopback connection can hold.
    content = bytes(range(256)) * 131072  # 32 MiB
    client.transport.pauseProducing()
    finished = FileSender().beginFileTransfer(io.BytesIO(content), spark)
    # Wait for the buffers to fill rather than a fixed time: how long that
    # takes is the interpreter's speed (a cold PyPy JIT on a loaded machine
    # is far slower than CPython), which no test asserts.
    for _ in range(2000):
        if spark._producer_paused or finished.called:
            break
        await sleep(reactor, 0.01)
    assert not finished.called, "the whole file went out although the client reads nothing"
    assert spark._producer_paused
    await sleep(reactor, 0.1)
    assert not finished.called, "the file went on although the client reads nothing"
    assert spark._producer_paused
    client.transport.resumeProducing()
    await finished
    await client.wait_until(lambda c: c.received_bytes == len(content))
    assert b"".join(p for p, _ in client.messages) == content
    assert all(binary for _, binary in client.messages)
    client.dropConnection(abort=True)


@pytest_twisted.ensureDeferred
async def test_pause_producing_stops_reading_from_the_client(reactor, server):
    """
    ``spark.pauseProducing()`` stops delivering the client's messages until
    ``resumeProducing()``; none are lost and order is kept.
    """
    _primus, port, sparks = server
    client, _factory = await connect(reactor, port.getHost().port)
    spark = await wait_for_spark(reactor, sparks)
    received = []
    spark.on("data", received.append)
    spark.pauseProducing()
    for index in range(5):
        client.sendMessage(json.dumps(index).encode(), False)
    await sleep(reactor, 0.2)
    assert received == []
    spark.resumeProducing()
    for _ in range(100):
        if len(received) == 5:
            break
        await sleep(reactor, 0.01)
    assert received == [0, 1, 2, 3, 4]
    client.dropConnection(abort=True)


@pytest_twisted.ensureDeferred
async def test_stop_producing_ends_the_spark(reactor, server):
    """
    A consumer that gives up on a spark (``stopProducing``) ends it; the
    client is told the server closed it.
    """
    primus, port, sparks = server
    client, factory = await connect(reactor, port.getHost().port)
    spark = await wait_for_spark(reactor, sparks)
    ended = defer.Deferred()
    spark.on("end", lambda: ended.callback(None))
    spark.stopProducing()
    await ended
    _was_clean, _code, _reason = await factory.closed
    assert json.loads(client.messages[-1][0]) == "primus::server::close"
    assert primus.connected == 0


def self_signed():
    """
    A throw-away key and certificate, as pyOpenSSL objects for
    ``CertificateOptions``.
    """
    from OpenSSL import crypto
    from tls_helpers import self_signed as make

    key, certificate = make()
    return {
        "privateKey": crypto.PKey.from_cryptography_key(key),
        "certificate": crypto.X509.from_cryptography(certificate),
    }


@pytest.fixture
def tls_server(reactor, each_websocket_engine):
    options = ssl.CertificateOptions(**self_signed())
    site = Site(Resource())
    primus = Primus(site, ping_interval=0, transformer=each_websocket_engine)
    sparks = []
    primus.on("connection", sparks.append)
    port = reactor.listenSSL(0, site, options, interface="127.0.0.1")
    yield primus, port, sparks
    pytest_twisted.blockon(primus.destroy())
    pytest_twisted.blockon(defer.maybeDeferred(port.stopListening))


@pytest_twisted.ensureDeferred
async def test_flow_control_over_tls(reactor, tls_server):
    """
    The takeover and the pause/drain cycle work the same over TLS, where
    the producer lives on the TLS wrapper.
    """
    _primus, port, sparks = tls_server
    client, _factory = await connect(reactor, port.getHost().port, ssl.CertificateOptions(verify=False))
    spark = await wait_for_spark(reactor, sparks)
    assert spark.address.secure is True
    drained = defer.Deferred()
    spark.on("drain", lambda: drained.called or drained.callback(None))
    client.transport.pauseProducing()
    count = fill_until_full(spark, b"z" * 65536)
    client.transport.resumeProducing()
    await drained
    await client.wait_until(lambda c: len(c.messages) == count)
    client.dropConnection(abort=True)
