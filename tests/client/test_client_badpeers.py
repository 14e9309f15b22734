"""
The client against servers that misbehave — tiny raw TCP servers written
with Twisted: invalid frames, no answer to the upgrade, an HTTP error,
a close in the middle of the handshake, a dead port.  Each must give a clear
error, Primus's events, and leave no timer and no connection behind.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Callable

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock

from primus_tx import ParserError
from primus_tx.client import ConnectionFailed, ReconnectFailed, Socket
from primus_tx.transformers.websockets.client import HandshakeError

pytestmark = pytest.mark.timeout(20)

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(request: bytes) -> bytes:
    for line in request.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            return base64.b64encode(hashlib.sha1(value.strip() + _GUID).digest())
    raise AssertionError("no Sec-WebSocket-Key")


def switching(request: bytes) -> bytes:
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_key(request) + b"\r\n\r\n"
    )


def text_frame(text: str) -> bytes:
    payload = text.encode("utf-8")
    assert len(payload) < 126
    return bytes([0x81, len(payload)]) + payload


class Raw(Protocol):
    """
    Reads the HTTP request, then lets the test's ``behave(protocol,
    request)`` answer (or not).
    """

    def __init__(self, server: RawServer) -> None:
        self.server = server
        self.buffer = b""
        self.answered = False

    def connectionMade(self) -> None:
        self.server.connections.append(self)

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        if not self.answered and b"\r\n\r\n" in self.buffer:
            self.answered = True
            self.server.requests.append(self.buffer)
            self.server.behave(self, self.buffer)

    def connectionLost(self, reason: Any = None) -> None:
        self.server.lost += 1
        waiters, self.server.lost_waiters = self.server.lost_waiters, []
        for d in waiters:
            d.callback(None)


class RawServer(Factory):
    def __init__(self, reactor: Any, behave: Callable[[Raw, bytes], None]) -> None:
        self.behave = behave
        self.connections: list[Raw] = []
        self.requests: list[bytes] = []
        self.lost = 0
        self.lost_waiters: list[Deferred[None]] = []
        self.reactor = reactor
        self.port = reactor.listenTCP(0, self, interface="127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port.getHost().port}"

    def buildProtocol(self, addr: Any) -> Raw:
        return Raw(self)

    def all_lost(self) -> Deferred[None]:
        """
        Fires once every connection made so far is closed.
        """
        if self.lost >= len(self.connections):
            d: Deferred[None] = Deferred()
            d.callback(None)
            return d
        d = Deferred()
        self.lost_waiters.append(d)
        return d.addCallback(lambda _: self.all_lost()).addTimeout(5, self.reactor)

    async def close(self) -> None:
        for connection in self.connections:
            if connection.transport is not None:
                connection.transport.abortConnection()
        await self.port.stopListening()


def wait_event(reactor: Any, socket: Socket, event: str, timeout: float = 5) -> Deferred[Any]:
    d: Deferred[Any] = Deferred()
    socket.once(event, lambda *args: None if d.called else d.callback(args))
    return d.addTimeout(timeout, reactor)


def record(socket: Socket, *names: str) -> list[str]:
    seen: list[str] = []
    for name in names:
        socket.on(name, lambda *a, name=name: seen.append(name))
    return seen


def clocked(url: str, reactor: Any, **options: Any) -> tuple[Socket, Clock]:
    """
    A socket whose timers run on a Clock while its I/O is real.
    """
    clock = Clock()
    transport = dict(options.pop("transport", {}))
    transport["reactor"] = reactor
    return Socket(url, reactor=clock, transport=transport, **options), clock


@pytest_twisted.ensureDeferred
async def test_invalid_frames_are_a_protocol_error(reactor: Any) -> None:
    def behave(protocol: Raw, request: bytes) -> None:
        protocol.transport.write(switching(request) + text_frame('"hello"'))
        # A frame with the reserved bits set and an unknown opcode.
        protocol.transport.write(b"\xf3\x00")

    server = RawServer(reactor, behave)
    socket, clock = clocked(server.url, reactor, strategy=False)
    seen = record(socket, "open", "data", "error", "close", "end")
    errors: list[Any] = []
    socket.on("error", errors.append)
    try:
        clock.advance(0)
        await wait_event(reactor, socket, "end")
        assert seen == ["open", "data", "error", "close", "end"], errors
        assert isinstance(errors[0], ConnectionFailed)
        assert "protocol error" in str(errors[0])
        await server.all_lost()
        assert clock.getDelayedCalls() == []
    finally:
        socket.destroy()
        await server.close()


@pytest_twisted.ensureDeferred
async def test_undecodable_message_is_reported_and_the_connection_kept(reactor: Any) -> None:
    def behave(protocol: Raw, request: bytes) -> None:
        protocol.transport.write(switching(request) + text_frame("not json") + text_frame("[1]"))

    server = RawServer(reactor, behave)
    socket, clock = clocked(server.url, reactor, ping_timeout=False)
    errors: list[Any] = []
    socket.on("error", errors.append)
    try:
        got = wait_event(reactor, socket, "data")
        clock.advance(0)
        assert (await got)[0] == [1]
        assert isinstance(errors[0], ParserError)
        assert socket.ready_state == Socket.OPEN
        await socket.end()
        await server.all_lost()
        assert clock.getDelayedCalls() == []
    finally:
        socket.destroy()
        await server.close()


@pytest_twisted.ensureDeferred
async def test_unanswered_upgrade_times_out(reactor: Any) -> None:
    server = RawServer(reactor, lambda protocol, request: None)
    socket, clock = clocked(server.url, reactor, timeout=3.0, strategy="disconnect")
    seen = record(socket, "timeout", "error", "close", "end")
    try:
        clock.advance(0)
        while not server.requests:  # the request reached the silent server
            await wait_for_io(reactor)
        clock.advance(3.0)
        assert seen == ["timeout", "close", "end"]
        await server.all_lost()
        assert clock.getDelayedCalls() == []
    finally:
        socket.destroy()
        await server.close()


@pytest_twisted.ensureDeferred
async def test_unanswered_upgrade_then_reconnect_timeout(reactor: Any) -> None:
    server = RawServer(reactor, lambda protocol, request: None)
    socket, clock = clocked(
        server.url, reactor, timeout=3.0, reconnect={"min": 1.0, "timeout": 2.0, "retries": 1}
    )
    seen = record(socket, "timeout", "reconnect scheduled", "reconnect", "reconnect timeout",
                  "end", "reconnect failed")
    try:
        clock.advance(0)
        while len(server.requests) < 1:
            await wait_for_io(reactor)
        clock.advance(3.0)
        clock.advance(1.0)
        while len(server.requests) < 2:
            await wait_for_io(reactor)
        clock.advance(2.0)
        assert seen == ["timeout", "reconnect scheduled", "reconnect", "reconnect timeout",
                        "end", "reconnect failed"]
        await server.all_lost()
        assert clock.getDelayedCalls() == []
    finally:
        socket.destroy()
        await server.close()


def wait_for_io(reactor: Any) -> Deferred[None]:
    from twisted.internet.task import deferLater

    return deferLater(reactor, 0.01, lambda: None)


@pytest_twisted.ensureDeferred
async def test_http_error_answer(reactor: Any) -> None:
    def behave(protocol: Raw, request: bytes) -> None:
        # The body arrives in a second chunk: the error must still carry it.
        protocol.transport.write(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 9\r\n\r\nboom"
        )
        protocol.server.reactor.callLater(0.05, protocol.transport.write, b" boom")

    server = RawServer(reactor, behave)
    socket, clock = clocked(server.url, reactor, strategy="disconnect")
    seen = record(socket, "error", "close", "end", "reconnect scheduled")
    errors: list[Any] = []
    socket.on("error", errors.append)
    try:
        clock.advance(0)
        await wait_event(reactor, socket, "end")
        assert seen == ["error", "close", "end"]
        error = errors[0]
        assert isinstance(error, HandshakeError)
        assert (error.status, error.body) == (500, b"boom boom")
        assert error.headers["content-type"] == "text/plain"
        assert "500" in str(error)
        await server.all_lost()
        assert clock.getDelayedCalls() == []
    finally:
        socket.destroy()
        await server.close()


@pytest_twisted.ensureDeferred
async def test_http_error_with_default_strategy_retries(reactor: Any) -> None:
    def behave(protocol: Raw, request: bytes) -> None:
        protocol.transport.write(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n")

    server = RawServer(reactor, behave)
    socket, clock = clocked(server.url, reactor, reconnect={"min": 1.0, "retries": 1})
    seen = record(socket, "error", "reconnect scheduled", "reconnect", "end", "reconnect failed")
    try:
        clock.advance(0)
        await wait_event(reactor, socket, "reconnect scheduled")
        clock.advance(1.0)
        await wait_event(reactor, socket, "reconnect failed")
        # One error (the first connect); none while reconnecting; end first.
        assert seen == ["error", "reconnect scheduled", "reconnect", "end", "reconnect failed"]
        assert len(server.requests) == 2
        await server.all_lost()
        assert clock.getDelayedCalls() == []
    finally:
        socket.destroy()
        await server.close()


@pytest_twisted.ensureDeferred
async def test_close_in_the_middle_of_the_handshake(reactor: Any) -> None:
    def behave(protocol: Raw, request: bytes) -> None:
        protocol.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs")
        protocol.transport.loseConnection()

    server = RawServer(reactor, behave)
    socket, clock = clocked(server.url, reactor, strategy=False)
    errors: list[Any] = []
    socket.on("error", errors.append)
    try:
        clock.advance(0)
        await wait_event(reactor, socket, "end")
        assert isinstance(errors[0], ConnectionFailed)
        assert "handshake did not complete" in str(errors[0])
        assert clock.getDelayedCalls() == []
    finally:
        socket.destroy()
        await server.close()


@pytest_twisted.ensureDeferred
async def test_not_http_at_all(reactor: Any) -> None:
    def behave(protocol: Raw, request: bytes) -> None:
        protocol.transport.write(b"SSH-2.0-OpenSSH\r\n\r\n")

    server = RawServer(reactor, behave)
    try:
        with pytest.raises(ConnectionFailed):
            await Socket.connect(server.url, reactor=reactor, strategy=False)
        await server.all_lost()
    finally:
        await server.close()


@pytest_twisted.ensureDeferred
async def test_reconnect_failed_against_a_dead_port(reactor: Any) -> None:
    server = RawServer(reactor, lambda protocol, request: None)
    url = server.url
    await server.close()  # nothing listens there any more
    socket = Socket(url, reactor=reactor, reconnect={"min": 0.02, "max": 0.05, "retries": 2})
    seen = record(socket, "error", "reconnect scheduled", "reconnect", "end", "reconnect failed")
    failed = wait_event(reactor, socket, "reconnect failed")
    try:
        error, opts = await failed
        assert isinstance(error, ReconnectFailed)
        assert opts.attempt == 2
        assert seen == [
            "error",  # the first connect reports its error
            "reconnect scheduled",
            "reconnect",
            "reconnect scheduled",
            "reconnect",
            "end",
            "reconnect failed",
        ]
        assert isinstance(socket._last_error, ConnectionFailed)
        assert "refused" in str(socket._last_error)
    finally:
        socket.destroy()


@pytest_twisted.ensureDeferred
async def test_connect_against_a_dead_port_fails_after_retries(reactor: Any) -> None:
    server = RawServer(reactor, lambda protocol, request: None)
    url = server.url
    await server.close()
    with pytest.raises(ConnectionFailed, match="refused"):
        await Socket.connect(url, reactor=reactor, reconnect={"min": 0.02, "retries": 1})
