# -*- test-case-name: tests.test_websockets -*-
"""
The ``websockets`` transformer's Autobahn engine: Autobahn's WebSocket
protocol under twisted.web.  It serves ``faye``, and ``websockets`` and
``uws`` when compression or Autobahn options ask for it.

One Primus message is one WebSocket message.  The Autobahn protocol is the
spark's :class:`~primus_tx.interfaces.IConnection`; it registers itself as
the TCP transport's producer so that a full send buffer reaches the spark
as ``pauseWriting`` and an emptied one as ``resumeWriting``.
"""

from __future__ import annotations

import inspect
import struct
from typing import Any, Optional

from autobahn.twisted.websocket import WebSocketServerProtocol
from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateOfferAccept,
)
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from primus_tx._errors import PrimusError
from primus_tx._http import PrimusRequest, answer
from primus_tx.interfaces import IConnection, ITransformerHost, ITransformerServer
from primus_tx.transformers._autobahn import websocket_factory
from primus_tx.transformers._flow import TransportFlow, write_now
from primus_tx.transformers._shared import spark_options
from primus_tx.transformers._takeover import take_over

__all__ = ["WebSocketsServer"]

_OPEN = WebSocketServerProtocol.STATE_OPEN


class PayloadTooLarge(PrimusError):
    """
    A client sent a message larger than ``max_length``; the connection was
    closed with 1009.
    """


class WebSocketProtocolError(PrimusError):
    """
    A client broke the WebSocket protocol (a bad frame, invalid UTF-8 in a
    text message, ...); the connection was closed with the matching code.
    """


_MISSING = object()
_MEDIUM = struct.Struct("!BBH").pack
_LONG = struct.Struct("!BBQ").pack


def _frame_header(opcode: int, length: int) -> bytes:
    """
    The header of an unmasked, unfragmented frame (RFC 6455 §5.2).
    """
    if length < 126:
        return bytes((opcode, length))
    if length < 65536:
        return _MEDIUM(opcode, 126, length)
    return _LONG(opcode, 127, length)


def _allowed_close_code(code: int) -> bool:
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1011 or 3000 <= code <= 4999


@implementer(IConnection, IPushProducer)
class PrimusWebSocketProtocol(TransportFlow, WebSocketServerProtocol):  # type: ignore[misc]
    """
    One WebSocket connection of a spark.
    """

    spark: Any = None
    http_request: Optional[PrimusRequest] = None

    # -- Autobahn callbacks -------------------------------------------------

    def onOpen(self) -> None:
        # Our pause/resume, not the HTTP channel's (see _takeover).
        transport: Any = self.transport
        transport.registerProducer(self, True)
        request = self.http_request
        if request is None:  # pragma: no cover - set before the takeover
            return
        self.spark = self.factory.host.connect_spark(self, **spark_options(request, self))
        # The handshake is over: what Autobahn kept of it is garbage now
        # (the spark has the headers and the request).
        self.http_request = None
        self.http_request_data = b""
        self.http_headers = {}
        self.http_request_params = {}
        self.http_response_data = ""
        self._share_configuration()

    def _share_configuration(self) -> None:
        """
        Drop the per-connection copies of the factory's options.

        Autobahn copies every protocol option onto each connection.  The
        values are the same for every connection of this server, so the
        protocol class made for it (see :class:`WebSocketsServer`) holds
        them once; the instance dictionary is rebuilt without them, which
        saves about a kilobyte per idle connection.
        """
        state = self.__dict__
        cls = type(self)
        for name in self.CONFIG_ATTRS:
            if name in state and getattr(cls, name, _MISSING) is state[name]:
                del state[name]
        self.__dict__ = dict(state)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        spark = self.spark
        if spark is not None:
            spark.messageReceived(payload if isBinary else payload.decode("utf-8"))

    def onPing(self, payload: bytes) -> None:
        super().onPing(payload)
        if self.spark is not None:
            self.spark.pingReceived()

    def onCloseFrame(self, code: Optional[int], reasonRaw: Optional[bytes]) -> Any:
        if code is not None and not _allowed_close_code(code):
            # Answer a forbidden close code with 1002 and let the frame
            # reach the peer before the connection goes (Autobahn would
            # take the peer's frame as the reply to its own and abort).
            self._fail_connection(
                WebSocketServerProtocol.CLOSE_STATUS_CODE_PROTOCOL_ERROR,
                f"invalid close code {code}",
            )
            self.dropConnection(abort=False)
            return True
        return super().onCloseFrame(code, reasonRaw)  # type: ignore[arg-type]

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:
        spark, self.spark = self.spark, None
        if spark is None:
            return
        if self.wasMaxMessagePayloadSizeExceeded or self.wasMaxFramePayloadSizeExceeded:
            spark.connectionFailed(PayloadTooLarge("Max payload size exceeded"))
        elif self.failedByMe and self.localCloseCode not in (None, 1000, 1001):
            spark.connectionFailed(
                WebSocketProtocolError(
                    f"WebSocket error {self.localCloseCode}: {self.localCloseReason}"
                )
            )
        else:
            spark.connectionLost(reason)

    # -- IConnection --------------------------------------------------------

    def send(self, message: str | bytes) -> None:
        """
        Frame and write one message.

        Without compression the frame is written straight to the transport:
        a server frame is just a header and the payload, and Autobahn's
        general ``sendMessage`` path (outgoing size limit, traffic
        statistics, debug formatting on every call) costs more than the rest
        of a message's trip through Primus.  Primus, like ``ws``, limits only
        what clients send.
        """
        if self.state != _OPEN:
            return
        if type(message) is str:
            payload = message.encode("utf-8")
            opcode = 0x81
        else:
            payload = message  # type: ignore[assignment]
            opcode = 0x82
        if self._perMessageCompress is not None:
            self.sendMessage(payload, opcode == 0x82)
            return
        write_now(self.transport, _frame_header(opcode, len(payload)) + payload)

    def sendPrepared(self, prepared: Any) -> None:
        if self.state != _OPEN:
            return
        if self._perMessageCompress is None:
            # The frame prepared once for every connection.
            write_now(self.transport, prepared.payloadHybi)
        else:
            self.sendPreparedMessage(prepared)

    def close(self, reconnect: bool) -> None:
        if self.state == _OPEN:
            # No status code: the peer sees 1005, as with Node Primus.
            self.sendClose()

    def whenClosed(self) -> Deferred[None]:
        """
        A Deferred that fires once the connection is closed (the close
        handshake done or the TCP connection dropped).
        """
        closed: Deferred[None] = Deferred()

        def fire(result: Any) -> Any:
            if not closed.called:
                closed.callback(None)
            return result

        self.is_closed.addBoth(fire)
        return closed



def bounded_inflation() -> bool:
    """
    Whether this Autobahn stops inflating a compressed message at the
    payload limit.  Older releases (the last for Python 3.9 among them)
    inflate a whole frame first, so a few KB can become gigabytes.
    """
    from autobahn.websocket.compress_deflate import PerMessageDeflate

    try:
        parameters = inspect.signature(PerMessageDeflate.decompress_message_data).parameters
    except (TypeError, ValueError):  # pragma: no cover - not a plain function
        return False
    return "max_output_len" in parameters


def _require_bounded_inflation() -> None:
    if not bounded_inflation():
        import autobahn

        raise PrimusError(
            f"compression=True needs an Autobahn that bounds decompression (this is "
            f"{autobahn.__version__}, which inflates a whole frame before checking "
            f"max_length: a compression bomb could exhaust memory). Upgrade Autobahn "
            f"(on Python 3.10 or later) or leave compression off."
        )


def _accept_deflate(offers: list[Any]) -> Optional[PerMessageDeflateOfferAccept]:
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(offer)
    return None


@implementer(ITransformerServer)
class WebSocketsServer:
    """
    The server side of the ``websockets`` transformer for one Primus.

    ``transport`` options are Autobahn protocol options
    (``setProtocolOptions``), e.g. ``{"autoPingInterval": 20}``; they win
    over what Primus sets.
    """

    def __init__(self, host: ITransformerHost) -> None:
        self.host = host
        options: dict[str, Any] = {}
        if host.compression:
            _require_bounded_inflation()
            options["perMessageCompressionAccept"] = _accept_deflate
        options.update(host.transport_options)
        options.pop("engine", None)  # chosen by the transformer: this one
        try:
            factory = websocket_factory(PrimusWebSocketProtocol, host.max_length, **options)
        except TypeError as error:
            raise PrimusError(f"Unknown websockets transport option: {error}") from None
        factory.host = host
        # One protocol class per server, carrying its options as class
        # attributes, so connections need not keep copies of them.
        shared = {
            # A function stored on a class would become a method.
            name: staticmethod(value) if inspect.isfunction(value) else value
            for name, value in (
                (name, getattr(factory, name))
                for name in PrimusWebSocketProtocol.CONFIG_ATTRS
                if hasattr(factory, name)
            )
        }
        factory.protocol = type(
            "PrimusWebSocketProtocol", (PrimusWebSocketProtocol,), {"__module__": __name__, **shared}
        )
        self.factory = factory

    def upgrade(self, request: PrimusRequest) -> None:
        """
        A WebSocket upgrade that passed the middleware.
        """
        protocol: Any = self.factory.buildProtocol(request.getClientAddress())
        protocol.http_request = request
        if not take_over(request, protocol):
            protocol.http_request = None

    def request(self, request: PrimusRequest) -> None:
        """
        A plain HTTP request: this transformer only speaks WebSocket.
        """
        answer(request, 426, b"Upgrade Required", b"text/plain")

    def prepare(self, message: str | bytes) -> Any:
        """
        Frame ``message`` once for a broadcast.
        """
        if isinstance(message, str):
            return self.factory.prepareMessage(message.encode("utf-8"), False)
        return self.factory.prepareMessage(message, True)

    def close(self) -> None:
        """
        Nothing to release: the sparks have been ended by Primus.
        """
