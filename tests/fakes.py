"""
Fakes for unit tests of the server core: no reactor, no sockets.

* :class:`FakeConnection` is an :class:`~primus_tx.interfaces.IConnection`
  that records what a spark sends, closes and pauses, and can play the
  transport's part in flow control (:meth:`FakeConnection.pause` /
  :meth:`FakeConnection.resume`).
* :func:`make_primus` builds a ``Primus`` on a :class:`Clock`;
  :func:`connect` makes a spark through ``primus._connect`` as a
  transformer would.
* :class:`CountingParser` and :class:`FakeTransformer` count how often the
  encode and prepare steps run, to prove a broadcast is encoded once.
* :func:`make_request` is a ``DummyRequest`` with what the middleware reads
  (``path``, ``uri``, ``method``, ``isSecure``).
"""

from __future__ import annotations

import json
import struct
from typing import Any, Optional

from autobahn.websocket.protocol import PreparedMessage
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest
from zope.interface import implementer

from primus_tx import Primus
from primus_tx.interfaces import IConnection, IParser, ITransformer
from primus_tx.parsers import json as json_parser

__all__ = [
    "CountingParser",
    "FakeConnection",
    "FakePrepared",
    "FakeTransformer",
    "connect",
    "make_primus",
    "make_request",
    "prepared_payload",
]


class FakePrepared:
    """
    What :class:`FakeTransformer` returns from ``prepare``: the message.
    """

    def __init__(self, message: Any) -> None:
        self.message = message


def prepared_payload(prepared: Any) -> Any:
    """
    The message inside a prepared broadcast: a :class:`FakePrepared`, or an
    Autobahn ``PreparedMessage`` (an unmasked server frame, whose payload we
    read back out of the frame header).
    """
    if isinstance(prepared, FakePrepared):
        return prepared.message
    if isinstance(prepared, PreparedMessage):
        frame = prepared.payloadHybi
        length = frame[1] & 0x7F
        offset = 2
        if length == 126:
            (length,) = struct.unpack("!H", frame[2:4])
            offset = 4
        elif length == 127:
            (length,) = struct.unpack("!Q", frame[2:10])
            offset = 10
        payload = frame[offset : offset + length]
        return payload if prepared.binary else payload.decode("utf-8")
    raise TypeError(f"not a prepared message: {prepared!r}")


@implementer(IConnection)
class FakeConnection:
    """
    A transport connection that records everything a spark asks of it.

    :ivar sent: every message in order, prepared broadcasts unwrapped.
    :ivar log: ``(kind, value)`` for every call, in order.
    :ivar closes: the ``reconnect`` flag of every ``close`` call.
    :ivar reading: ``False`` while the spark has paused reading.
    :ivar spark: set by :func:`connect`; the handler :meth:`pause` and
        :meth:`resume` talk to.
    """

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.prepared: list[Any] = []
        self.log: list[tuple[str, Any]] = []
        self.closes: list[bool] = []
        self.reading = True
        self.read_pauses = 0
        self.read_resumes = 0
        self.buffered = 0
        self.spark: Any = None
        #: called with each message after it is recorded (to play a
        #: transport whose buffer fills up at a given point)
        self.on_send: Any = None

    # IConnection

    def send(self, message: Any) -> None:
        if self.closes:
            raise AssertionError(f"send({message!r}) after close")
        self.sent.append(message)
        self.log.append(("send", message))
        if self.on_send is not None:
            self.on_send(message)

    def sendPrepared(self, prepared: Any) -> None:
        if self.closes:
            raise AssertionError("sendPrepared after close")
        self.prepared.append(prepared)
        message = prepared_payload(prepared)
        self.sent.append(message)
        self.log.append(("prepared", message))

    def close(self, reconnect: bool) -> None:
        self.closes.append(reconnect)
        self.log.append(("close", reconnect))

    def pauseReading(self) -> None:
        self.reading = False
        self.read_pauses += 1
        self.log.append(("pauseReading", None))

    def resumeReading(self) -> None:
        self.reading = True
        self.read_resumes += 1
        self.log.append(("resumeReading", None))

    def bufferedAmount(self) -> int:
        return self.buffered

    # playing the transport

    def pause(self) -> None:
        """
        The outgoing buffer passed its high-water mark.
        """
        self.spark.pauseWriting()

    def resume(self) -> None:
        """
        The outgoing buffer drained.
        """
        self.spark.resumeWriting()

    @property
    def decoded(self) -> list[Any]:
        """
        :attr:`sent`, JSON-decoded where it is text.
        """
        return [json.loads(m) if isinstance(m, str) else m for m in self.sent]

    @property
    def closed(self) -> bool:
        return bool(self.closes)


@implementer(IParser)
class CountingParser:
    """
    The JSON parser, counting its calls.
    """

    name = "counting"
    binary = False

    def __init__(self) -> None:
        self.encoded: list[Any] = []
        self.decoded: list[Any] = []

    def encode(self, data: Any) -> Any:
        self.encoded.append(data)
        return json_parser.encode(data)

    def decode(self, message: Any) -> Any:
        self.decoded.append(message)
        return json_parser.decode(message)

    def library(self) -> str:
        return "function encoder(d, fn) {} function decoder(d, fn) {}"


class FakeServerSide:
    """
    The server side :class:`FakeTransformer` builds: records every call.
    """

    def __init__(self, primus: Any) -> None:
        self.primus = primus
        self.prepared: list[Any] = []
        self.upgrades: list[Any] = []
        self.requests: list[Any] = []
        self.closed = 0

    def prepare(self, message: Any) -> FakePrepared:
        self.prepared.append(message)
        return FakePrepared(message)

    def upgrade(self, request: Any) -> None:
        self.upgrades.append(request)

    def request(self, request: Any) -> None:
        self.requests.append(request)
        request.setResponseCode(299)
        request.write(b"transformer")
        request.finish()

    def close(self) -> None:
        self.closed += 1


@implementer(ITransformer)
class FakeTransformer:
    """
    A transformer with no transport at all.
    """

    name = "fake"

    def __init__(self) -> None:
        self.servers: list[FakeServerSide] = []

    def server(self, primus: Any) -> FakeServerSide:
        side = FakeServerSide(primus)
        self.servers.append(side)
        return side

    def client(self) -> Any:
        return object

    def library(self) -> str:
        return "/* fake transformer */"


def make_primus(site: Any = None, **options: Any) -> tuple[Primus, Clock]:
    """
    A Primus on a fresh :class:`Clock` (unless ``reactor`` is given).
    """
    clock = options.pop("reactor", None) or Clock()
    return Primus(site, reactor=clock, **options), clock


def connect(
    primus: Primus,
    headers: Optional[dict[str, str]] = None,
    query: Optional[dict[str, Any]] = None,
    peer: tuple[str, int, bool] = ("127.0.0.1", 50000, False),
    request: Any = None,
    connection: Optional[FakeConnection] = None,
    **extra: Any,
) -> tuple[Any, FakeConnection]:
    """
    Connect a fake client to ``primus`` the way a transformer does.
    """
    connection = connection or FakeConnection()
    spark = primus._connect(
        connection,
        headers=dict(headers or {}),
        query=dict(query or {}),
        peer=peer,
        request=request,
        **extra,
    )
    connection.spark = spark
    return spark, connection


class _Request(DummyRequest):
    path: bytes
    _secure: bool

    def isSecure(self) -> bool:
        return bool(getattr(self, "_secure", False))


def make_request(
    uri: bytes = b"/primus",
    method: bytes = b"GET",
    headers: Optional[dict[bytes, bytes]] = None,
    client: tuple[str, int] = ("10.0.0.1", 40000),
    secure: bool = False,
) -> DummyRequest:
    """
    A ``DummyRequest`` for ``uri`` with what the Primus resource reads.
    """
    path = uri.split(b"?", 1)[0]
    request = _Request([s for s in path.split(b"/")[1:] if s])
    request.client = IPv4Address("TCP", *client)
    request.uri = uri
    request.path = path
    request.method = method
    request._secure = secure
    for name, value in (headers or {}).items():
        request.requestHeaders.setRawHeaders(name, [value])
    return request


def body(request: DummyRequest) -> bytes:
    """
    Everything written to ``request``.
    """
    return b"".join(request.written)


def header(request: DummyRequest, name: bytes) -> Optional[bytes]:
    """
    The last value of response header ``name``, or ``None``.
    """
    values = request.responseHeaders.getRawHeaders(name)
    return values[-1] if values else None
