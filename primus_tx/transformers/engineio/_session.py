"""
An Engine.IO session: one Engine.IO socket and one spark's IConnection,
outliving the polling requests and WebSocket that carry it.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from primus_tx._http import PrimusRequest, watch_gone
from primus_tx.interfaces import IConnection
from primus_tx.transformers._shared import check_water
from primus_tx.transformers.engineio._common import (
    _OPEN_WS,
    _UPGRADE_NOOP_DELAY,
    MAX_PACKETS_PER_POLL,
    Engine,
    EngineIOError,
    SessionSocket,
    _respond,
)
from primus_tx.transformers.engineio._packets import (
    CLOSE,
    MESSAGE,
    NOOP,
    PING,
    PONG,
    UPGRADE,
    Packet,
    PacketError,
    decode_payload,
    encode_payload,
)


@implementer(IConnection)
class Session:
    """
    One Engine.IO socket: the spark's connection, whatever carries it.

    :ivar sid: the session id, sent to the client in the ``open`` packet.
    :ivar transport: ``"polling"`` or ``"websocket"``, the current transport.
    :ivar upgrading: whether a probe WebSocket answered ``2probe``.
    """

    log = Logger()

    def __init__(self, server: Engine, sid: str, transport: str, b64: bool = False) -> None:
        self.server = server
        self.sid = sid
        self.transport = transport
        self.spark: Any = None
        self.state = "open"  # then "closing" (polling, close packet queued), "closed"
        self.upgrading = False
        self.probe: Optional[SessionSocket] = None
        self.websocket: Optional[SessionSocket] = None
        self._b64 = b64
        self._buffer: list[Packet] = []
        self._buffered_bytes = 0
        self._poll: Optional[PrimusRequest] = None  # the pending GET
        self._post: Optional[PrimusRequest] = None  # a POST held while reading is paused
        self._post_body = b""  # the held POST's body
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
        if not self.upgrading:
            # A probe that has not answered yet: the client still polls
            # and will fetch the close packet.  One that has answered is
            # kept: engine.io-client has stopped polling for it, and would
            # wait for its ping timeout if it closed; the close packet goes
            # out on it once the client sends ``5``.
            self._drop_probe()
        if self.transport == "websocket":
            # The close packet, then the close frame: the client knows the
            # server ended the session, not the network.
            self._buffer.append((CLOSE, None))
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
            ws.transport.pauseProducing()

    def resumeReading(self) -> None:
        if not self._reading_paused:
            return
        self._reading_paused = False
        ws = self.websocket
        if ws is not None and ws.transport is not None:
            ws.transport.resumeProducing()
        post, self._post = self._post, None
        if post is not None and self.state == "open":
            self._accept_post(post, self._post_body)

    def abort(self) -> None:
        """
        A slow client past ``max_buffered``: drop what waits for it (and its
        WebSocket); ``close()`` follows.
        """
        self._buffer = []
        self._buffered_bytes = 0
        ws = self.websocket
        if ws is not None and ws.transport is not None:
            ws.transport.abortConnection()

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
        if spark is None or self.state != "open" or self.transport != "polling":
            return
        server = self.server
        if self._writing_paused or self._buffered_bytes > server.high_water:
            self._writing_paused = check_water(
                self._writing_paused, self._buffered_bytes, server.high_water, server.low_water, spark
            )

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

    def poll(self, request: PrimusRequest) -> None:
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
        watch_gone(request, self._poll_gone)
        if self._buffer:
            self._flush()
        elif self.upgrading:
            self._start_timer("noop", _UPGRADE_NOOP_DELAY, self._release_poll)

    def _poll_gone(self, request: PrimusRequest) -> None:
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

    def post(self, request: PrimusRequest) -> None:
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
            # As engine.io: the POST is refused, the session goes on (the
            # site guard normally refuses it before reading the body).
            _respond(request, 413, b"", None)
            return
        if self._reading_paused:
            self._post = request
            self._post_body = body
            watch_gone(request, self._post_gone)
            return
        self._accept_post(request, body)

    def _post_gone(self, request: PrimusRequest) -> None:
        if self._post is request:
            self._post = None

    def _accept_post(self, request: PrimusRequest, body: bytes) -> None:
        try:
            packets = decode_payload(body.decode("utf-8"))
        except (UnicodeDecodeError, PacketError) as error:
            _respond(request, 400, b"", None)
            self._failed(EngineIOError(f"parse error: {error}"))
            return
        _respond(request, 200, b"ok", b"text/html")
        self.packets_received(packets, "polling")

    # -- upgrade ------------------------------------------------------------

    def probe_opened(self, ws: SessionSocket) -> None:
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

    def probe_packet(self, ws: SessionSocket, kind: str, data: Any) -> None:
        if ws is not self.probe or self.state == "closed":
            ws.close_now()
            return
        if kind == PING and data == "probe" and not self.upgrading and self.state == "open":
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
                ws.transport.pauseProducing()
            self._flush()
            if self.state == "closing":
                # The spark ended during the switch: the close packet has
                # just gone out on the new transport.
                self._finish(None)
        else:
            self._drop_probe()

    def probe_closed(self, ws: SessionSocket) -> None:
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

    def shut_down(self) -> None:
        """
        The server is closing: the client gets a close packet on whatever
        carries the session, and the session ends.
        """
        ws = self.websocket
        if self.state == "open" and ws is not None:
            ws.send_packet(CLOSE, None)
        self.spark = None
        self._lost("server shutting down", release=CLOSE)

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
