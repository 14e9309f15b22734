"""
A raw HTTP/WebSocket client for the SockJS tests: the protocol suite reads
streaming responses one HTTP chunk at a time and expects each chunk to be
one frame, so the tests need the chunks as they were on the wire, which no
ordinary HTTP client exposes.
"""

from __future__ import annotations

import base64
import os
import struct
from typing import Any, Callable, Optional

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol

TIMEOUT = 3.0


class Response:
    def __init__(self) -> None:
        self.status = 0
        self.http = ""
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.complete = False

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name.lower())


def parse(data: bytes, closed: bool) -> Optional[tuple[Response, bytes]]:
    """
    One response from ``data``: ``None`` until its head is in; the rest of
    the bytes (a second response, WebSocket frames) comes back too.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    response = Response()
    lines = data[:end].decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    response.http = version.split("/")[1]
    response.status = int(status)
    for line in lines[1:]:
        name, _, value = line.partition(":")
        response.headers[name.strip().lower()] = value.strip()
    rest = data[end + 4 :]
    if response.status == 101:
        response.complete = True
        return response, rest
    if response.header("transfer-encoding") == "chunked":
        while True:
            line_end = rest.find(b"\r\n")
            if line_end < 0:
                break
            size = int(rest[:line_end].split(b";")[0], 16)
            if len(rest) < line_end + 2 + size + 2:
                break
            chunk = rest[line_end + 2 : line_end + 2 + size]
            rest = rest[line_end + 2 + size + 2 :]
            if size == 0:
                response.complete = True
                break
            response.chunks.append(chunk)
        return response, rest
    length = response.header("content-length")
    if length is not None:
        size = int(length)
        response.chunks = [rest[:size]] if size else []
        response.complete = len(rest) >= size
        return response, rest[size:]
    response.chunks = [rest] if rest else []
    response.complete = closed
    return response, b""


class RawConnection(Protocol):
    """
    One TCP connection that keeps everything it receives.
    """

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.data = b""
        self.closed = False
        self._waiters: list[Deferred[None]] = []

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        self._wake()

    def connectionLost(self, reason: Any = None) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.called:
                waiter.callback(None)

    async def until(self, predicate: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        deadline = self.reactor.seconds() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if self.closed:
                value = predicate()
                if value:
                    return value
                raise AssertionError(f"connection closed; received {self.data[:300]!r}")
            left = deadline - self.reactor.seconds()
            if left <= 0:
                raise AssertionError(f"timed out; received {self.data[:300]!r}")
            waiter: Deferred[None] = Deferred()
            self._waiters.append(waiter)
            call = self.reactor.callLater(left, self._wake)
            await waiter
            if call.active():
                call.cancel()

    def send_request(
        self,
        method: str,
        path: str,
        headers: Optional[dict[str, str]] = None,
        body: Optional[bytes] = None,
        http: str = "1.1",
    ) -> None:
        lines = [f"{method} {path} HTTP/{http}", "Host: 127.0.0.1"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        self.data = b""
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))

    def response(self) -> Optional[Response]:
        parsed = parse(self.data, self.closed)
        return parsed[0] if parsed else None

    async def head(self) -> Response:
        return await self.until(self.response)  # type: ignore[no-any-return]

    async def chunk(self, index: int) -> bytes:
        """
        The ``index``-th body chunk (waits for it).
        """

        def ready() -> Any:
            response = self.response()
            return response is not None and len(response.chunks) > index

        await self.until(ready)
        response = self.response()
        assert response is not None
        return response.chunks[index]

    async def complete(self) -> Response:
        def ready() -> Any:
            response = self.response()
            return response if response is not None and response.complete else None

        return await self.until(ready)  # type: ignore[no-any-return]

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.transport.abortConnection()


async def connect(reactor: Any, port: int) -> RawConnection:
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=TIMEOUT)
    connection = RawConnection(reactor)
    await connectProtocol(endpoint, connection)
    return connection


async def fetch(
    reactor: Any,
    port: int,
    method: str,
    path: str,
    headers: Optional[dict[str, str]] = None,
    body: Optional[bytes] = None,
) -> Response:
    connection = await connect(reactor, port)
    try:
        connection.send_request(method, path, headers, body)
        return await connection.complete()
    finally:
        connection.close()


# -- a minimal WebSocket client (RFC 6455) -------------------------------------------


def ws_frame(text: str, opcode: int = 1) -> bytes:
    payload = text.encode("utf-8", "surrogatepass")
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([0x80 | size])
    elif size < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", size)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", size)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def ws_messages(data: bytes) -> list[tuple[int, bytes]]:
    """
    The (opcode, payload) of every whole frame the server sent.
    """
    frames = []
    while len(data) >= 2:
        opcode = data[0] & 0x0F
        size = data[1] & 0x7F
        offset = 2
        if size == 126:
            size = struct.unpack("!H", data[2:4])[0]
            offset = 4
        elif size == 127:
            size = struct.unpack("!Q", data[2:10])[0]
            offset = 10
        if len(data) < offset + size:
            break
        frames.append((opcode, data[offset : offset + size]))
        data = data[offset + size :]
    return frames


class WebSocketConnection:
    def __init__(self, raw: RawConnection) -> None:
        self.raw = raw
        self.handshake: Optional[Response] = None

    def _frames(self) -> list[tuple[int, bytes]]:
        parsed = parse(self.raw.data, self.raw.closed)
        if parsed is None:
            return []
        return ws_messages(parsed[1])

    def texts(self) -> list[str]:
        return [p.decode("utf-8") for op, p in self._frames() if op == 1]

    async def text(self, index: int) -> str:
        await self.raw.until(lambda: len(self.texts()) > index)
        return self.texts()[index]

    def close_frame(self) -> Optional[tuple[int, str]]:
        for opcode, payload in self._frames():
            if opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return code, payload[2:].decode("utf-8")
        return None

    def send(self, text: str) -> None:
        self.raw.transport.write(ws_frame(text))

    def close(self) -> None:
        self.raw.close()


async def websocket(reactor: Any, port: int, path: str) -> WebSocketConnection:
    raw = await connect(reactor, port)
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    raw.send_request(
        "GET",
        path,
        {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": key,
        },
    )
    connection = WebSocketConnection(raw)
    connection.handshake = await raw.head()
    return connection
