"""
The SockJS WebSocket transports (framed and raw) on Autobahn.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from autobahn.twisted.websocket import WebSocketServerProtocol
from twisted.internet.interfaces import IDelayedCall, IPushProducer
from zope.interface import implementer

from primus_tx._http import PrimusRequest
from primus_tx.interfaces import IConnection
from primus_tx.transformers._flow import TransportFlow
from primus_tx.transformers._shared import spark_options
from primus_tx.transformers.sockjs._frames import _json, _text, close_frame, message_frame


@implementer(IConnection, IPushProducer)
class _WebSocketBase(TransportFlow, WebSocketServerProtocol):  # type: ignore[misc]
    """
    What the framed and the raw WebSocket sessions share: the spark, flow
    control through the TCP transport, inbound pause.
    """

    spark: Any = None
    http_request: Optional[PrimusRequest] = None
    server: Any = None

    def onOpen(self) -> None:
        transport: Any = self.transport
        transport.registerProducer(self, True)
        self.opened()
        request = self.http_request
        if request is None:  # pragma: no cover - set before the takeover
            return
        self.spark = self.server.host.connect_spark(
            self, **spark_options(request, self, copy_headers=True)
        )

    def opened(self) -> None:
        """
        The handshake is done, before the spark exists.
        """

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:
        self.closed()
        spark, self.spark = self.spark, None
        if spark is not None:
            spark.connectionLost(reason)

    def closed(self) -> None:
        """
        The connection is gone.
        """

    def _hand_over(self, message: str) -> None:
        if self.spark is not None:
            self.spark.messageReceived(message)

    def sendPrepared(self, prepared: Any) -> None:
        self.send(prepared)


    def send(self, message: str | bytes) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self, reconnect: bool = False, *, code: int = 1000, reason: str = "") -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _send_text(self, text: str) -> None:
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            self.sendMessage(text.encode("utf-8", "surrogatepass"), False)


class SockJSWebSocketProtocol(_WebSocketBase):
    """
    ``/<server>/<session>/websocket``: SockJS frames over one WebSocket.
    """

    _heartbeat: Optional[IDelayedCall] = None
    _closing = False

    def opened(self) -> None:
        self._frame("o")

    def _frame(self, frame: str) -> None:
        self._send_text(frame)
        self._schedule_heartbeat()

    def _schedule_heartbeat(self) -> None:
        self._cancel_heartbeat()
        if self.state == WebSocketServerProtocol.STATE_OPEN and not self._closing:
            self._heartbeat = self.server.reactor.callLater(
                self.server.heartbeat_delay, self._frame, "h"
            )

    def _cancel_heartbeat(self) -> None:
        call, self._heartbeat = self._heartbeat, None
        if call is not None and call.active():
            call.cancel()

    def closed(self) -> None:
        self._cancel_heartbeat()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if not payload:
            return
        try:
            value = json.loads(payload.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            # Broken framing: the session cannot be trusted any more.
            self._closing = True
            self._cancel_heartbeat()
            self.sendClose(3000, "Broken framing.")
            self.dropConnection(abort=False)
            return
        messages = value if isinstance(value, list) else [value]
        for message in messages:
            self._hand_over(message if isinstance(message, str) else _json(message))

    def send(self, message: str | bytes) -> None:
        if not self._closing:
            self._frame(message_frame([_text(message)]))

    def close(
        self, reconnect: bool = False, *, code: int = 1000, reason: str = "Normal closure"
    ) -> None:
        """
        Send ``c[code,"reason"]``, then close the WebSocket.
        """
        if self._closing:
            return
        self._send_text(close_frame(code, reason))
        self._closing = True
        self._cancel_heartbeat()
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            self.sendClose(1000, "Normal closure")
        spark, self.spark = self.spark, None
        if spark is not None:
            spark.connectionLost(None)


class RawWebSocketProtocol(_WebSocketBase):
    """
    ``/websocket``: one WebSocket text message is one message, no SockJS
    framing, for programs that are not sockjs-client.
    """

    _closing = False

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self._hand_over(payload.decode("utf-8") if not isBinary else _text(payload))

    def send(self, message: str | bytes) -> None:
        if not self._closing:
            self._send_text(_text(message))

    def close(
        self, reconnect: bool = False, *, code: int = 1000, reason: str = "Normal closure"
    ) -> None:
        """
        Close the WebSocket with ``code`` and ``reason``.
        """
        if self._closing:
            return
        self._closing = True
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            self.sendClose(code, reason)
        spark, self.spark = self.spark, None
        if spark is not None:
            spark.connectionLost(None)


# -- the server ------------------------------------------------------------------------
