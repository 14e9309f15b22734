"""
Shared machinery for the hostile-client tests (tests/test_hostile_*.py).

Every hostile test runs a real Primus on a real twisted.web ``Site`` bound
to 127.0.0.1 port 0, attacks it with raw TCP clients written here (so the
bytes on the wire are exactly the ones a hostile peer would choose, which a
well-behaved client library refuses to send), and keeps a second,
well-behaved client connected to prove the attack cost nobody else anything.

:func:`hostile_server` is the harness: an async context manager that, on a
clean exit, checks the four things every hostile test must show besides
its own assertions:

* every client it knows about is gone and ``primus.connected == 0``;
* ``primus.destroy()`` leaves no DelayedCall that belongs to Primus;
* nothing reached twisted.logger as an unexpected failure or an
  "Unhandled Error" (the reactor swallowing a traceback is the failure mode
  a hostile client is most likely to provoke, and it is silent otherwise);
* the listening port is closed.
"""

from __future__ import annotations

import gc
import os
import socket
import struct
from base64 import b64encode
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Optional

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import ILogObserver, globalLogPublisher
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import Site
from zope.interface import implementer

from primus_tx import Primus
from primus_tx.spark import Spark

# -- waiting ----------------------------------------------------------------


async def wait_until(
    reactor: Any, predicate: Callable[[], Any], timeout: float = 2.0, what: str = "condition"
) -> None:
    """
    Poll ``predicate`` every few milliseconds; fail the test after
    ``timeout`` seconds.  Polling keeps the tests honest about *eventual*
    state (a connection really closed, a counter really back to zero)
    without asserting anything about speed.
    """
    waited = 0.0
    step = 0.005
    while not predicate():
        if waited >= timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await deferLater(reactor, step, lambda: None)
        waited += step
        step = min(step * 2, 0.05)


async def sleep(reactor: Any, seconds: float) -> None:
    """
    Let the reactor run for ``seconds`` (used only to show that something
    does *not* happen, never to wait for something that should).
    """
    await deferLater(reactor, seconds, lambda: None)


# -- raw TCP ------------------------------------------------------------------


class RawClient(Protocol):
    """
    A TCP client that records every byte and when the connection ended.
    """

    def __init__(self) -> None:
        self.received = bytearray()
        self.connected_at_all = False
        self.lost = False
        self.lost_reason: Optional[Failure] = None
        self._lost_waiters: list[Deferred[None]] = []

    def connectionMade(self) -> None:
        self.connected_at_all = True

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.lost = True
        self.lost_reason = reason
        waiters, self._lost_waiters = self._lost_waiters, []
        for waiter in waiters:
            waiter.callback(None)

    # -- helpers ----------------------------------------------------------

    @property
    def tcp(self) -> Any:
        """
        The TCP transport, typed loosely: tests use its TCP-only methods
        (``abortConnection``, ``getHandle``, ``pauseProducing``).
        """
        return self.transport

    def send(self, data: bytes) -> None:
        self.tcp.write(data)

    def abort(self) -> None:
        if not self.lost and self.transport is not None:
            self.tcp.abortConnection()

    def reset(self) -> None:
        """
        Vanish with a TCP reset (SO_LINGER 0), as a crashed peer or a
        middlebox does, rather than a polite FIN.
        """
        if self.lost or self.transport is None:
            return
        sock = self.tcp.getHandle()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.tcp.abortConnection()

    async def wait_lost(self, reactor: Any, timeout: float = 2.0) -> None:
        await wait_until(reactor, lambda: self.lost, timeout, "the server to close the connection")

    def http_head(self) -> Optional[bytes]:
        """
        The status line and headers received so far, if complete.
        """
        end = self.received.find(b"\r\n\r\n")
        if end == -1:
            return None
        return bytes(self.received[: end + 4])

    def status_code(self) -> Optional[int]:
        head = self.http_head()
        if head is None:
            # twisted.web answers some malformed requests with a bare
            # status line and closes; accept a status line on its own.
            line_end = self.received.find(b"\r\n")
            if line_end == -1:
                return None
            head = bytes(self.received[: line_end + 2])
        first = head.split(b"\r\n", 1)[0]
        parts = first.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise AssertionError(f"not an HTTP status line: {first!r}")
        return int(parts[1])

    def header(self, name: bytes) -> Optional[bytes]:
        head = self.http_head()
        if head is None:
            return None
        for line in head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    def body(self) -> bytes:
        head = self.http_head()
        assert head is not None, "no complete HTTP response head"
        return bytes(self.received[len(head) :])


async def connect_raw(reactor: Any, port: int, factory: Callable[[], RawClient] = RawClient) -> Any:
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=2)
    return await connectProtocol(endpoint, factory())


# -- WebSocket framing (client side) ----------------------------------------

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
GOOD_KEY = b64encode(b"primus-tx-hostile"[:16]).decode("ascii")


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    mask: bool = True,
    rsv: int = 0,
    announced_length: Optional[int] = None,
) -> bytes:
    """
    One WebSocket frame as a client writes it, with every field under the
    test's control (``announced_length`` lies about the payload size).
    """
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(payload) if announced_length is None else announced_length
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head = struct.pack("!BB", first, mask_bit | length)
    elif length < 65536:
        head = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


def upgrade_request(
    path: str = "/primus",
    *,
    key: Optional[str] = GOOD_KEY,
    version: Optional[str] = "13",
    extra: tuple[tuple[str, str], ...] = (),
    raw_extra: bytes = b"",
) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
    ]
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    if version is not None:
        lines.append(f"Sec-WebSocket-Version: {version}")
    lines.extend(f"{name}: {value}" for name, value in extra)
    return ("\r\n".join(lines) + "\r\n").encode("latin-1") + raw_extra + b"\r\n"


class WSClient(RawClient):
    """
    A minimal WebSocket client: upgrade, then parse the server's frames into
    ``messages`` (``(opcode, payload)`` of whole messages) and record the
    close frame's code.  It sends whatever bytes the test hands it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.upgraded = False
        self.messages: list[tuple[int, bytes]] = []
        self.close_code: Optional[int] = None
        self.close_received = False
        self.message_bytes = 0
        self._frames = bytearray()
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self.answer_close = True
        #: Answer the server's heartbeat (``primus::ping::``) as the Primus
        #: client does; a test turns this off to play a silent client.
        self.auto_pong = True

    def dataReceived(self, data: bytes) -> None:
        if self.upgraded:
            self._frames += data
            self._parse()
            return
        self.received += data
        head = self.http_head()
        if head is not None and head.startswith(b"HTTP/1.1 101"):
            self.upgraded = True
            self._frames += self.received[len(head) :]
            self._parse()

    def _parse(self) -> None:
        buf = self._frames
        offset = 0
        while True:
            if len(buf) - offset < 2:
                break
            first, second = buf[offset], buf[offset + 1]
            length = second & 0x7F
            pos = offset + 2
            if length == 126:
                if len(buf) - pos < 2:
                    break
                (length,) = struct.unpack_from("!H", buf, pos)
                pos += 2
            elif length == 127:
                if len(buf) - pos < 8:
                    break
                (length,) = struct.unpack_from("!Q", buf, pos)
                pos += 8
            if second & 0x80:
                raise AssertionError("the server masked a frame")
            if len(buf) - pos < length:
                break
            payload = bytes(buf[pos : pos + length])
            offset = pos + length
            self._frame(bool(first & 0x80), first & 0x0F, payload)
        del buf[:offset]

    def _frame(self, fin: bool, opcode: int, payload: bytes) -> None:
        if opcode == OP_CLOSE:
            self.close_received = True
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            if self.answer_close and not self.lost:
                self.send(frame(OP_CLOSE, payload[:2]))
                self.tcp.loseConnection()
            return
        if opcode in (OP_PING, OP_PONG):
            return
        if opcode != OP_CONT:
            self._fragment_opcode = opcode
        self._fragments.append(payload)
        if fin:
            message = b"".join(self._fragments)
            self._fragments = []
            self.message_bytes += len(message)
            self.messages.append((self._fragment_opcode, message))
            if (
                self.auto_pong
                and self._fragment_opcode == OP_TEXT
                and message.startswith(b'"primus::ping::')
                and not self.lost
            ):
                self.send(frame(OP_TEXT, message.replace(b"::ping::", b"::pong::", 1)))

    # -- helpers ----------------------------------------------------------

    def send_text(self, text: str) -> None:
        self.send(frame(OP_TEXT, text.encode("utf-8")))

    def texts(self) -> list[str]:
        return [p.decode("utf-8") for op, p in self.messages if op == OP_TEXT]

    def user_texts(self) -> list[str]:
        """
        Text messages that are not ``primus::`` protocol messages.
        """
        return [t for t in self.texts() if not t.startswith('"primus::')]

    def close(self) -> None:
        """
        A polite close: close frame, then wait for the server to answer.
        """
        if not self.lost:
            self.send(frame(OP_CLOSE, struct.pack("!H", 1000)))


async def connect_ws(
    reactor: Any, port: int, path: str = "/primus", request: Optional[bytes] = None
) -> WSClient:
    """
    A WebSocket client that has been upgraded (fails the test otherwise).
    """
    client = await connect_raw(reactor, port, WSClient)
    client.send(request if request is not None else upgrade_request(path))
    await wait_until(
        reactor, lambda: client.upgraded or client.lost, 2.0, "the WebSocket upgrade"
    )
    assert client.upgraded, f"upgrade refused: {bytes(client.received[:300])!r}"
    return client


# -- log capture ------------------------------------------------------------


@implementer(ILogObserver)
class LogCapture:
    """
    Every twisted.logger event while installed.  "Unexpected" is a failure
    logged with ``log_failure`` (unless its type was declared expected by
    the test) or anything mentioning an unhandled error.
    """

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def unexpected(self, allowed: tuple[type[BaseException], ...] = ()) -> list[dict[str, Any]]:
        bad = []
        for event in self.events:
            failure = event.get("log_failure")
            text = str(event.get("log_format") or "") + " " + str(event.get("log_text") or "")
            if failure is not None:
                if allowed and failure.check(*allowed):
                    continue
                bad.append(event)
            elif "unhandled error" in text.lower() or event.get("isError"):
                bad.append(event)
        return bad


def describe(events: list[dict[str, Any]]) -> str:
    lines = []
    for event in events:
        failure = event.get("log_failure")
        lines.append(
            f"{event.get('log_namespace')}: {event.get('log_format')!r}"
            + (f"\n{failure.getTraceback()}" if failure is not None else "")
        )
    return "\n".join(lines)


# -- the harness --------------------------------------------------------------


class OtherPage(Resource):
    """
    The site's own resource at ``/other``, which Primus must leave alone.
    """

    isLeaf = True

    def render(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/plain")
        return b"not primus"


class Harness:
    """
    A running Primus with an echo application, and what it reported.

    :ivar sparks: every spark ever connected, in order.
    :ivar data: ``(spark, data)`` for every ``"data"`` event.
    :ivar errors: ``(spark, error)`` for every spark ``"error"`` event.
    :ivar ended: sparks that emitted ``"end"``.
    :ivar logs: ``(level, error)`` for every server ``"log"`` event.
    """

    def __init__(self, reactor: Any, primus: Primus, site: Site, port: Any) -> None:
        self.reactor = reactor
        self.primus = primus
        self.site = site
        self.port = port
        self.port_number: int = port.getHost().port
        self.sparks: list[Spark] = []
        self.data: list[tuple[Spark, Any]] = []
        self.errors: list[tuple[Spark, BaseException]] = []
        self.ended: list[Spark] = []
        self.logs: list[tuple[str, Any]] = []
        self.clients: list[RawClient] = []
        self.echo = True
        primus.on("connection", self._connection)
        primus.on("log", lambda level, *args: self.logs.append((level, args[0] if args else None)))

    def _connection(self, spark: Spark) -> None:
        self.sparks.append(spark)

        def on_data(data: Any) -> None:
            self.data.append((spark, data))
            if self.echo:
                spark.write(data)

        spark.on("data", on_data)
        spark.on("error", lambda error: self.errors.append((spark, error)))
        spark.on("end", lambda: self.ended.append(spark))

    # -- clients ------------------------------------------------------------

    async def raw(self) -> RawClient:
        client: RawClient = await connect_raw(self.reactor, self.port_number)
        self.clients.append(client)
        return client

    async def ws(self, path: str = "/primus", request: Optional[bytes] = None) -> WSClient:
        client = await connect_ws(self.reactor, self.port_number, path, request)
        self.clients.append(client)
        await wait_until(
            self.reactor,
            lambda: len(self.sparks) >= self._ws_count(),
            2.0,
            "the spark of the new WebSocket",
        )
        return client

    def _ws_count(self) -> int:
        return sum(1 for c in self.clients if isinstance(c, WSClient) and c.upgraded)

    def spark_of(self, index: int = -1) -> Spark:
        return self.sparks[index]

    async def echo_round_trip(self, client: WSClient, text: str = "still here") -> None:
        """
        The well-behaved client's proof of life: a JSON message there and back.
        """
        encoded = '"' + text + '"'
        before = client.user_texts().count(encoded)
        client.send_text(encoded)
        await wait_until(
            self.reactor,
            lambda: client.user_texts().count(encoded) > before,
            2.0,
            f"the echo of {text!r}",
        )

    def errors_of(self, spark: Spark) -> list[BaseException]:
        return [error for s, error in self.errors if s is spark]

    def logged_errors(self) -> list[Any]:
        return [error for level, error in self.logs if level == "error"]

    def no_spark_made(self) -> bool:
        return not self.sparks


def _primus_owns(call: Any, primus: Primus) -> bool:
    """
    Whether a reactor DelayedCall was scheduled by this Primus or one of its
    sparks (directly, or through a LoopingCall such as the heartbeat).
    """
    func = getattr(call, "func", None)
    owner = getattr(func, "__self__", None)
    if isinstance(owner, LoopingCall):
        owner = getattr(owner.f, "__self__", None)
    if owner is primus or isinstance(owner, Spark):
        return True
    module = getattr(func, "__module__", "") or ""
    return module.startswith("primus_tx")


#: The transformer :func:`hostile_server` runs when the test names none;
#: the hostile suites set it to each WebSocket engine in turn.
TRANSFORMER = "websockets"


@asynccontextmanager
async def hostile_server(
    reactor: Any,
    *,
    allowed_failures: tuple[type[BaseException], ...] = (),
    **options: Any,
) -> AsyncIterator[Harness]:
    """
    Run a Primus (echo application) on a real Site on 127.0.0.1:0 for the
    duration of the ``async with`` block, then check that it leaves nothing
    behind (see the module docstring).
    """
    capture = LogCapture()
    globalLogPublisher.addObserver(capture)
    port = None
    primus = None
    try:
        root = Resource()
        root.putChild(b"other", OtherPage())
        site = Site(root)
        options.setdefault("reactor", reactor)
        options.setdefault("transformer", TRANSFORMER)
        primus = Primus(site, **options)
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        harness = Harness(reactor, primus, site, port)
        failed = True
        try:
            yield harness
            failed = False
        finally:
            for client in harness.clients:
                client.abort()
            if not failed:
                await wait_until(
                    reactor,
                    lambda: primus.connected == 0,
                    2.0,
                    "every spark to end once its client is gone",
                )
                assert primus.connected == 0
                assert list(primus) == []
            await primus.destroy()
            left = [c for c in reactor.getDelayedCalls() if _primus_owns(c, primus)]
            described = repr(left)
            # Cancel before asserting, so a failure here cannot leak timers
            # into the tests that run after this one.
            for call in left:
                call.cancel()
            if not failed:
                assert left == [], f"Primus left DelayedCalls after destroy(): {described}"
            await port.stopListening()
            port = None
            await wait_until(
                reactor,
                lambda: all(c.lost for c in harness.clients),
                2.0,
                "every test client to be disconnected",
            )
            # Deferreds that failed with nobody listening only report it
            # when they are collected.
            gc.collect()
            if not failed:
                bad = capture.unexpected(allowed_failures)
                assert not bad, "unexpected errors reached the log:\n" + describe(bad)
    finally:
        if port is not None:
            await port.stopListening()
        globalLogPublisher.removeObserver(capture)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))
