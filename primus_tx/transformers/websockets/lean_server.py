# -*- test-case-name: tests.test_lean_engine,tests.test_hostile_ws -*-
"""
The ``websockets`` and ``uws`` transformers' server side: the lean engine
(:mod:`primus_tx.transformers.websockets.lean`) behind twisted.web's parsing
of the upgrade request.

twisted.web has already parsed and checked the HTTP request and Primus's
middleware has run on it; what is left of the handshake (RFC 6455 §4.2) is
checking the three WebSocket headers, answering ``101`` with the accept
key, and handing the TCP connection to the engine.  The engine never
offers an extension, so a client's ``permessage-deflate`` offer is refused
by not answering it.

Compression, or Autobahn protocol options in ``transport=``, are Autobahn's
business: with either, the transformer is served by Autobahn
(:mod:`primus_tx.transformers.websockets.server`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Optional

from zope.interface import implementer

from primus_tx._http import PrimusRequest, answer
from primus_tx.interfaces import ITransformerHost, ITransformerServer
from primus_tx.transformers._flow import no_delay
from primus_tx.transformers._shared import spark_options
from primus_tx.transformers._takeover import take_over
from primus_tx.transformers.websockets.lean import LeanWebSocketProtocol, PreparedFrame
from primus_tx.transformers.websockets.server import WebSocketsServer

__all__ = ["LeanServer", "accept_key"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: %s\r\n\r\n"
)


def accept_key(key: bytes) -> bytes:
    """
    The ``Sec-WebSocket-Accept`` answer to a client's key (RFC 6455 §4.2.2).
    """
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def _valid_key(key: Any) -> bool:
    if key is None:
        return False
    try:
        return len(base64.b64decode(key.strip(), validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def _tokens(value: Any) -> set[bytes]:
    return {token.strip().lower() for token in (value or b"").split(b",")}


def _refuse(request: PrimusRequest, body: bytes) -> None:
    """
    Answer a broken handshake with 400 and end the connection: the client
    asked for a protocol switch, so the connection is no HTTP/1.1 one to
    keep alive.
    """
    transport = getattr(request.channel, "transport", None)
    request.setHeader(b"connection", b"close")
    answer(request, 400, body, b"text/plain")
    if transport is not None:
        transport.loseConnection()


class _Protocol(LeanWebSocketProtocol):
    """
    The engine, told which request opened it and whom to report to.
    """

    __slots__ = ("_host", "_request")

    def __init__(self, host: ITransformerHost, request: PrimusRequest) -> None:
        super().__init__(host.max_length, host.reactor)
        self._host = host
        self._request: Optional[PrimusRequest] = request

    def connectionMade(self) -> None:
        request, self._request = self._request, None
        if request is None:  # pragma: no cover - set by LeanServer.upgrade
            return
        key = (request.getHeader(b"sec-websocket-key") or b"").strip()
        no_delay(self.transport)
        self.transport.write(_RESPONSE % accept_key(key))
        # A full send buffer pauses the spark's writing (see TransportFlow).
        self.transport.registerProducer(self, True)
        self.spark = self._host.connect_spark(self, **spark_options(request, self))


@implementer(ITransformerServer)
class LeanServer:
    """
    The server side of ``uws`` for one Primus.
    """

    def __init__(self, host: ITransformerHost) -> None:
        self.host = host

    def upgrade(self, request: PrimusRequest) -> None:
        """
        A WebSocket upgrade that passed the middleware: check the
        handshake's headers, answer it and start the engine.
        """
        if request.method != b"GET" or request.clientproto != b"HTTP/1.1":
            _refuse(request, b"Bad Request")
            return
        if b"upgrade" not in _tokens(request.getHeader(b"connection")):
            _refuse(request, b"Bad Request")
            return
        if request.getHeader(b"sec-websocket-version") != b"13":
            request.setHeader(b"sec-websocket-version", b"13")
            _refuse(request, b"Unsupported WebSocket version")
            return
        if not _valid_key(request.getHeader(b"sec-websocket-key")):
            _refuse(request, b"Bad Sec-WebSocket-Key")
            return
        take_over(request, _Protocol(self.host, request), replay=False)

    #: A plain HTTP request gets 426, as from every WebSocket transformer.
    request = WebSocketsServer.request

    def prepare(self, message: str | bytes) -> PreparedFrame:
        """
        Frame ``message`` once for a broadcast.
        """
        return PreparedFrame(message)

    close = WebSocketsServer.close
