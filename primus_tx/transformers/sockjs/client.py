# -*- test-case-name: tests.sockjs.test_sockjs_client -*-
"""
The ``sockjs`` transformer, Python client side.

Like sockjs-client, one connection attempt first reads ``<base>/info``,
then opens a fresh ``/<server>/<session>/`` with the first usable
transport: ``websocket`` (Autobahn; skipped when ``/info`` says
``"websocket": false`` or the socket's transport options say
``websockets=False``), then ``xhr-streaming``, then ``xhr-polling`` (both
through treq).  A transport that fails before the ``o`` frame makes way
for the next one.  The query string of the socket's URL goes on every
request, so the spark sees it.

SockJS has no goodbye message: closing a WebSocket closes it (after the
messages sent before), and over HTTP the server ends the session when its
receiving request is aborted.  So, as ``end(data)`` needs, closing first
lets the ``xhr_send`` queue drain (:class:`~primus_tx.transformers._http_client.Drain`),
keeping a receiver open meanwhile, and then aborts it.

Transport options (the socket's ``transport`` dict): ``websockets``
(``True``), ``transports`` (the list to try, default
``["websocket", "xhr-streaming", "xhr-polling"]``), ``connect_timeout``
(seconds, default 10).
"""

from __future__ import annotations

import json
import random
import string
from typing import Any, Optional
from urllib.parse import urlsplit

from autobahn.twisted.websocket import WebSocketClientProtocol
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from primus_tx._errors import ConnectionFailed
from primus_tx._json import loads
from primus_tx.interfaces import IClientTransport
from primus_tx.transformers._autobahn import client_factory
from primus_tx.transformers._http_client import HTTPClientBase

__all__ = ["SockJSClientTransport", "SockJSError", "parse_frame"]

DEFAULT_TRANSPORTS = ("websocket", "xhr-streaming", "xhr-polling")
_SESSION_CHARS = string.ascii_lowercase + "012345"


class SockJSError(ConnectionFailed):
    """
    The server closed the SockJS session with an error code (``> 1000``).

    :ivar code: the SockJS close code; :ivar close_reason: its reason text.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"SockJS session closed: {code} {reason}")
        self.code = code
        self.close_reason = reason


def parse_frame(frame: str) -> tuple[str, Any]:
    """
    ``(kind, value)`` of one SockJS frame: ``("o", None)``, ``("h", None)``,
    ``("a", [messages])`` or ``("c", [code, reason])``.

    :raises ValueError: for anything else.
    """
    if not frame:
        raise ValueError("empty frame")
    kind = frame[0]
    if kind in "oh":
        return kind, None
    if kind == "a":
        value = loads(frame[1:])
        if not isinstance(value, list):
            raise ValueError("a frame is not an array")
        return kind, value
    if kind == "m":
        return "a", [loads(frame[1:])]
    if kind == "c":
        value = loads(frame[1:])
        return kind, value
    raise ValueError(f"unknown frame {frame[:20]!r}")


class _WebSocketProtocol(WebSocketClientProtocol):
    owner: Any = None

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self.owner is not None:
            self.owner._frame(payload.decode("utf-8", "replace"))

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:
        if self.owner is not None:
            self.owner._transport_lost(f"WebSocket closed ({code} {reason})")


@implementer(IClientTransport)
class SockJSClientTransport(HTTPClientBase):
    """
    One SockJS session of a Python Primus client.
    """

    protocol = "http"
    id = None
    log = Logger()

    def __init__(self, handler: Any, reactor: Any, options: dict[str, Any]) -> None:
        self._handler = handler
        self._reactor = reactor
        self._options = dict(options)
        self._closed = False
        self._reported = False
        self._opened = False
        self._outbox: list[str] = []
        self._sending = False
        self._ws: Optional[_WebSocketProtocol] = None
        self._kind = ""
        self._candidates: list[str] = []
        self._buffer = ""
        self._timeout: Any = None
        HTTPClientBase.__init__(self, reactor, cookies=True)

    # -- IClientTransport ------------------------------------------------------

    def open(self, url: str, headers: dict[str, str]) -> None:
        self._split_url(url, headers)
        timeout = float(self._options.get("connect_timeout", 10))
        d = self._request("GET", self._url("/info"))
        d.addCallback(self._got_info)
        d.addErrback(self._fail)
        self._timeout = self._reactor.callLater(timeout, self._timed_out)

    def send(self, message: str | bytes) -> None:
        if self._closed or not self._opened:
            return
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        if self._ws is not None:
            if self._ws.state == WebSocketClientProtocol.STATE_OPEN:
                self._ws.sendMessage(json.dumps([text]).encode("utf-8"), False)
            return
        self._outbox.append(text)
        self._post()

    def close(self) -> Deferred[None]:
        if self._closed:
            return succeed(None)
        self._closed = True
        self._cancel_timeout()
        if self._opened and not self._reported and (self._outbox or self._sending):
            # ``end(data)`` writes just before closing: deliver what is
            # still to be sent first, then abort the receiver.  The handler
            # hears nothing more meanwhile.
            closing = self._drain_then(self._goodbye)
            self._post()
            return closing
        return self._goodbye()

    def _goodbye(self) -> Deferred[None]:
        """
        Abort every request (the receiver's abort ends the session on the
        server) and close the WebSocket, if any.
        """
        self._cancel_pending()
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.owner = None
            if ws.state == WebSocketClientProtocol.STATE_OPEN:
                ws.sendClose(1000)
            elif ws.transport is not None:
                ws.dropConnection(abort=True)
        return self._pool.closeCachedConnections()

    # -- HTTP ---------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self._base + path + ("?" + self._query if self._query else "")

    def _got_info(self, result: Any) -> None:
        if self._closed:
            return
        _, content = result
        info = loads(content)
        wanted = list(self._options.get("transports") or DEFAULT_TRANSPORTS)
        websockets = self._options.get("websockets", True) and info.get("websocket", True)
        self._candidates = [t for t in wanted if t != "websocket" or websockets]
        self._next_transport()

    def _next_transport(self) -> None:
        if not self._candidates:
            raise ConnectionFailed("All SockJS transports failed")
        self._kind = self._candidates.pop(0)
        server = f"{random.randint(0, 999):03d}"  # a load balancer hint, not a secret
        session = "".join(random.choice(_SESSION_CHARS) for _ in range(8))
        self._session = f"/{server}/{session}"
        self._buffer = ""
        if self._kind == "websocket":
            self._open_websocket()
        elif self._kind in ("xhr-streaming", "xhr-polling"):
            self._receive()
        else:
            raise ConnectionFailed(f"Unknown SockJS transport {self._kind!r}")

    def _receive(self) -> None:
        if self._closed and self._drained is None:
            return
        path = "/xhr_streaming" if self._kind == "xhr-streaming" else "/xhr"
        self._buffer = ""
        d = self._request("POST", self._url(self._session + path), b"", stream=self._chunk)
        d.addCallback(self._receive_done)
        d.addErrback(self._receive_failed)

    def _chunk(self, data: bytes) -> None:
        self._buffer += data.decode("utf-8", "replace")
        while "\n" in self._buffer and not self._closed:
            line, self._buffer = self._buffer.split("\n", 1)
            self._frame(line)

    def _receive_done(self, _: Any) -> None:
        # While draining, poll on: aborting a waiting receiver is what
        # ends the session on the server once the sends are through.
        if not self._reported and (not self._closed or self._drained is not None):
            self._receive()

    def _receive_failed(self, failure: Failure) -> None:
        if self._closed or self._reported:
            return
        if not self._opened and self._candidates and not failure.check(ConnectionFailed):
            self._next_transport()
            return
        self._fail(failure)

    def _post(self) -> None:
        if self._sending or self._reported or (self._closed and self._drained is None):
            return
        if not self._outbox:
            self._finish_draining()
            return
        batch, self._outbox = self._outbox, []
        self._sending = True
        d = self._request("POST", self._url(self._session + "/xhr_send"), json.dumps(batch).encode("utf-8"))
        d.addCallback(self._posted)
        d.addErrback(self._post_failed)

    def _posted(self, _: Any) -> None:
        self._sending = False
        self._post()

    def _post_failed(self, failure: Failure) -> None:
        self._sending = False
        if self._closed:
            self._finish_draining()  # the rest cannot be delivered either
            return
        self._fail(failure)

    # -- WebSocket ----------------------------------------------------------------

    def _open_websocket(self) -> None:
        from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS

        secure = self._scheme == "https"
        url = ("wss" if secure else "ws") + self._url(self._session + "/websocket")[len(self._scheme):]
        parts = urlsplit(url)
        factory = client_factory(url, dict(self._headers), self._reactor, _WebSocketProtocol)
        port = parts.port or (443 if secure else 80)
        endpoint: Any = HostnameEndpoint(self._reactor, parts.hostname or "", port, timeout=10)
        if secure:
            from twisted.internet.ssl import optionsForClientTLS

            endpoint = wrapClientTLS(optionsForClientTLS(parts.hostname or ""), endpoint)
        d = endpoint.connect(factory)
        self._pending.append(d)
        d.addBoth(self._done_pending, d)

        def connected(protocol: _WebSocketProtocol) -> None:
            if self._closed:
                protocol.dropConnection(abort=True)
                return
            protocol.owner = self
            self._ws = protocol

        d.addCallback(connected)
        d.addErrback(self._receive_failed)

    def _transport_lost(self, why: str) -> None:
        self._ws = None
        if self._closed or self._reported:
            return
        if not self._opened and self._candidates:
            self._next_transport()
            return
        self._report(ConnectionFailed(why) if not self._opened else None)

    # -- frames --------------------------------------------------------------------

    def _frame(self, frame: str) -> None:
        if self._closed or self._reported:
            return
        try:
            kind, value = parse_frame(frame)
        except ValueError as error:
            self._fail(Failure(ConnectionFailed(f"Broken SockJS frame: {error}")))
            return
        if kind == "o":
            if self._opened:
                self._fail(Failure(ConnectionFailed("Server lost session")))
                return
            self._opened = True
            self._cancel_timeout()
            self._handler.connectionMade()
            self._post()
        elif kind == "a":
            for message in value:
                if self._closed or self._reported:
                    return
                self._handler.messageReceived(message if isinstance(message, str) else json.dumps(message))
        elif kind == "c":
            code, reason = (list(value) + [1000, ""])[:2]
            self._report(SockJSError(int(code), str(reason)) if int(code) > 1000 else None)

    # -- ending ------------------------------------------------------------------------

    def _cancel_timeout(self) -> None:
        call, self._timeout = self._timeout, None
        if call is not None and call.active():
            call.cancel()

    def _timed_out(self) -> None:
        self._timeout = None
        if not self._opened:
            self._report(ConnectionFailed("SockJS transport timed out"))

    def _fail(self, failure: Failure) -> None:
        if self._closed or self._reported:
            return
        error = failure.value
        if not isinstance(error, ConnectionFailed):
            error = ConnectionFailed(f"SockJS connection failed: {error}", error)
        self._report(error)

    def _report(self, error: Optional[Exception]) -> None:
        if self._reported or self._closed:
            return
        self._reported = True
        self._cancel_timeout()
        if error is not None:
            self._handler.connectionFailed(error)
        self._handler.connectionLost(Failure(error) if error is not None else Failure(ConnectionDone()))
        # The session is over; release what it holds.
        self._cancel_pending()
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.owner = None
            if ws.state == WebSocketClientProtocol.STATE_OPEN:
                ws.sendClose(1000)
        self._pool.closeCachedConnections()
