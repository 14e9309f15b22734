"""
Fakes for unit tests of the server core: no reactor, no sockets.

* :class:`FakeConnection` is the public one from :mod:`primus_tx.testing`:
  it records what a spark sends, closes and pauses, and plays the client
  and the transport.
* :func:`make_primus` builds a ``Primus`` on a :class:`Clock`;
  :func:`connect` makes a spark through ``primus.connect_spark`` as a
  transformer would, for any Primus (the tests also build their own).
* :class:`CountingParser` and :class:`FakeTransformer` count how often the
  encode and prepare steps run, to prove a broadcast is encoded once.
* :func:`make_request` is a ``DummyRequest`` with what the middleware reads
  (``path``, ``uri``, ``method``, ``isSecure``).
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest
from zope.interface import implementer

from primus_tx import Primus
from primus_tx.interfaces import IParser, ITransformer, ITransformerHost, ITransformerServer
from primus_tx.parsers import json as json_parser
from primus_tx.testing import FakeConnection

__all__ = [
    "CountingParser",
    "FakeConnection",
    "FakeTransformer",
    "connect",
    "make_primus",
    "make_request",
]


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


@implementer(ITransformerServer)
class FakeServerSide:
    """
    The server side :class:`FakeTransformer` builds: records every call.
    """

    def __init__(self, host: ITransformerHost) -> None:
        self.host = host
        self.prepared: list[Any] = []
        self.upgrades: list[Any] = []
        self.requests: list[Any] = []
        self.closed = 0

    def prepare(self, message: Any) -> Any:
        # The message is its own preparation, as with the Engine.IO and
        # SockJS transformers; the same object reaches every connection.
        self.prepared.append(message)
        return message

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

    def server(self, host: ITransformerHost) -> FakeServerSide:
        side = FakeServerSide(host)
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
    spark = primus.connect_spark(
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
