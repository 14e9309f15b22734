# -*- test-case-name: tests.engineio.test_engineio_polling,tests.engineio.test_engineio_loopback -*-
"""
The ``engine.io`` transformer, server side: Engine.IO v4 sessions over
HTTP long-polling (twisted.web) and WebSocket (Autobahn).

One :class:`Session` is one Engine.IO socket and one spark's
:class:`~primus_tx.interfaces.IConnection`; its id is the spark's id.  The
session outlives its transports: it starts on polling or WebSocket, may be
upgraded from polling to a probe WebSocket, and ends when either side
closes it, a heartbeat goes unanswered, or the client breaks the protocol.

Every rule here is docs/protocol/engineio.rst's; where it names the reference
server's behaviour (status codes, which packet releases a pending poll) the
unmodified official clients depend on it.
"""

from __future__ import annotations

import json
from typing import Any, Optional, Union

from twisted.logger import Logger
from zope.interface import implementer

from primus_tx._errors import PrimusError
from primus_tx._http import PrimusRequest
from primus_tx._options import reject_unknown
from primus_tx.interfaces import ITransformerHost, ITransformerServer
from primus_tx.transformers._autobahn import websocket_factory
from primus_tx.transformers._shared import spark_options
from primus_tx.transformers._takeover import take_over
from primus_tx.transformers.engineio._common import (
    _DEFAULT_OPTIONS,
    BAD_HANDSHAKE_METHOD,
    BAD_REQUEST,
    UNKNOWN_SID,
    UNKNOWN_TRANSPORT,
    UNSUPPORTED_VERSION,
    EngineIOError,
    _json_error,
    _new_sid,
    _respond,
    _text,
)
from primus_tx.transformers.engineio._packets import OPEN
from primus_tx.transformers.engineio._session import Session
from primus_tx.transformers.engineio._websocket import EngineIOWebSocketProtocol

__all__ = ["EngineIOError", "EngineIOServer", "Session"]


@implementer(ITransformerServer)
class EngineIOServer:
    """
    The server side of the ``engine.io`` transformer for one Primus.

    ``transport`` options (seconds and bytes): ``ping_interval`` (25),
    ``ping_timeout`` (20), ``max_payload`` (Primus's ``max_length``),
    ``upgrade_timeout`` (10), ``close_timeout`` (30: how long a close
    packet waits for a poll), ``high_water`` / ``low_water`` (65536 / 16384:
    the polling queue sizes that pause and resume writing) and
    ``websocket`` (``False`` offers no upgrade and refuses WebSockets).
    """

    log = Logger()

    def __init__(self, host: ITransformerHost) -> None:
        self.host = host
        self._reactor: Any = host.reactor
        options = host.transport_options
        reject_unknown(options, _DEFAULT_OPTIONS, "engine.io transport")
        merged = dict(_DEFAULT_OPTIONS)
        merged.update(options)
        for name in ("ping_interval", "ping_timeout", "upgrade_timeout", "close_timeout"):
            value = merged[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise PrimusError(f"engine.io {name} must be a number of seconds, not {value!r}")
        max_payload = merged["max_payload"]
        if max_payload is None:
            max_payload = host.max_length
        if isinstance(max_payload, bool) or not isinstance(max_payload, int) or max_payload <= 0:
            raise PrimusError(f"engine.io max_payload must be a number of bytes, not {max_payload!r}")
        self.ping_interval: float = float(merged["ping_interval"])
        self.ping_timeout: float = float(merged["ping_timeout"])
        self.upgrade_timeout: float = float(merged["upgrade_timeout"])
        self.close_timeout: float = float(merged["close_timeout"])
        self.max_payload: int = max_payload
        #: The largest POST body read (the site guard refuses larger ones).
        self.max_body: int = max_payload
        self.high_water: int = int(merged["high_water"])
        self.low_water: int = min(int(merged["low_water"]), self.high_water)
        self.websocket: bool = bool(merged["websocket"])
        self.sessions: dict[str, Session] = {}
        self._closed = False

        self.factory = websocket_factory(EngineIOWebSocketProtocol, max_payload)

    # -- sessions -----------------------------------------------------------

    def _handshake(self, transport: str) -> dict[str, Any]:
        return {
            "upgrades": ["websocket"] if transport == "polling" and self.websocket else [],
            "pingInterval": round(self.ping_interval * 1000),
            "pingTimeout": round(self.ping_timeout * 1000),
            "maxPayload": self.max_payload,
        }

    def _open_session(self, request: PrimusRequest, transport: str, b64: bool = False) -> Optional[Session]:
        if self._closed:
            return None
        sid = _new_sid()
        while sid in self.sessions:  # pragma: no cover - 120 random bits
            sid = _new_sid()
        session = Session(self, sid, transport, b64)
        self.sessions[sid] = session
        handshake = {"sid": sid}
        handshake.update(self._handshake(transport))
        session._buffer.append((OPEN, json.dumps(handshake, separators=(",", ":"))))
        session._schedule_ping()
        return session

    def _connect(self, session: Session, request: PrimusRequest) -> None:
        spark = self.host.connect_spark(
            session, **spark_options(request, session, id=session.sid, copy_headers=True)
        )
        if session.state == "closed":
            return
        session.spark = spark
        session._flush()

    def _forget(self, session: Session) -> None:
        if self.sessions.get(session.sid) is session:
            del self.sessions[session.sid]

    # -- requests -----------------------------------------------------------

    def _verify(self, request: PrimusRequest) -> Optional[tuple[int, int, str]]:
        query = request.query
        if _text(query.get("EIO")) != "4":
            return UNSUPPORTED_VERSION
        transport = _text(query.get("transport"))
        if transport not in ("polling", "websocket") or (transport == "websocket" and not self.websocket):
            return UNKNOWN_TRANSPORT
        return None

    def request(self, request: PrimusRequest) -> None:
        """
        A plain HTTP request that passed the middleware: a polling GET or
        POST, a handshake, or an OPTIONS that CORS did not answer.
        """
        method = request.method
        if method == b"OPTIONS":
            _respond(request, 204, b"", None)
            return
        error = self._verify(request)
        if error is not None:
            _json_error(request, error)
            return
        query = request.query
        transport = _text(query.get("transport"))
        sid = _text(query.get("sid"))
        if sid is None:
            if method != b"GET":
                _json_error(request, BAD_HANDSHAKE_METHOD)
            elif transport != "polling":
                _json_error(request, BAD_REQUEST)
            else:
                self._polling_handshake(request)
            return
        session = self.sessions.get(sid)
        if session is None:
            _json_error(request, UNKNOWN_SID)
            return
        if transport != "polling" or session.transport != "polling":
            _json_error(request, BAD_REQUEST)
            return
        if method == b"GET":
            session.poll(request)
        elif method == b"POST":
            session.post(request)
        else:
            _respond(request, 500, b"", None)

    def refuse_body(self, method: bytes, uri: bytes) -> Optional[tuple[int, bytes, bytes]]:
        """
        Called by the site guard before a request body is read: a POST for
        a session that does not exist is answered as it would be after the
        body (400, "Session ID unknown") without reading the body.
        """
        _, _, query = uri.partition(b"?")
        if not query or method != b"POST":
            return None
        from primus_tx._query import parse_query

        sid = _text(parse_query(query.decode("latin-1")).get("sid"))
        if sid is None or sid in self.sessions:
            return None
        status, code, message = UNKNOWN_SID
        body = json.dumps({"code": code, "message": message}, separators=(",", ":"))
        return status, b"application/json", body.encode("utf-8")

    def _polling_handshake(self, request: PrimusRequest) -> None:
        session = self._open_session(request, "polling")
        if session is None:
            _json_error(request, BAD_REQUEST)
            return
        self._connect(session, request)
        if session.state != "closed":
            session.poll(request)

    def upgrade(self, request: PrimusRequest) -> None:
        """
        A WebSocket upgrade that passed the middleware: a new session, or
        the probe of a polling session's upgrade.
        """
        error = self._verify(request)
        if error is None and _text(request.query.get("transport")) != "websocket":
            error = BAD_REQUEST
        sid = _text(request.query.get("sid"))
        duplicate = False
        if error is None and sid is not None:
            session = self.sessions.get(sid)
            if session is None:
                error = UNKNOWN_SID
            elif session.state != "open":
                error = BAD_REQUEST
            elif session.transport != "polling" or session.probe is not None:
                # As engine.io: a second WebSocket for a session that is
                # upgrading or upgraded is accepted, then closed at once.
                duplicate = True
        if error is None and self._closed:
            error = BAD_REQUEST
        if error is not None:
            request.setHeader(b"connection", b"close")
            channel = getattr(request, "channel", None)
            if channel is not None:
                channel.persistent = False
            _json_error(request, error)
            return
        protocol: Any = self.factory.buildProtocol(request.getClientAddress())
        protocol.engine = self
        protocol.http_request = request
        protocol.probe_sid = sid
        protocol.duplicate = duplicate
        protocol.b64 = _text(request.query.get("b64")) in ("1", "true")
        if not take_over(request, protocol):
            protocol.http_request = None

    def prepare(self, message: Union[str, bytes]) -> Any:
        """
        A broadcast is queued as it is on every session.
        """
        return message

    def close(self) -> None:
        """
        Primus is destroyed: end whatever sessions remain.
        """
        self._closed = True
        for session in list(self.sessions.values()):
            session.shut_down()
