# -*- test-case-name: tests.engineio.test_engineio_client -*-
"""
The ``engine.io`` transformer, Python client side: an Engine.IO v4 client
(treq long-polling, upgraded to an Autobahn WebSocket) behind
:class:`~primus_tx.client.IClientTransport`.

It behaves like the official ``engine.io-client`` as Primus configures it:
open by polling, probe the upgrade with ``2probe`` / ``3probe``, let the
in-flight poll and POST finish, then send ``5`` and move to the WebSocket;
answer pings; fail when the server is silent for ``pingInterval +
pingTimeout``.  Closing on polling posts a ``close`` packet behind
whatever is still to be posted, as ``end(data)`` needs (see
:class:`~primus_tx.transformers._http_client.Drain`).  Transport options: ``websockets`` (``False`` stays on
polling, as Primus's ``websockets: false`` does), ``connect_timeout``
(seconds, default 30) and ``tls`` (an ``IPolicyForHTTPS`` for https).
"""

from __future__ import annotations

import base64
from typing import Any, Optional
from urllib.parse import unquote, urlsplit, urlunsplit

from autobahn.twisted.websocket import WebSocketClientProtocol
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool
from zope.interface import implementer

from primus_tx._errors import ConnectionFailed
from primus_tx._json import loads
from primus_tx.interfaces import IClientTransport
from primus_tx.transformers._autobahn import client_factory
from primus_tx.transformers._http_client import Drain
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

__all__ = ["EngineIOClientTransport", "EngineIOClosed"]

_WS_OPEN = WebSocketClientProtocol.STATE_OPEN


class EngineIOClosed(ConnectionFailed):
    """
    The Engine.IO session ended abnormally (HTTP error, ping timeout,
    protocol error).
    """


class _Probe(WebSocketClientProtocol):
    owner: Any = None

    def onOpen(self) -> None:
        if self.owner is not None:
            self.owner._ws_opened(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self.owner is not None:
            self.owner._ws_message(self, payload, isBinary)

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:
        if self.owner is not None:
            self.owner._ws_closed(self, reason)


@implementer(IClientTransport)
class EngineIOClientTransport(Drain):
    """
    One Engine.IO session of a Python Primus client.
    """

    protocol = "http"
    log = Logger()

    def __init__(self, handler: Any, reactor: Any, options: dict[str, Any]) -> None:
        self._handler = handler
        self._reactor = reactor
        self._options = dict(options)
        self.id: Optional[str] = None
        self.transport_name = "polling"
        self._state = "new"  # opening, open, closed
        self._reported = False
        self._pool = HTTPConnectionPool(reactor, persistent=True)
        self._pool.maxPersistentPerHost = 4
        self._agent: Any = None
        self._headers: dict[str, list[str]] = {}
        self._base = ""
        self._ws_base = ""
        self._get: Optional[Deferred[Any]] = None
        self._post: Optional[Deferred[Any]] = None
        self._outbox: list[Packet] = []
        self._ping_interval = 25.0
        self._ping_timeout = 20.0
        self._max_payload = 1000000
        self._alive: Optional[IDelayedCall] = None
        self._ws: Optional[_Probe] = None
        self._probing = False
        self._pausing = False
        self._connecting: Optional[Deferred[Any]] = None
        self._gone: Optional[Deferred[None]] = None

    # -- IClientTransport ------------------------------------------------

    def open(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        hdrs = {name: [value] for name, value in headers.items()}
        if parts.username is not None and not any(k.lower() == "authorization" for k in hdrs):
            credentials = unquote(parts.username) + ":" + unquote(parts.password or "")
            hdrs["Authorization"] = ["Basic " + base64.b64encode(credentials.encode()).decode("ascii")]
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port is not None:
            netloc += f":{parts.port}"
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        query = (parts.query + "&" if parts.query else "") + "EIO=4"
        self._base = urlunsplit((parts.scheme, netloc, path, query, ""))
        ws_scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
        self._ws_base = urlunsplit((ws_scheme, netloc, path, query, ""))
        self._headers = hdrs
        tls = self._options.get("tls")
        connect_timeout = self._options.get("connect_timeout", 30)
        if tls is not None:
            self._agent = Agent(self._reactor, tls, connectTimeout=connect_timeout, pool=self._pool)
        else:
            self._agent = Agent(self._reactor, connectTimeout=connect_timeout, pool=self._pool)
        self._state = "opening"
        self._get = self._request("GET", self._url("polling"))
        self._get.addCallbacks(self._handshaken, self._http_failed)

    def send(self, message: str | bytes) -> None:
        if self._state == "open":
            self._send_packets([(MESSAGE, message)])

    def close(self) -> Deferred[None]:
        if self._state == "closed":
            return self._gone if self._gone is not None and not self._gone.called else succeed(None)
        was_open = self._state == "open"
        self._state = "closed"
        self._cancel_alive()
        connecting, self._connecting = self._connecting, None
        if connecting is not None:
            connecting.cancel()
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.owner = None
            if ws.state == _WS_OPEN:
                ws.sendClose()
            else:
                ws.dropConnection(abort=True)
        gone: Deferred[None] = Deferred()
        self._gone = gone

        def release() -> Deferred[None]:
            # Only now: an aborted poll ends the session at once on a Node
            # server, before the data still to be posted gets there.
            get, self._get = self._get, None
            if get is not None:
                get.cancel()
            return self._pool.closeCachedConnections().addBoth(lambda _: gone.callback(None))

        if was_open and self.transport_name == "polling" and self.id is not None:
            # Tell the server, so the session ends now rather than at the
            # ping timeout; best effort.  The close packet goes behind what
            # is still to be posted (``end(data)`` writes just before
            # closing), on the one POST at a time the server allows: a
            # second POST beside it would be refused as an overlap.
            if self._reported:
                self._outbox.clear()
            self._pausing = False
            self._outbox.append((CLOSE, None))
            self._drain_then(release)
            self._flush_post()
        else:
            release()
        return gone

    # -- HTTP ----------------------------------------------------------------

    def _url(self, transport: str) -> str:
        base = self._ws_base if transport == "websocket" else self._base
        url = f"{base}&transport={transport}"
        if self.id is not None:
            url += "&sid=" + self.id
        return url

    def _request(self, method: str, url: str, body: Optional[bytes] = None) -> Deferred[Any]:
        import treq
        from treq.client import HTTPClient

        client = HTTPClient(self._agent)
        headers: dict[Any, Any] = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = ["text/plain;charset=UTF-8"]
        d = client.request(method, url, data=body, headers=headers)

        def read(response: Any) -> Any:
            return treq.content(response).addCallback(lambda content: (response.code, content))

        return d.addCallback(read)

    def _http_failed(self, failure: Failure) -> None:
        if failure.check(CancelledError) or self._state == "closed":
            return
        self._fail(EngineIOClosed(f"Engine.IO polling request failed: {failure.value}"), failure)

    def _handshaken(self, answer: tuple[int, bytes]) -> None:
        self._get = None
        if self._state == "closed":
            return
        status, body = answer
        if status != 200:
            self._fail(EngineIOClosed(f"Engine.IO handshake refused: {status} {body[:200]!r}"))
            return
        try:
            packets = decode_payload(body.decode("utf-8"))
            kind, data = packets[0]
            if kind != OPEN or not isinstance(data, str):
                raise PacketError("the first packet is not open")
            info = loads(data)
            self.id = str(info["sid"])
            self._ping_interval = info.get("pingInterval", 25000) / 1000
            self._ping_timeout = info.get("pingTimeout", 20000) / 1000
            self._max_payload = int(info.get("maxPayload", 1000000))
            upgrades = info.get("upgrades") or []
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, PacketError) as error:
            self._fail(EngineIOClosed(f"Engine.IO handshake not understood: {error}"))
            return
        self._state = "open"
        self._reset_alive()
        self._handler.connectionMade()
        self._packets(packets[1:])
        if self._state != "open":
            return
        if "websocket" in upgrades and self._options.get("websockets", True):
            try:
                self._probe()
            except Exception:
                self.log.failure("cannot start the WebSocket upgrade; staying on polling")
        self._poll()

    def _poll(self) -> None:
        if self._state != "open" or self.transport_name != "polling" or self._get is not None or self._pausing:
            return
        self._get = self._request("GET", self._url("polling"))
        self._get.addCallbacks(self._polled, self._http_failed)

    def _polled(self, answer: tuple[int, bytes]) -> None:
        self._get = None
        if self._state != "open":
            return
        status, body = answer
        if status != 200:
            self._fail(EngineIOClosed(f"Engine.IO poll failed: {status} {body[:200]!r}"))
            return
        try:
            packets = decode_payload(body.decode("utf-8"))
        except (UnicodeDecodeError, PacketError) as error:
            self._fail(EngineIOClosed(f"Engine.IO poll not understood: {error}"))
            return
        self._packets(packets)
        if self._pausing:
            self._maybe_upgrade()
        else:
            self._poll()

    def _send_packets(self, packets: list[Packet]) -> None:
        if self.transport_name == "websocket" and self._ws is not None:
            for kind, data in packets:
                self._ws_send(self._ws, kind, data)
            return
        self._outbox.extend(packets)
        self._flush_post()

    def _flush_post(self) -> None:
        if self._post is not None or (self._state != "open" and self._drained is None):
            return
        if not self._outbox:
            self._finish_draining()
            return
        if self.transport_name == "websocket" and self._ws is not None:
            packets, self._outbox = self._outbox, []
            self._send_packets(packets)
            return
        if self._pausing:
            return
        batch: list[Packet] = []
        size = 0
        while self._outbox:
            text = encode_packet(*self._outbox[0])
            cost = len(text.encode("utf-8")) + (1 if batch else 0)
            if batch and size + cost > self._max_payload:
                break
            batch.append(self._outbox.pop(0))
            size += cost
        self._post = self._request("POST", self._url("polling"), encode_payload(batch).encode("utf-8"))
        self._post.addCallbacks(self._posted, self._post_failed)

    def _posted(self, answer: tuple[int, bytes]) -> None:
        self._post = None
        if self._state != "open":
            if answer[0] == 200:
                self._flush_post()  # closing: the next batch, or the goodbye is through
            else:
                self._finish_draining()
            return
        if answer[0] != 200:
            self._fail(EngineIOClosed(f"Engine.IO POST failed: {answer[0]} {answer[1][:200]!r}"))
            return
        if self._pausing:
            self._maybe_upgrade()
        else:
            self._flush_post()

    def _post_failed(self, failure: Failure) -> None:
        self._post = None
        if self._state == "closed":
            self._finish_draining()  # the rest cannot be delivered either
        self._http_failed(failure)

    # -- packets -------------------------------------------------------------

    def _packets(self, packets: list[Packet]) -> None:
        for kind, data in packets:
            if self._state != "open":
                return
            self._reset_alive()
            if kind == MESSAGE:
                self._handler.messageReceived(data)
            elif kind == PING:
                self._send_packets([(PONG, data)])
            elif kind == CLOSE:
                self._lost(None)
            elif kind == NOOP:
                pass

    def _reset_alive(self) -> None:
        self._cancel_alive()
        if self._ping_interval > 0:
            self._alive = self._reactor.callLater(
                self._ping_interval + self._ping_timeout, self._silent
            )

    def _cancel_alive(self) -> None:
        alive, self._alive = self._alive, None
        if alive is not None and alive.active():
            alive.cancel()

    def _silent(self) -> None:
        self._alive = None
        self._fail(EngineIOClosed("Engine.IO ping timeout: the server went silent"))

    # -- upgrade -------------------------------------------------------------

    def _probe(self) -> None:
        from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS

        url = self._url("websocket")
        parts = urlsplit(url)
        secure = parts.scheme == "wss"
        headers = {name: ", ".join(values) for name, values in self._headers.items()}
        factory = client_factory(url, headers, self._reactor, _Probe)
        endpoint: Any = HostnameEndpoint(
            self._reactor, parts.hostname or "", parts.port or (443 if secure else 80),
            timeout=self._options.get("connect_timeout", 30),
        )
        if secure:
            from twisted.internet.ssl import optionsForClientTLS

            endpoint = wrapClientTLS(optionsForClientTLS(parts.hostname or ""), endpoint)
        self._connecting = endpoint.connect(factory)
        self._connecting.addCallbacks(self._ws_connected, self._ws_connect_failed)

    def _ws_connected(self, protocol: _Probe) -> None:
        self._connecting = None
        if self._state != "open":
            protocol.dropConnection(abort=True)
            return
        protocol.owner = self
        self._ws = protocol

    def _ws_connect_failed(self, failure: Failure) -> None:
        self._connecting = None  # stay on polling

    def _ws_opened(self, ws: _Probe) -> None:
        self._probing = True
        self._ws_send(ws, PING, "probe")

    @staticmethod
    def _ws_send(ws: _Probe, kind: str, data: Any) -> None:
        if ws.state != _WS_OPEN:
            return
        if isinstance(data, bytes):
            ws.sendMessage(data, True)
        else:
            ws.sendMessage(encode_packet(kind, data).encode("utf-8"), False)

    def _ws_message(self, ws: _Probe, payload: bytes, binary: bool) -> None:
        if self._state != "open":
            return
        if binary:
            packet: Packet = (MESSAGE, payload)
        else:
            try:
                packet = decode_packet(payload.decode("utf-8"))
            except (UnicodeDecodeError, PacketError) as error:
                if self.transport_name == "websocket":
                    self._fail(EngineIOClosed(f"Engine.IO packet not understood: {error}"))
                else:
                    self._abandon_probe()
                return
        if self.transport_name == "websocket":
            self._packets([packet])
        elif self._probing and packet == (PONG, "probe"):
            self._probing = False
            self._pausing = True
            self._maybe_upgrade()
        else:
            self._abandon_probe()

    def _maybe_upgrade(self) -> None:
        ws = self._ws
        if not self._pausing or self._get is not None or self._post is not None:
            return
        self._pausing = False
        if ws is None or ws.state != _WS_OPEN:
            self._abandon_probe()
            return
        self._ws_send(ws, UPGRADE, None)
        self.transport_name = "websocket"
        packets, self._outbox = self._outbox, []
        self._send_packets(packets)

    def _abandon_probe(self) -> None:
        ws, self._ws = self._ws, None
        self._probing = False
        if self._pausing:
            self._pausing = False
            self._poll()
            self._flush_post()
        if ws is not None:
            ws.owner = None
            if ws.state == _WS_OPEN:
                ws.sendClose()
            else:
                ws.dropConnection(abort=True)

    def _ws_closed(self, ws: _Probe, reason: Any) -> None:
        if ws is not self._ws:
            return
        self._ws = None
        if self.transport_name == "websocket":
            self._lost(None)
        else:
            self._abandon_probe()

    # -- ending ----------------------------------------------------------------

    def _fail(self, error: Exception, reason: Any = None) -> None:
        if self._reported:
            return
        self._reported = True
        was_closed = self._state == "closed"
        self.close()
        if not was_closed:
            self._handler.connectionFailed(error)
            self._handler.connectionLost(reason if reason is not None else Failure(error))

    def _lost(self, reason: Any) -> None:
        if self._reported:
            return
        self._reported = True
        was_closed = self._state == "closed"
        self._state = "closing"
        self.close()
        if not was_closed:
            self._handler.connectionLost(reason)
