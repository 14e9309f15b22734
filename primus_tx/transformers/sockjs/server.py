# -*- test-case-name: tests.sockjs.test_sockjs_server -*-
"""
The ``sockjs`` transformer, server side: SockJS 0.3.3 sessions under
twisted.web.

A SockJS *session* is the spark's :class:`~primus_tx.interfaces.IConnection`.
HTTP sessions outlive the requests that carry them: messages wait in the
session's outbox until a *receiver* (one long-poll or streaming response)
is attached, and the session dies when no receiver comes back within the
disconnect delay.  WebSocket sessions are the Autobahn protocol itself,
one per connection, never registered by id (the protocol allows several
at once with the same id).

Everything the Primus layer sends is a string inside SockJS ``a[...]``
frames; Primus's own heartbeat runs inside them, in addition to SockJS's
``h`` frames.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from typing import TYPE_CHECKING, Any, Callable, Optional
from urllib.parse import parse_qs

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet.interfaces import IDelayedCall, IPushProducer
from twisted.logger import Logger
from twisted.web.http import datetimeToString
from zope.interface import implementer

from primus_tx._errors import PrimusError
from primus_tx._http import headers_of, peer_of
from primus_tx.interfaces import IConnection
from primus_tx.transformers._flow import TransportFlow
from primus_tx.transformers._takeover import take_over

if TYPE_CHECKING:
    from primus_tx.server import Primus

__all__ = [
    "DEFAULT_OPTIONS",
    "HIGH_WATER",
    "LOW_WATER",
    "Session",
    "SockJSServer",
    "close_frame",
    "message_frame",
]

log = Logger()

#: The transport options and their defaults (durations in seconds).
DEFAULT_OPTIONS: dict[str, Any] = {
    "websocket": True,
    "cookie_needed": False,
    "heartbeat_delay": 25.0,
    "disconnect_delay": 5.0,
    "response_limit": 128 * 1024,
    "sockjs_url": "https://cdn.jsdelivr.net/npm/sockjs-client@1/dist/sockjs.min.js",
}

#: Characters waiting in an HTTP session's outbox past which ``spark.write``
#: returns ``False``; ``"drain"`` follows once it is back under LOW_WATER.
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024

NO_CACHE = b"no-store, no-cache, no-transform, must-revalidate, max-age=0"
ONE_YEAR = 31536000
CACHE_FOREVER = b"public, max-age=31536000"

ANOTHER_CONNECTION = 'c[2010,"Another connection still open"]'

_SESSION_PATH = re.compile(rb"^/([^/.]+)/([^/.]+)/([a-z_]+)$")
_IFRAME_PATH = re.compile(rb"^/iframe[0-9a-z._-]*\.html$")
_CALLBACK = re.compile(r"^[a-zA-Z0-9_.-]+$")

_IFRAME = """<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="{url}"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe();
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>"""

_HTMLFILE_HEAD = """<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.{callback};
    c.start();
    function p(d) {{c.message(d);}};
    window.onload = function() {{c.stop();}};
  </script>"""


# -- frames ------------------------------------------------------------------


def _json(value: Any) -> str:
    # ensure_ascii escapes every non-ASCII character (lowercase \\uXXXX),
    # a superset of what SockJS requires, and copes with lone surrogates.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def message_frame(messages: list[str]) -> str:
    """
    The ``a[...]`` frame carrying ``messages``.
    """
    return "a" + _json(messages)


def close_frame(code: int, reason: str) -> str:
    """
    The ``c[code,"reason"]`` frame.
    """
    return "c" + _json([code, reason])


def _text(message: Any) -> str:
    if isinstance(message, str):
        return message
    if isinstance(message, (bytes, bytearray)):
        # SockJS carries text only.
        return bytes(message).decode("utf-8", "replace")
    return str(message)


class BrokenPayload(Exception):
    """
    A send request whose body is not a JSON array of messages.
    """


def decode_payload(body: bytes) -> list[str]:
    """
    The messages of a send request's body (a JSON array of strings).

    :raises BrokenPayload: with SockJS's reason text.
    """
    if not body:
        raise BrokenPayload("Payload expected.")
    try:
        value = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise BrokenPayload("Broken JSON encoding.") from None
    if not isinstance(value, list):
        raise BrokenPayload("Payload expected.")
    return [item if isinstance(item, str) else _json(item) for item in value]


# -- HTTP helpers ---------------------------------------------------------------


def _gone(request: Any) -> bool:
    return bool(getattr(request, "_primus_gone", False) or getattr(request, "_sockjs_gone", False))


def _finish(request: Any) -> None:
    if not _gone(request) and not getattr(request, "finished", False):
        request.finish()


def _no_cache(request: Any) -> None:
    headers = request.responseHeaders
    headers.setRawHeaders(b"cache-control", [NO_CACHE])
    for name in (b"expires", b"last-modified", b"pragma"):
        headers.removeHeader(name)


def _cache_forever(request: Any, reactor: Any) -> None:
    headers = request.responseHeaders
    headers.setRawHeaders(b"cache-control", [CACHE_FOREVER])
    headers.setRawHeaders(b"expires", [datetimeToString(int(reactor.seconds()) + ONE_YEAR)])
    headers.removeHeader(b"pragma")


def _cors(request: Any) -> None:
    origin = request.getHeader(b"origin")
    if origin:
        request.setHeader(b"access-control-allow-origin", origin)
        request.setHeader(b"access-control-allow-credentials", b"true")
    else:
        request.setHeader(b"access-control-allow-origin", b"*")
        request.responseHeaders.removeHeader(b"access-control-allow-credentials")
    request.setHeader(b"vary", b"Origin")
    asked = request.getHeader(b"access-control-request-headers")
    if asked:
        request.setHeader(b"access-control-allow-headers", asked)
    else:
        request.responseHeaders.removeHeader(b"access-control-allow-headers")


def _respond(
    request: Any, code: int, body: bytes = b"", content_type: Optional[bytes] = None
) -> None:
    request.setResponseCode(code)
    if content_type is not None:
        request.setHeader(b"content-type", content_type)
    request.setHeader(b"content-length", str(len(body)).encode("ascii"))
    if body:
        request.write(body)
    _finish(request)


def _not_found(request: Any) -> None:
    _no_cache(request)
    _respond(request, 404, b"404 Error: Page not found\n", b"text/plain; charset=UTF-8")


def _not_allowed(request: Any, allow: bytes) -> None:
    request.responseHeaders.removeHeader(b"content-type")
    request.setHeader(b"allow", allow)
    _respond(request, 405)


def _server_error(request: Any, text: str) -> None:
    _no_cache(request)
    _respond(request, 500, text.encode("utf-8"), b"text/plain; charset=UTF-8")


# -- receivers: the HTTP responses that carry frames to the client ------------------


class _Receiver:
    """
    One receiving request.  A polling receiver carries one frame; a
    streaming one carries frames until the response limit.
    """

    streaming = True
    content_type = b"application/javascript; charset=UTF-8"

    def __init__(self, request: Any, limit: int) -> None:
        self.request = request
        self.limit = limit
        self.written = 0
        self.done = False
        self.session: Optional[Session] = None
        request.notifyFinish().addErrback(self._aborted)

    def prelude(self) -> str:
        return ""

    def wrap(self, frame: str) -> str:
        return frame + "\n"

    def start(self) -> None:
        request = self.request
        request.setResponseCode(200)
        request.setHeader(b"content-type", self.content_type)
        _no_cache(request)
        prelude = self.prelude()
        if prelude:
            request.write(prelude.encode("utf-8"))

    def send_frame(self, frame: str) -> bool:
        """
        Write one frame; ``False`` once the response is over.
        """
        if self.done:
            return False
        wrapped = self.wrap(frame).encode("utf-8")
        self.request.write(wrapped)
        self.written += len(wrapped)
        if not self.streaming or self.written >= self.limit:
            self.end()
            return False
        return True

    def end(self) -> None:
        if not self.done:
            self.done = True
            _finish(self.request)

    def _aborted(self, failure: Any) -> None:
        self.request._sockjs_gone = True
        if not self.done:
            self.done = True
            session = self.session
            if session is not None:
                session._receiver_aborted(self)


class _XhrPolling(_Receiver):
    streaming = False


class _XhrStreaming(_Receiver):
    def prelude(self) -> str:
        return "h" * 2048 + "\n"


class _EventSource(_Receiver):
    content_type = b"text/event-stream"

    def prelude(self) -> str:
        return "\r\n"

    def wrap(self, frame: str) -> str:
        escaped = (
            frame.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A").replace("\x00", "%00")
        )
        return "data: " + escaped + "\r\n\r\n"


class _HtmlFile(_Receiver):
    content_type = b"text/html; charset=UTF-8"

    def __init__(self, request: Any, limit: int, callback: str) -> None:
        super().__init__(request, limit)
        self.callback = callback

    def prelude(self) -> str:
        head = _HTMLFILE_HEAD.format(callback=self.callback)
        return head + " " * max(0, 1024 - len(head) + 14) + "\r\n\r\n"

    def wrap(self, frame: str) -> str:
        return "<script>\np(" + _json(frame) + ");\n</script>\r\n"


class _JsonpPolling(_Receiver):
    streaming = False

    def __init__(self, request: Any, limit: int, callback: str) -> None:
        super().__init__(request, limit)
        self.callback = callback

    def start(self) -> None:
        super().start()
        self.request.setHeader(b"x-content-type-options", b"nosniff")

    def wrap(self, frame: str) -> str:
        return "/**/" + self.callback + "(" + _json(frame) + ");\r\n"


# -- HTTP sessions --------------------------------------------------------------

_NEW, _OPEN, _CLOSING, _CLOSED = range(4)


@implementer(IConnection)
class Session:
    """
    One SockJS session over HTTP, and the spark's connection.

    Its spark sees it as ``spark.socket``: ``spark.socket.close(code=3000,
    reason="Go away!")`` ends the session with an application close code
    (Primus itself closes with 1000).
    """

    def __init__(self, server: SockJSServer, session_id: str, request: Any) -> None:
        self.server = server
        self.id = session_id
        self.state = _NEW
        self.receiver: Optional[_Receiver] = None
        self.spark: Any = None
        self.close_frame: Optional[str] = None
        self._first_request = request
        self._outbox: list[str] = []
        self._buffered = 0
        self._writing_paused = False
        self._reading_paused = False
        self._held: list[tuple[list[str], Callable[[], None]]] = []
        self._heartbeat: Optional[IDelayedCall] = None
        self._disconnect: Optional[IDelayedCall] = None

    # -- receivers ----------------------------------------------------------

    def attach(self, receiver: _Receiver) -> None:
        """
        A receiving request arrived for this session.
        """
        receiver.start()
        if self.close_frame is not None and not self._outbox:
            receiver.send_frame(self.close_frame)
            receiver.end()
            self._start_disconnect()
            return
        if self.receiver is not None:
            receiver.send_frame(ANOTHER_CONNECTION)
            receiver.end()
            return
        self._cancel_disconnect()
        self.receiver = receiver
        receiver.session = self
        if self.state == _NEW:
            self.state = _OPEN
            self._deliver("o")
            self._open_spark()
        self._flush()
        if self.receiver is receiver and self._heartbeat is None:
            self._schedule_heartbeat()

    def _open_spark(self) -> None:
        request = self._first_request
        self._first_request = None
        self.spark = self.server.primus.connect_spark(
            self,
            headers=headers_of(request),
            query=request.query,
            peer=peer_of(request),
            request=request,
            socket=self,
        )

    def _deliver(self, frame: str) -> None:
        receiver = self.receiver
        if receiver is None:
            return
        if not receiver.send_frame(frame):
            self._detach(receiver)
        else:
            self._schedule_heartbeat()

    def _detach(self, receiver: _Receiver) -> None:
        if self.receiver is receiver:
            self.receiver = None
            receiver.session = None
            self._cancel_heartbeat()
            if self.state != _CLOSED:
                self._start_disconnect()

    def _receiver_aborted(self, receiver: _Receiver) -> None:
        # The client went away mid-response: the session is in an unknown
        # state (frames may be lost), so it ends now, as in the reference.
        if self.receiver is receiver:
            self.receiver = None
            self._terminate()

    def _flush(self) -> None:
        while self.receiver is not None:
            if self._outbox:
                messages, self._outbox = self._outbox, []
                self._buffered = 0
                self._deliver(message_frame(messages))
                self._maybe_resume_writing()
                continue
            if self.close_frame is not None:
                receiver = self.receiver
                self._detach(receiver)
                receiver.send_frame(self.close_frame)
                receiver.end()
            break

    # -- timers -----------------------------------------------------------------

    def _schedule_heartbeat(self) -> None:
        self._cancel_heartbeat()
        if self.receiver is not None:
            self._heartbeat = self.server.reactor.callLater(
                self.server.heartbeat_delay, self._beat
            )

    def _cancel_heartbeat(self) -> None:
        call, self._heartbeat = self._heartbeat, None
        if call is not None and call.active():
            call.cancel()

    def _beat(self) -> None:
        self._heartbeat = None
        self._deliver("h")

    def _start_disconnect(self) -> None:
        self._cancel_disconnect()
        if self.state != _CLOSED:
            self._disconnect = self.server.reactor.callLater(
                self.server.disconnect_delay, self._expire
            )

    def _cancel_disconnect(self) -> None:
        call, self._disconnect = self._disconnect, None
        if call is not None and call.active():
            call.cancel()

    def _expire(self) -> None:
        self._disconnect = None
        if self.receiver is None:
            self._terminate()

    def _terminate(self) -> None:
        """
        The session is over: forget it and tell the spark.
        """
        if self.state == _CLOSED:
            return
        self.state = _CLOSED
        self._cancel_heartbeat()
        self._cancel_disconnect()
        self.server._forget(self)
        receiver, self.receiver = self.receiver, None
        if receiver is not None:
            receiver.session = None
            receiver.end()
        held, self._held = self._held, []
        for _, answer in held:
            answer()
        self._outbox = []
        self._buffered = 0
        spark, self.spark = self.spark, None
        if spark is not None:
            spark.connectionLost(None)

    # -- incoming ---------------------------------------------------------------

    def receive(self, messages: list[str], answer: Callable[[], None]) -> None:
        """
        Messages posted by the client; ``answer`` completes the send request
        (delayed while the spark has paused reading).
        """
        if self._reading_paused:
            self._held.append((messages, answer))
            return
        self._hand_over(messages)
        answer()

    def _hand_over(self, messages: list[str]) -> None:
        for message in messages:
            spark = self.spark
            if spark is None or self.state != _OPEN:
                return
            spark.messageReceived(message)

    # -- IConnection --------------------------------------------------------------

    def send(self, message: str | bytes) -> None:
        if self.state != _OPEN or self.close_frame is not None:
            return
        text = _text(message)
        self._outbox.append(text)
        self._buffered += len(text)
        self._flush()
        if self._buffered > HIGH_WATER and not self._writing_paused:
            self._writing_paused = True
            if self.spark is not None:
                self.spark.pauseWriting()

    def sendPrepared(self, prepared: Any) -> None:
        self.send(prepared)

    def close(
        self, reconnect: bool = False, *, code: int = 1000, reason: str = "Normal closure"
    ) -> None:
        """
        Close the session with ``c[code,"reason"]`` (after the messages
        already written); later receiving requests get the same frame until
        the session expires.
        """
        if self.state == _CLOSED or self.close_frame is not None:
            return
        self.close_frame = close_frame(code, reason)
        if self.state == _NEW:
            self.state = _CLOSING
        self._flush()
        if self.receiver is None and self._disconnect is None:
            self._start_disconnect()
        spark, self.spark = self.spark, None
        if spark is not None:
            spark.connectionLost(None)

    def pauseReading(self) -> None:
        self._reading_paused = True

    def resumeReading(self) -> None:
        self._reading_paused = False
        while self._held and not self._reading_paused:
            messages, answer = self._held.pop(0)
            self._hand_over(messages)
            answer()

    def bufferedAmount(self) -> int:
        return self._buffered

    def _maybe_resume_writing(self) -> None:
        if self._writing_paused and self._buffered <= LOW_WATER:
            self._writing_paused = False
            if self.spark is not None:
                self.spark.resumeWriting()


# -- WebSocket sessions --------------------------------------------------------------


@implementer(IConnection, IPushProducer)
class _WebSocketBase(TransportFlow, WebSocketServerProtocol):  # type: ignore[misc]
    """
    What the framed and the raw WebSocket sessions share: the spark, flow
    control through the TCP transport, inbound pause.
    """

    spark: Any = None
    http_request: Any = None
    server: Any = None

    def onOpen(self) -> None:
        transport: Any = self.transport
        transport.registerProducer(self, True)
        self.opened()
        request = self.http_request
        self.spark = self.server.primus.connect_spark(
            self,
            headers=headers_of(request),
            query=request.query,
            peer=peer_of(request),
            request=request,
            socket=self,
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
        except (ValueError, UnicodeDecodeError):
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


def _options(primus: Any) -> dict[str, Any]:
    given = dict(primus.options.get("transport") or {})
    unknown = set(given) - set(DEFAULT_OPTIONS)
    if unknown:
        raise PrimusError(
            f"Unknown sockjs transport option(s): {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(DEFAULT_OPTIONS))}"
        )
    options = dict(DEFAULT_OPTIONS)
    options.update(given)
    return options


class SockJSServer:
    """
    The server side of the ``sockjs`` transformer for one Primus: routes
    every path under the pathname as a SockJS service.

    SockJS answers cross-origin requests with its own rules (any origin,
    with credentials), so Primus's ``cors`` middleware layer is disabled
    for this server.
    """

    def __init__(self, primus: Primus) -> None:
        self.primus = primus
        self.reactor: Any = primus._reactor
        options = _options(primus)
        self.options = options
        self.websocket = bool(options["websocket"])
        self.cookie_needed = bool(options["cookie_needed"])
        self.heartbeat_delay = float(options["heartbeat_delay"])
        self.disconnect_delay = float(options["disconnect_delay"])
        self.response_limit = int(options["response_limit"])
        self.prefix = primus.pathname.rstrip("/").encode("utf-8")
        self.sessions: dict[str, Session] = {}
        self._iframe = _IFRAME.format(url=options["sockjs_url"]).encode("utf-8")
        self._etag = b'"' + hashlib.md5(self._iframe).hexdigest().encode("ascii") + b'"'
        primus.disable("cors")

        def factory(protocol: type) -> Any:
            made: Any = WebSocketServerFactory()
            made.protocol = protocol
            made.setProtocolOptions(
                maxMessagePayloadSize=primus.max_length,
                maxFramePayloadSize=primus.max_length,
                webStatus=False,
                openHandshakeTimeout=10,
                closeHandshakeTimeout=1,
                failByDrop=False,
            )
            return made

        self._framed = factory(SockJSWebSocketProtocol)
        self._raw = factory(RawWebSocketProtocol)

    # -- routing ----------------------------------------------------------------

    def _relative(self, request: Any) -> bytes:
        path: bytes = request.path
        return path[len(self.prefix) :]

    def upgrade(self, request: Any) -> None:
        """
        A request with ``Upgrade: websocket`` that passed the middleware.
        """
        path = self._relative(request)
        match = _SESSION_PATH.match(path)
        if path == b"/websocket" or (match is not None and match.group(3) == b"websocket"):
            self._websocket(request, raw=path == b"/websocket")
        else:
            self.request(request)

    def request(self, request: Any) -> None:
        """
        A plain HTTP request that passed the middleware.
        """
        path = self._relative(request)
        method = request.method
        if path in (b"", b"/"):
            if method not in (b"GET", b"HEAD"):
                return _not_allowed(request, b"GET")
            return _respond(request, 200, b"Welcome to SockJS!\n", b"text/plain; charset=UTF-8")
        if path == b"/info":
            return self._info(request)
        if _IFRAME_PATH.match(path):
            return self._iframe_page(request)
        if path == b"/websocket":
            return self._websocket(request, raw=True)
        match = _SESSION_PATH.match(path)
        if match is None:
            return _not_found(request)
        session_id = match.group(2).decode("latin-1")
        transport = match.group(3)
        if transport == b"websocket":
            return self._websocket(request, raw=False)
        handler = self._TRANSPORTS.get(transport)
        if handler is None:
            return _not_found(request)
        allowed = handler[0]
        if method == b"OPTIONS" and b"OPTIONS" in allowed:
            return self._preflight(request, b"OPTIONS, POST")
        if method not in allowed:
            return _not_allowed(request, b", ".join(allowed))
        handler[1](self, request, session_id)

    def _cookie(self, request: Any) -> None:
        if self.cookie_needed:
            value = request.getCookie(b"JSESSIONID") or b"dummy"
            request.setHeader(b"set-cookie", b"JSESSIONID=" + value + b"; path=/")

    def _preflight(self, request: Any, methods: bytes) -> None:
        _cache_forever(request, self.reactor)
        _cors(request)
        self._cookie(request)
        request.setHeader(b"access-control-allow-methods", methods)
        request.setHeader(b"access-control-max-age", str(ONE_YEAR).encode("ascii"))
        request.responseHeaders.removeHeader(b"content-type")
        _respond(request, 204)

    def _info(self, request: Any) -> None:
        if request.method == b"OPTIONS":
            return self._preflight(request, b"OPTIONS, GET")
        if request.method != b"GET":
            return _not_allowed(request, b"OPTIONS, GET")
        _no_cache(request)
        _cors(request)
        body = _json(
            {
                "websocket": self.websocket,
                "origins": ["*:*"],
                "cookie_needed": self.cookie_needed,
                "entropy": secrets.randbits(32),
            }
        ).encode("ascii")
        _respond(request, 200, body, b"application/json; charset=UTF-8")

    def _iframe_page(self, request: Any) -> None:
        if request.method != b"GET":
            return _not_allowed(request, b"GET")
        if request.getHeader(b"if-none-match") == self._etag:
            request.responseHeaders.removeHeader(b"content-type")
            request.responseHeaders.removeHeader(b"pragma")
            request.responseHeaders.removeHeader(b"cache-control")
            return _respond(request, 304)
        _cache_forever(request, self.reactor)
        request.setHeader(b"etag", self._etag)
        _respond(request, 200, self._iframe, b"text/html; charset=UTF-8")

    def _websocket(self, request: Any, raw: bool) -> None:
        if not self.websocket:
            return _not_found(request)
        if request.method != b"GET":
            return _not_allowed(request, b"GET")
        upgrade = (request.getHeader(b"upgrade") or b"").lower()
        connection = (request.getHeader(b"connection") or b"").lower()
        if upgrade != b"websocket" or b"upgrade" not in connection:
            _no_cache(request)
            return _respond(
                request, 400, b"Not a valid websocket request", b"text/plain; charset=UTF-8"
            )
        factory = self._raw if raw else self._framed
        protocol: Any = factory.buildProtocol(request.getClientAddress())
        protocol.http_request = request
        protocol.server = self
        if not take_over(request, protocol):
            protocol.http_request = None

    # -- session transports ----------------------------------------------------------

    def _receiving(self, request: Any, session_id: str, receiver: _Receiver) -> None:
        self._cookie(request)
        session = self.sessions.get(session_id)
        if session is None:
            session = Session(self, session_id, request)
            self.sessions[session_id] = session
        session.attach(receiver)

    def _callback(self, request: Any) -> Optional[str]:
        query = request.query
        value = query.get("c", query.get("callback"))
        if isinstance(value, list):
            value = value[0] if value else None
        if not value:
            _server_error(request, '"callback" parameter required')
            return None
        if not _CALLBACK.match(value):
            _server_error(request, 'invalid "callback" parameter')
            return None
        return str(value)

    def _xhr(self, request: Any, session_id: str) -> None:
        _cors(request)
        self._receiving(request, session_id, _XhrPolling(request, self.response_limit))

    def _xhr_streaming(self, request: Any, session_id: str) -> None:
        _cors(request)
        self._receiving(request, session_id, _XhrStreaming(request, self.response_limit))

    def _eventsource(self, request: Any, session_id: str) -> None:
        _cors(request)
        self._receiving(request, session_id, _EventSource(request, self.response_limit))

    def _htmlfile(self, request: Any, session_id: str) -> None:
        callback = self._callback(request)
        if callback is not None:
            self._receiving(request, session_id, _HtmlFile(request, self.response_limit, callback))

    def _jsonp(self, request: Any, session_id: str) -> None:
        callback = self._callback(request)
        if callback is not None:
            self._receiving(
                request, session_id, _JsonpPolling(request, self.response_limit, callback)
            )

    def _sending(self, request: Any, session_id: str, body: bytes, jsonp: bool) -> None:
        self._cookie(request)
        session = self.sessions.get(session_id)
        if session is None:
            return _not_found(request)
        try:
            messages = decode_payload(body)
        except BrokenPayload as error:
            return _server_error(request, str(error))
        _no_cache(request)

        def answer() -> None:
            if jsonp:
                _respond(request, 200, b"ok", b"text/plain; charset=UTF-8")
            else:
                request.setHeader(b"content-type", b"text/plain; charset=UTF-8")
                _respond(request, 204)

        session.receive(messages, answer)

    def _body(self, request: Any) -> bytes:
        content = request.content
        if content is None:
            return b""
        content.seek(0)
        return bytes(content.read())

    def _xhr_send(self, request: Any, session_id: str) -> None:
        _cors(request)
        self._sending(request, session_id, self._body(request), jsonp=False)

    def _jsonp_send(self, request: Any, session_id: str) -> None:
        body = self._body(request)
        kind = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
        if kind == b"application/x-www-form-urlencoded":
            fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
            values = fields.get("d") or [""]
            body = values[0].encode("latin-1")
        self._sending(request, session_id, body, jsonp=True)

    _TRANSPORTS: dict[bytes, tuple[tuple[bytes, ...], Callable[..., None]]] = {
        b"xhr": ((b"POST", b"OPTIONS"), _xhr),
        b"xhr_send": ((b"POST", b"OPTIONS"), _xhr_send),
        b"xhr_streaming": ((b"POST", b"OPTIONS"), _xhr_streaming),
        b"eventsource": ((b"GET",), _eventsource),
        b"htmlfile": ((b"GET",), _htmlfile),
        b"jsonp": ((b"GET",), _jsonp),
        b"jsonp_send": ((b"POST",), _jsonp_send),
    }

    # -- Primus's side ----------------------------------------------------------------

    def _forget(self, session: Session) -> None:
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]

    def prepare(self, message: str | bytes) -> Any:
        """
        A broadcast is framed per session (sessions batch messages).
        """
        return message

    def close(self) -> None:
        """
        End every HTTP session and cancel its timers.
        """
        for session in list(self.sessions.values()):
            session._terminate()
        self.sessions.clear()
