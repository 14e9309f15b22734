# -*- test-case-name: tests.engineio.test_engineio_server -*-
"""
The ``engine.io`` transformer, server side: Engine.IO v4 sessions over
HTTP long-polling (twisted.web) and WebSocket (Autobahn).

One :class:`Session` is one Engine.IO socket and one spark's
:class:`~primus_tx.interfaces.IConnection`; its id is the spark's id.  The
session outlives its transports: it starts on polling or WebSocket, may be
upgraded from polling to a probe WebSocket, and ends when either side
closes it, a heartbeat goes unanswered, or the client breaks the protocol.

Every rule here is spec/engineio.md's; where it names the reference
server's behaviour (status codes, which packet releases a pending poll) the
unmodified official clients depend on it.
"""

from __future__ import annotations

import json
import os
from base64 import b64encode
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet.interfaces import IDelayedCall, IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from primus_tx._errors import PrimusError
from primus_tx._http import headers_of, peer_of
from primus_tx.interfaces import IConnection
from primus_tx.transformers._flow import buffered_bytes
from primus_tx.transformers._takeover import take_over
from primus_tx.transformers.engineio._packets import (
    CLOSE,
    MESSAGE,
    NOOP,
    OPEN,
    PING,
    PONG,
    UPGRADE,
    Packet,
    PacketError,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
)

if TYPE_CHECKING:
    from primus_tx.server import Primus

__all__ = ["EngineIOError", "EngineIOServer", "Session"]

_OPEN_WS = WebSocketServerProtocol.STATE_OPEN

#: python-engineio refuses payloads of more than 16 packets.
MAX_PACKETS_PER_POLL = 16

#: How long to wait before answering a poll that arrives during an upgrade
#: with a noop (the reference repeats one every 100 ms).
_UPGRADE_NOOP_DELAY = 0.1

_DEFAULT_OPTIONS: dict[str, Any] = {
    "ping_interval": 25.0,
    "ping_timeout": 20.0,
    "max_payload": None,  # Primus's max_length
    "upgrade_timeout": 10.0,
    "close_timeout": 30.0,
    "high_water": 65536,
    "low_water": 16384,
    "websocket": True,
}

# (status, code, message) of the reference server's JSON errors.
UNKNOWN_TRANSPORT = (400, 0, "Transport unknown")
UNKNOWN_SID = (400, 1, "Session ID unknown")
BAD_HANDSHAKE_METHOD = (400, 2, "Bad handshake method")
BAD_REQUEST = (400, 3, "Bad request")
UNSUPPORTED_VERSION = (400, 5, "Unsupported protocol version")


class EngineIOError(PrimusError):
    """
    An Engine.IO session failed: the client broke the protocol (a packet
    that does not parse, a ping in the wrong direction, overlapping polls,
    an oversized body...).  The spark reports it as an error and ends.
    """


def _new_sid() -> str:
    # 15 random bytes: 20 URL-safe characters, as the reference's ids.
    return b64encode(os.urandom(15), b"-_").decode("ascii")


def _text(value: Any) -> Optional[str]:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _json_error(request: Any, error: tuple[int, int, str]) -> None:
    status, code, message = error
    body = json.dumps({"code": code, "message": message}, separators=(",", ":")).encode("utf-8")
    _respond(request, status, body, b"application/json")


def _respond(request: Any, status: int, body: bytes, content_type: Optional[bytes]) -> None:
    if request.finished or getattr(request, "_primus_gone", False) or getattr(request, "_eio_gone", False):
        return
    request.setResponseCode(status)
    if content_type is not None:
        request.setHeader(b"content-type", content_type)
    request.setHeader(b"content-length", str(len(body)).encode("ascii"))
    if not request.responseHeaders.hasHeader(b"cache-control"):
        request.setHeader(b"cache-control", b"no-store")
    if body:
        request.write(body)
    request.finish()


def _watch(request: Any, on_gone: Callable[[Any], None]) -> None:
    """
    Call ``on_gone(request)`` when the client drops ``request`` before it
    is answered (twisted.web raises if such a request is finished).
    """

    def gone(failure: Failure) -> None:
        request._eio_gone = True
        on_gone(request)

    request.notifyFinish().addErrback(gone)


@implementer(IConnection)
class Session:
    """
    One Engine.IO socket: the spark's connection, whatever carries it.

    :ivar sid: the session id, sent to the client in the ``open`` packet.
    :ivar transport: ``"polling"`` or ``"websocket"``, the current transport.
    :ivar upgrading: whether a probe WebSocket answered ``2probe``.
    """

    log = Logger()

    def __init__(self, server: EngineIOServer, sid: str, transport: str, b64: bool = False) -> None:
        self.server = server
        self.sid = sid
        self.transport = transport
        self.spark: Any = None
        self.state = "open"  # then "closing" (polling, close packet queued), "closed"
        self.upgrading = False
        self.probe: Optional[EngineIOWebSocketProtocol] = None
        self.websocket: Optional[EngineIOWebSocketProtocol] = None
        self._b64 = b64
        self._buffer: list[Packet] = []
        self._buffered_bytes = 0
        self._poll: Optional[Any] = None  # the pending GET
        self._post: Optional[Any] = None  # a POST held while reading is paused
        self._reading_paused = False
        self._writing_paused = False
        self._timers: dict[str, IDelayedCall] = {}

    def __repr__(self) -> str:
        return f"<Session {self.sid} {self.transport} {self.state}>"

    # -- timers ------------------------------------------------------------

    def _start_timer(self, name: str, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        self._cancel_timer(name)
        self._timers[name] = self.server._reactor.callLater(delay, self._fire, name, fn, *args)

    def _fire(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        self._timers.pop(name, None)
        fn(*args)

    def _cancel_timer(self, name: str) -> None:
        call = self._timers.pop(name, None)
        if call is not None and call.active():
            call.cancel()

    def active_timers(self) -> list[str]:
        """
        The names of the timers still scheduled (for leak checks).
        """
        return sorted(name for name, call in self._timers.items() if call.active())

    # -- heartbeat ----------------------------------------------------------

    def _schedule_ping(self) -> None:
        interval = self.server.ping_interval
        if interval > 0:
            self._start_timer("ping", interval, self._ping)

    def _ping(self) -> None:
        if self.state != "open":
            return
        self._send_packet(PING, None)
        self._start_timer("pong", self.server.ping_timeout, self._ping_timed_out)

    def _ping_timed_out(self) -> None:
        self._lost("ping timeout", release=CLOSE)

    # -- IConnection ------------------------------------------------------

    def send(self, message: Union[str, bytes]) -> None:
        if self.state == "open":
            self._send_packet(MESSAGE, message)

    def sendPrepared(self, prepared: Any) -> None:
        self.send(prepared)

    def close(self, reconnect: bool = False) -> None:
        """
        The spark ends: the client gets a close packet (polling) or a
        WebSocket close frame, and the session is forgotten.
        """
        if self.state != "open":
            return
        self._drop_probe()
        if self.transport == "websocket":
            self._flush()
            self._finish(None)
            return
        self.state = "closing"
        self._buffer.append((CLOSE, None))
        self._cancel_timer("ping")
        self._cancel_timer("pong")
        if self._poll is not None:
            self._flush()
        else:
            self._start_timer("close", self.server.close_timeout, self._finish, None)

    def pauseReading(self) -> None:
        self._reading_paused = True
        ws = self.websocket
        if ws is not None and ws.transport is not None:
            ws.transport.pauseProducing()  # type: ignore[attr-defined]

    def resumeReading(self) -> None:
        if not self._reading_paused:
            return
        self._reading_paused = False
        ws = self.websocket
        if ws is not None and ws.transport is not None:
            ws.transport.resumeProducing()  # type: ignore[attr-defined]
        post, self._post = self._post, None
        if post is not None and self.state == "open":
            self._accept_post(post)

    def bufferedAmount(self) -> int:
        amount = self._buffered_bytes
        ws = self.websocket
        if ws is not None:
            amount += ws.bufferedAmount()
        return amount

    # -- outgoing ----------------------------------------------------------

    def _send_packet(self, kind: str, data: Any) -> None:
        self._buffer.append((kind, data))
        if data is not None:
            self._buffered_bytes += len(data)
        self._flush()
        self._check_water()

    def _flush(self) -> None:
        if not self._buffer:
            return
        if self.transport == "websocket":
            ws = self.websocket
            if ws is None or ws.state != _OPEN_WS:
                return
            packets, self._buffer, self._buffered_bytes = self._buffer, [], 0
            for kind, data in packets:
                ws.send_packet(kind, data)
            return
        request = self._poll
        if request is None:
            return
        self._poll = None
        self._cancel_timer("noop")
        packets = self._buffer[:MAX_PACKETS_PER_POLL]
        del self._buffer[:MAX_PACKETS_PER_POLL]
        self._buffered_bytes = sum(len(d) for _, d in self._buffer if d is not None)
        body = encode_payload(packets).encode("utf-8")
        _respond(request, 200, body, b"text/plain; charset=UTF-8")
        self._check_water()
        if self.state == "closing" and any(kind == CLOSE for kind, _ in packets):
            self._finish(None)

    def _check_water(self) -> None:
        spark = self.spark
        if spark is None or self.state != "open":
            return
        if self.transport != "polling":
            return
        if not self._writing_paused and self._buffered_bytes > self.server.high_water:
            self._writing_paused = True
            spark.pauseWriting()
        elif self._writing_paused and self._buffered_bytes <= self.server.low_water:
            self._writing_paused = False
            spark.resumeWriting()

    # -- incoming ----------------------------------------------------------

    def packets_received(self, packets: list[Packet], via: str) -> None:
        for kind, data in packets:
            if self.state != "open":
                return
            self._packet(kind, data, via)

    def _packet(self, kind: str, data: Any, via: str) -> None:
        if kind == MESSAGE:
            spark = self.spark
            if spark is not None:
                spark.messageReceived(data)
        elif kind == PONG:
            self._cancel_timer("pong")
            self._schedule_ping()
        elif kind == CLOSE:
            self._lost("client close", release=NOOP)
        elif kind in (UPGRADE, NOOP):
            pass  # stray upgrade or noop: harmless
        elif kind == PING:
            self._failed(EngineIOError("invalid heartbeat direction: the client sent a ping"))
        else:
            self._failed(EngineIOError(f"unexpected packet type {kind!r} from the client"))

    # -- polling ------------------------------------------------------------

    def poll(self, request: Any) -> None:
        """
        A GET: answer with what is buffered, or hold it until something is.
        """
        if self._poll is not None:
            # Two pending polls: the first one gets the close packet, the
            # second one a 400, and the session is over.
            _respond(request, 400, b"", None)
            self._failed(EngineIOError("overlapping polls from the client"))
            return
        self._poll = request
        _watch(request, self._poll_gone)
        if self._buffer:
            self._flush()
        elif self.upgrading:
            self._start_timer("noop", _UPGRADE_NOOP_DELAY, self._release_poll)

    def _poll_gone(self, request: Any) -> None:
        if self._poll is request:
            self._poll = None
            self._cancel_timer("noop")
            if self.state == "closing":
                # Nobody will come for the close packet now.
                self._finish(None)
            elif self.state == "open":
                self._lost("transport error: the client dropped a pending poll", release=None)

    def _release_poll(self) -> None:
        """
        Answer the pending GET with what is buffered, or a noop.
        """
        if self._poll is None:
            return
        if not self._buffer:
            self._buffer.append((NOOP, None))
        self._flush()

    def post(self, request: Any) -> None:
        """
        A POST carrying a payload; held while the spark paused reading.
        """
        if self._post is not None:
            _respond(request, 400, b"", None)
            self._failed(EngineIOError("overlapping POST requests from the client"))
            return
        content_type = request.getHeader(b"content-type") or b""
        if content_type.split(b";")[0].strip().lower() == b"application/octet-stream":
            _respond(request, 400, b"", None)
            self._failed(EngineIOError("binary (v3) POST bodies are not supported"))
            return
        content = request.content
        body = b""
        if content is not None:
            content.seek(0)
            body = content.read(self.server.max_payload + 1)
        if len(body) > self.server.max_payload:
            _respond(request, 413, b"", None)
            self._failed(EngineIOError("payload too large"))
            return
        request._eio_body = body
        if self._reading_paused:
            self._post = request
            _watch(request, self._post_gone)
            return
        self._accept_post(request)

    def _post_gone(self, request: Any) -> None:
        if self._post is request:
            self._post = None

    def _accept_post(self, request: Any) -> None:
        body: bytes = request._eio_body
        try:
            packets = decode_payload(body.decode("utf-8"))
        except (UnicodeDecodeError, PacketError) as error:
            _respond(request, 400, b"", None)
            self._failed(EngineIOError(f"parse error: {error}"))
            return
        _respond(request, 200, b"ok", b"text/html")
        self.packets_received(packets, "polling")

    # -- upgrade ------------------------------------------------------------

    def probe_opened(self, ws: EngineIOWebSocketProtocol) -> None:
        self.probe = ws
        self._start_timer("upgrade", self.server.upgrade_timeout, self._upgrade_timed_out)

    def _upgrade_timed_out(self) -> None:
        self._drop_probe()

    def _drop_probe(self) -> None:
        probe, self.probe = self.probe, None
        self.upgrading = False
        self._cancel_timer("upgrade")
        self._cancel_timer("noop")
        if probe is not None:
            probe.session = None
            probe.close_now()

    def probe_packet(self, ws: EngineIOWebSocketProtocol, kind: str, data: Any) -> None:
        if ws is not self.probe or self.state != "open":
            ws.close_now()
            return
        if kind == PING and data == "probe" and not self.upgrading:
            ws.send_packet(PONG, "probe")
            self.upgrading = True
            self._release_poll()
        elif kind == UPGRADE and self.upgrading:
            self._cancel_timer("upgrade")
            self._cancel_timer("noop")
            self.probe = None
            self.upgrading = False
            self._release_poll()
            self.transport = "websocket"
            self.websocket = ws
            ws.upgraded()
            if self._writing_paused:
                self._writing_paused = False
                if self.spark is not None:
                    self.spark.resumeWriting()
            if self._reading_paused and ws.transport is not None:
                ws.transport.pauseProducing()  # type: ignore[attr-defined]
            self._flush()
        else:
            self._drop_probe()

    def probe_closed(self, ws: EngineIOWebSocketProtocol) -> None:
        if ws is self.probe:
            self.probe = None
            self.upgrading = False
            self._cancel_timer("upgrade")
            self._cancel_timer("noop")

    # -- ending -------------------------------------------------------------

    def _failed(self, error: Exception) -> None:
        """
        The client broke the protocol: close the session and tell the spark.
        """
        if self.state == "closed":
            return
        self._lost(str(error), release=CLOSE, error=error)

    def _lost(self, reason: str, release: Optional[str], error: Optional[Exception] = None) -> None:
        if self.state == "closed":
            return
        poll = self._poll
        if poll is not None and release is not None:
            self._poll = None
            _respond(poll, 200, release.encode("ascii"), b"text/plain; charset=UTF-8")
        self._finish(reason, error)

    def _finish(self, reason: Optional[str], error: Optional[Exception] = None) -> None:
        """
        Forget the session: timers, registry, transports; tell the spark
        unless the spark itself closed us (``reason`` is ``None``).
        """
        if self.state == "closed":
            return
        self.state = "closed"
        for name in list(self._timers):
            self._cancel_timer(name)
        self.server._forget(self)
        self._buffer = []
        self._buffered_bytes = 0
        poll, self._poll = self._poll, None
        if poll is not None:
            _respond(poll, 200, NOOP.encode("ascii"), b"text/plain; charset=UTF-8")
        post, self._post = self._post, None
        if post is not None:
            _respond(post, 400, b"", None)
        probe, self.probe = self.probe, None
        if probe is not None:
            probe.session = None
            probe.close_now()
        ws, self.websocket = self.websocket, None
        if ws is not None:
            ws.session = None
            ws.close_now()
        spark, self.spark = self.spark, None
        if spark is None or reason is None:
            return
        if error is not None:
            spark.connectionFailed(error)
        else:
            spark.connectionLost(Failure(EngineIOError(reason)))


@implementer(IPushProducer)
class EngineIOWebSocketProtocol(WebSocketServerProtocol):
    """
    One Engine.IO WebSocket: a session's transport from the start, or a
    probe that becomes one after ``2probe`` / ``5``.
    """

    engine: Any = None
    http_request: Any = None
    session: Optional[Session] = None
    probe_sid: Optional[str] = None
    b64 = False
    _is_transport = False

    def onOpen(self) -> None:
        transport: Any = self.transport
        if getattr(transport, "producer", None) is not None:
            transport.unregisterProducer()
        transport.registerProducer(self, True)
        engine: EngineIOServer = self.engine
        if self.probe_sid is not None:
            session = engine.sessions.get(self.probe_sid)
            if session is None or session.state != "open" or session.transport != "polling" or session.probe is not None:
                self.close_now()
                return
            self.session = session
            session.probe_opened(self)
            return
        session = engine._open_session(self.http_request, "websocket", self.b64)
        if session is None:
            self.close_now()
            return
        self.session = session
        session.websocket = self
        self._is_transport = True
        engine._connect(session, self.http_request)

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

    def __init__(self, primus: Primus) -> None:
        self.primus = primus
        self._reactor: Any = primus._reactor
        options = dict(primus.options.get("transport") or {})
        unknown = sorted(set(options) - set(_DEFAULT_OPTIONS))
        if unknown:
            raise PrimusError(
                f"Unknown engine.io transport option(s): {', '.join(unknown)}. "
                f"Known options: {', '.join(sorted(_DEFAULT_OPTIONS))}"
            )
        merged = dict(_DEFAULT_OPTIONS)
        merged.update(options)
        for name in ("ping_interval", "ping_timeout", "upgrade_timeout", "close_timeout"):
            value = merged[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise PrimusError(f"engine.io {name} must be a number of seconds, not {value!r}")
        max_payload = merged["max_payload"]
        if max_payload is None:
            max_payload = primus.max_length
        if isinstance(max_payload, bool) or not isinstance(max_payload, int) or max_payload <= 0:
            raise PrimusError(f"engine.io max_payload must be a number of bytes, not {max_payload!r}")
        self.ping_interval: float = float(merged["ping_interval"])
        self.ping_timeout: float = float(merged["ping_timeout"])
        self.upgrade_timeout: float = float(merged["upgrade_timeout"])
        self.close_timeout: float = float(merged["close_timeout"])
        self.max_payload: int = max_payload
        self.high_water: int = int(merged["high_water"])
        self.low_water: int = min(int(merged["low_water"]), self.high_water)
        self.websocket: bool = bool(merged["websocket"])
        self.sessions: dict[str, Session] = {}
        self._closed = False

        factory: Any = WebSocketServerFactory()
        factory.protocol = EngineIOWebSocketProtocol
        factory.setProtocolOptions(
            maxMessagePayloadSize=max_payload,
            maxFramePayloadSize=max_payload,
            webStatus=False,
            openHandshakeTimeout=10,
            closeHandshakeTimeout=1,
            failByDrop=False,
        )
        self.factory = factory

    # -- sessions -----------------------------------------------------------

    def _handshake(self, transport: str) -> dict[str, Any]:
        return {
            "upgrades": ["websocket"] if transport == "polling" and self.websocket else [],
            "pingInterval": round(self.ping_interval * 1000),
            "pingTimeout": round(self.ping_timeout * 1000),
            "maxPayload": self.max_payload,
        }

    def _open_session(self, request: Any, transport: str, b64: bool = False) -> Optional[Session]:
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

    def _connect(self, session: Session, request: Any) -> None:
        spark = self.primus.connect_spark(
            session,
            headers=headers_of(request),
            query=dict(request.query),
            peer=peer_of(request),
            request=request,
            socket=session,
            id=session.sid,
        )
        if session.state == "closed":
            return
        session.spark = spark
        session._flush()

    def _forget(self, session: Session) -> None:
        if self.sessions.get(session.sid) is session:
            del self.sessions[session.sid]

    # -- requests -----------------------------------------------------------

    def _verify(self, request: Any) -> Optional[tuple[int, int, str]]:
        query = request.query
        if _text(query.get("EIO")) != "4":
            return UNSUPPORTED_VERSION
        transport = _text(query.get("transport"))
        if transport not in ("polling", "websocket") or (transport == "websocket" and not self.websocket):
            return UNKNOWN_TRANSPORT
        return None

    def request(self, request: Any) -> None:
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

    def _polling_handshake(self, request: Any) -> None:
        session = self._open_session(request, "polling")
        if session is None:
            _json_error(request, BAD_REQUEST)
            return
        self._connect(session, request)
        if session.state != "closed":
            session.poll(request)

    def upgrade(self, request: Any) -> None:
        """
        A WebSocket upgrade that passed the middleware: a new session, or
        the probe of a polling session's upgrade.
        """
        error = self._verify(request)
        if error is None and _text(request.query.get("transport")) != "websocket":
            error = BAD_REQUEST
        sid = _text(request.query.get("sid"))
        if error is None and sid is not None:
            session = self.sessions.get(sid)
            if session is None:
                error = UNKNOWN_SID
            elif session.state != "open" or session.transport != "polling" or session.probe is not None:
                error = BAD_REQUEST
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
            session.spark = None
            session._lost("server shutting down", release=CLOSE)
