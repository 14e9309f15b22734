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
import secrets
from typing import Any, Callable, Optional
from urllib.parse import parse_qs

from zope.interface import implementer

from primus_tx._http import PrimusRequest, answer
from primus_tx._options import reject_unknown
from primus_tx.interfaces import ITransformerHost, ITransformerServer
from primus_tx.transformers._autobahn import websocket_factory
from primus_tx.transformers._takeover import take_over
from primus_tx.transformers.sockjs._constants import (
    _CALLBACK,
    _IFRAME,
    _IFRAME_PATH,
    _SESSION_PATH,
    DEFAULT_OPTIONS,
    HIGH_WATER,
    LOW_WATER,
    ONE_YEAR,
)
from primus_tx.transformers.sockjs._frames import (
    BrokenPayload,
    _json,
    close_frame,
    decode_payload,
    message_frame,
)
from primus_tx.transformers.sockjs._receivers import (
    _EventSource,
    _HtmlFile,
    _JsonpPolling,
    _Receiver,
    _XhrPolling,
    _XhrStreaming,
)
from primus_tx.transformers.sockjs._responses import (
    _cache_forever,
    _cors,
    _no_cache,
    _not_allowed,
    _not_found,
    _server_error,
)
from primus_tx.transformers.sockjs._session import Session
from primus_tx.transformers.sockjs._websocket import RawWebSocketProtocol, SockJSWebSocketProtocol

__all__ = [
    "DEFAULT_OPTIONS",
    "HIGH_WATER",
    "LOW_WATER",
    "BrokenPayload",
    "Session",
    "SockJSServer",
    "close_frame",
    "decode_payload",
    "message_frame",
]


def _options(host: ITransformerHost) -> dict[str, Any]:
    given = host.transport_options
    reject_unknown(given, DEFAULT_OPTIONS, "sockjs transport")
    options = dict(DEFAULT_OPTIONS)
    options.update(given)
    return options


@implementer(ITransformerServer)
class SockJSServer:
    """
    The server side of the ``sockjs`` transformer for one Primus: routes
    every path under the pathname as a SockJS service.

    SockJS answers cross-origin requests with its own rules (any origin,
    with credentials), so Primus's ``cors`` middleware layer is disabled
    for this server.
    """

    def __init__(self, host: ITransformerHost) -> None:
        self.host = host
        self.reactor: Any = host.reactor
        options = _options(host)
        self.options = options
        self.websocket = bool(options["websocket"])
        self.cookie_needed = bool(options["cookie_needed"])
        self.heartbeat_delay = float(options["heartbeat_delay"])
        self.disconnect_delay = float(options["disconnect_delay"])
        self.response_limit = int(options["response_limit"])
        self.prefix = host.pathname.rstrip("/").encode("utf-8")
        self.sessions: dict[str, Session] = {}
        self._cors_layer: Optional[Callable[[Any], Any]] = None
        self._iframe = _IFRAME.format(url=options["sockjs_url"]).encode("utf-8")
        self._etag = b'"' + hashlib.md5(self._iframe).hexdigest().encode("ascii") + b'"'
        host.disable("cors")
        self._framed = websocket_factory(SockJSWebSocketProtocol, host.max_length)
        self._raw = websocket_factory(RawWebSocketProtocol, host.max_length)

    # -- the site guard -----------------------------------------------------------

    def refuse_body(self, method: bytes, uri: bytes) -> Optional[tuple[int, bytes, bytes]]:
        """
        Called by the site guard before a request body is read: a send
        (``xhr_send``, ``jsonp_send``) for a session that does not exist is
        answered 404 without reading the body.
        """
        path = uri.split(b"?", 1)[0]
        if not path.startswith(self.prefix):
            return None
        match = _SESSION_PATH.match(path[len(self.prefix) :])
        if match is None or match.group(3) not in (b"xhr_send", b"jsonp_send"):
            return None
        if method != b"POST" or match.group(2).decode("latin-1") in self.sessions:
            return None
        return 404, b"text/plain; charset=UTF-8", b"404 Error: Page not found\n"

    # -- routing ----------------------------------------------------------------

    def _relative(self, request: PrimusRequest) -> bytes:
        path: bytes = request.path
        return path[len(self.prefix) :]

    def upgrade(self, request: PrimusRequest) -> None:
        """
        A request with ``Upgrade: websocket`` that passed the middleware.
        """
        path = self._relative(request)
        match = _SESSION_PATH.match(path)
        if path == b"/websocket" or (match is not None and match.group(3) == b"websocket"):
            self._websocket(request, raw=path == b"/websocket")
        else:
            self.request(request)

    def request(self, request: PrimusRequest) -> None:
        """
        A plain HTTP request that passed the middleware.
        """
        path = self._relative(request)
        method = request.method
        if path in (b"", b"/"):
            if method == b"OPTIONS" and self._primus_preflight(request):
                return None
            if method not in (b"GET", b"HEAD"):
                return _not_allowed(request, b"GET")
            return answer(request, 200, b"Welcome to SockJS!\n", b"text/plain; charset=UTF-8")
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

    def _primus_preflight(self, request: PrimusRequest) -> bool:
        """
        A pre-flight for the pathname itself is answered as Node Primus
        answers it: by Primus's ``cors`` rules (200, Primus's CORS headers),
        which this transformer otherwise leaves to SockJS.

        :return: whether the request was answered.
        """
        layer = self._cors_layer
        if layer is None:
            # The server's own "cors" layer (disabled for the SockJS paths),
            # found among its public layers; a host without one answers
            # nothing here.
            for candidate in getattr(self.host, "layers", ()):
                if getattr(candidate, "name", None) == "cors":
                    layer = self._cors_layer = candidate.fn
                    break
            else:
                return False
        return bool(layer(request))

    def _cookie(self, request: PrimusRequest) -> None:
        if self.cookie_needed:
            value = request.getCookie(b"JSESSIONID") or b"dummy"
            request.setHeader(b"set-cookie", b"JSESSIONID=" + value + b"; path=/")

    def _preflight(self, request: PrimusRequest, methods: bytes) -> None:
        _cache_forever(request, self.reactor)
        _cors(request)
        self._cookie(request)
        request.setHeader(b"access-control-allow-methods", methods)
        request.setHeader(b"access-control-max-age", str(ONE_YEAR).encode("ascii"))
        request.responseHeaders.removeHeader(b"content-type")
        answer(request, 204)

    def _info(self, request: PrimusRequest) -> None:
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
        answer(request, 200, body, b"application/json; charset=UTF-8")

    def _iframe_page(self, request: PrimusRequest) -> None:
        if request.method != b"GET":
            return _not_allowed(request, b"GET")
        if request.getHeader(b"if-none-match") == self._etag:
            request.responseHeaders.removeHeader(b"content-type")
            request.responseHeaders.removeHeader(b"pragma")
            request.responseHeaders.removeHeader(b"cache-control")
            return answer(request, 304)
        _cache_forever(request, self.reactor)
        request.setHeader(b"etag", self._etag)
        answer(request, 200, self._iframe, b"text/html; charset=UTF-8")

    def _websocket(self, request: PrimusRequest, raw: bool) -> None:
        if not self.websocket:
            return _not_found(request)
        if request.method != b"GET":
            return _not_allowed(request, b"GET")
        upgrade = (request.getHeader(b"upgrade") or b"").lower()
        connection = (request.getHeader(b"connection") or b"").lower()
        if upgrade != b"websocket" or b"upgrade" not in connection:
            _no_cache(request)
            return answer(
                request, 400, b"Not a valid websocket request", b"text/plain; charset=UTF-8"
            )
        factory = self._raw if raw else self._framed
        protocol: Any = factory.buildProtocol(request.getClientAddress())
        protocol.http_request = request
        protocol.server = self
        if not take_over(request, protocol):
            protocol.http_request = None

    # -- session transports ----------------------------------------------------------

    def _receiving(self, request: PrimusRequest, session_id: str, receiver: _Receiver) -> None:
        self._cookie(request)
        session = self.sessions.get(session_id)
        if session is None:
            session = Session(self, session_id, request)
            self.sessions[session_id] = session
        session.attach(receiver)

    def _callback(self, request: PrimusRequest) -> Optional[str]:
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

    def _xhr(self, request: PrimusRequest, session_id: str) -> None:
        _cors(request)
        self._receiving(request, session_id, _XhrPolling(request, self.response_limit))

    def _xhr_streaming(self, request: PrimusRequest, session_id: str) -> None:
        _cors(request)
        self._receiving(request, session_id, _XhrStreaming(request, self.response_limit))

    def _eventsource(self, request: PrimusRequest, session_id: str) -> None:
        _cors(request)
        self._receiving(request, session_id, _EventSource(request, self.response_limit))

    def _htmlfile(self, request: PrimusRequest, session_id: str) -> None:
        callback = self._callback(request)
        if callback is not None:
            self._receiving(request, session_id, _HtmlFile(request, self.response_limit, callback))

    def _jsonp(self, request: PrimusRequest, session_id: str) -> None:
        callback = self._callback(request)
        if callback is not None:
            self._receiving(
                request, session_id, _JsonpPolling(request, self.response_limit, callback)
            )

    def _sending(self, request: PrimusRequest, session_id: str, body: bytes, jsonp: bool) -> None:
        self._cookie(request)
        session = self.sessions.get(session_id)
        if session is None:
            return _not_found(request)
        limit = self.host.max_length
        if len(body) > limit:
            # Mounted without a Site the guard could not refuse it unread.
            return answer(request, 413, b"Payload Too Large", b"text/plain; charset=UTF-8")
        try:
            messages = decode_payload(body)
        except BrokenPayload as error:
            return _server_error(request, str(error))
        if any(len(message) > limit for message in messages):
            return answer(request, 413, b"Payload Too Large", b"text/plain; charset=UTF-8")
        _no_cache(request)

        def sent() -> None:
            if jsonp:
                answer(request, 200, b"ok", b"text/plain; charset=UTF-8")
            else:
                request.setHeader(b"content-type", b"text/plain; charset=UTF-8")
                answer(request, 204)

        session.receive(messages, sent)

    def _body(self, request: PrimusRequest) -> bytes:
        content = request.content
        if content is None:
            return b""
        content.seek(0)
        return bytes(content.read())

    def _xhr_send(self, request: PrimusRequest, session_id: str) -> None:
        _cors(request)
        self._sending(request, session_id, self._body(request), jsonp=False)

    def _jsonp_send(self, request: PrimusRequest, session_id: str) -> None:
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
