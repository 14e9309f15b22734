"""
The Engine.IO WebSocket transport on Autobahn, for a new session or as
the upgrade of a polling one.
"""

from __future__ import annotations

from typing import Any, Optional

from autobahn.twisted.websocket import WebSocketServerProtocol
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from primus_tx._http import PrimusRequest
from primus_tx.transformers._flow import buffered_bytes
from primus_tx.transformers.engineio._common import _OPEN_WS, Engine, EngineIOError
from primus_tx.transformers.engineio._packets import (
    MESSAGE,
    Packet,
    PacketError,
    decode_packet,
    encode_packet,
)
from primus_tx.transformers.engineio._session import Session


@implementer(IPushProducer)
class EngineIOWebSocketProtocol(WebSocketServerProtocol):
    """
    One Engine.IO WebSocket: a session's transport from the start, or a
    probe that becomes one after ``2probe`` / ``5``.
    """

    engine: Any = None
    http_request: Optional[PrimusRequest] = None
    session: Optional[Session] = None
    probe_sid: Optional[str] = None
    b64 = False
    #: A second WebSocket for an upgraded (or upgrading) session: closed
    #: as soon as it is open.
    duplicate = False
    _is_transport = False

    def onOpen(self) -> None:
        transport: Any = self.transport
        if getattr(transport, "producer", None) is not None:
            transport.unregisterProducer()
        transport.registerProducer(self, True)
        if self.duplicate:
            self.close_now()
            return
        engine: Engine = self.engine
        request = self.http_request
        if request is None:  # pragma: no cover - set before the takeover
            self.close_now()
            return
        if self.probe_sid is not None:
            session = engine.sessions.get(self.probe_sid)
            if session is None or session.state != "open" or session.transport != "polling" or session.probe is not None:
                self.close_now()
                return
            self.session = session
            session.probe_opened(self)
            return
        session = engine._open_session(request, "websocket", self.b64)
        if session is None:
            self.close_now()
            return
        self.session = session
        session.websocket = self
        self._is_transport = True
        engine._connect(session, request)

    def upgraded(self) -> None:
        self._is_transport = True

    def send_packet(self, kind: str, data: Any) -> None:
        if self.state != _OPEN_WS:
            return
        if isinstance(data, (bytes, bytearray, memoryview)) and not self.b64:
            self.sendMessage(bytes(data), True)
        else:
            self.sendMessage(encode_packet(kind, data).encode("utf-8"), False)

    def close_now(self) -> None:
        if self.state == _OPEN_WS:
            self.sendClose()
        elif self.state != WebSocketServerProtocol.STATE_CLOSED:
            self.dropConnection(abort=True)

    def bufferedAmount(self) -> int:
        return buffered_bytes(self.transport)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        session = self.session
        if session is None:
            return
        if isBinary:
            packet: Packet = (MESSAGE, payload)
        else:
            try:
                packet = decode_packet(payload.decode("utf-8"))
            except PacketError as error:
                if self._is_transport:
                    session._failed(EngineIOError(f"parse error: {error}"))
                else:
                    session._drop_probe()
                return
        if self._is_transport:
            session.packets_received([packet], "websocket")
        else:
            session.probe_packet(self, packet[0], packet[1])

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:
        session, self.session = self.session, None
        if session is None:
            return
        if not self._is_transport:
            session.probe_closed(self)
            return
        session.websocket = None
        if self.wasMaxMessagePayloadSizeExceeded or self.wasMaxFramePayloadSizeExceeded:
            session._failed(EngineIOError("payload too large"))
        else:
            session._lost("transport close", release=None)

    # -- IPushProducer, towards the TCP transport --------------------------

    def pauseProducing(self) -> None:
        session = self.session
        if session is not None and session.spark is not None and self._is_transport:
            session.spark.pauseWriting()

    def resumeProducing(self) -> None:
        session = self.session
        if session is not None and session.spark is not None and self._is_transport:
            session.spark.resumeWriting()

    def stopProducing(self) -> None:
        """
        The connection is going away; ``onClose`` tells the session.
        """
