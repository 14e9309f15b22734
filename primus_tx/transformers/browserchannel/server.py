# -*- test-case-name: tests.browserchannel.test_browserchannel_server -*-
"""
The ``browserchannel`` transformer, server side: BrowserChannel (version
8, as the npm ``browserchannel`` 2.x server speaks it) under twisted.web.

Routes under the pathname (docs/protocol/browserchannel.rst, "Routes"):

* ``/test``: the test channel Closure's client runs before binding (the
  host prefix answer, then a two-phase stream that detects buffering
  proxies);
* ``/bind``: ``POST`` opens a session (no ``SID``) or carries maps on its
  forward channel; ``GET`` with ``TYPE=xmlhttp`` is its back channel,
  ``TYPE=terminate`` its goodbye.

A :class:`~primus_tx.transformers.browserchannel._session.Session` is the
spark's connection; its id is the spark's id.
"""

from __future__ import annotations

import secrets
from typing import Any, Optional

from twisted.internet.interfaces import IDelayedCall
from zope.interface import implementer

from primus_tx._errors import PrimusError
from primus_tx._http import PrimusRequest, answer, is_gone, watch_gone
from primus_tx._options import reject_unknown
from primus_tx.interfaces import ITransformerHost, ITransformerServer
from primus_tx.transformers._flow import no_delay
from primus_tx.transformers._shared import spark_options
from primus_tx.transformers.browserchannel._session import OutOfOrder, Session
from primus_tx.transformers.browserchannel._wire import BadData, parse_forward

__all__ = ["DEFAULT_OPTIONS", "STANDARD_HEADERS", "BrowserChannelServer", "MessageTooLarge"]

#: The ``transport`` options and their defaults (seconds).
DEFAULT_OPTIONS: dict[str, Any] = {
    "keep_alive_interval": 20.0,
    "session_timeout_interval": 30.0,
    "test_delay": 2.0,
    "headers": None,
}

#: The headers of every answer, as the reference server sends them;
#: the ``headers`` option adds to them or replaces them by name.
STANDARD_HEADERS: dict[str, str] = {
    "Content-Type": "text/plain",
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "Fri, 01 Jan 1990 00:00:00 GMT",
    "X-Content-Type-Options": "nosniff",
}

#: Test channels held open for their second phase at once; past this, the
#: second phase is answered at once (the client then believes a proxy
#: buffers, and long-polls: slower, never wrong).
MAX_TEST_CHANNELS = 1000


class MessageTooLarge(PrimusError):
    """
    A forward-channel map carried a message longer than ``max_length``
    bytes; the spark reports it and ends.
    """


def _text(value: Any) -> Optional[str]:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _number(value: Any) -> Optional[int]:
    text = _text(value)
    if text is None or not text.isdigit() or len(text) > 15:
        return None
    return int(text)


def _no_delay(request: PrimusRequest) -> None:
    """
    Switch Nagle's algorithm off on the request's connection: a back
    channel writes small chunks one after another, and the second would
    otherwise wait for the client's delayed acknowledgement of the first
    (tens of milliseconds a message).  Autobahn does the same for
    WebSockets.
    """
    no_delay(getattr(getattr(request, "channel", None), "transport", None))


def _seconds(options: dict[str, Any], name: str) -> float:
    value = options[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise PrimusError(f"browserchannel {name} must be a positive number of seconds, not {value!r}")
    return float(value)


@implementer(ITransformerServer)
class BrowserChannelServer:
    """
    The server side of the ``browserchannel`` transformer for one server.

    Host prefixes (``hostPrefixes``) are off: the test channel always
    answers ``[null,null]``.  Cross-origin requests are left to Primus's
    ``cors`` middleware.
    """

    def __init__(self, host: ITransformerHost) -> None:
        self.host = host
        self.reactor: Any = host.reactor
        given = host.transport_options
        reject_unknown(given, DEFAULT_OPTIONS, "browserchannel transport")
        options = dict(DEFAULT_OPTIONS)
        options.update(given)
        self.keep_alive = _seconds(options, "keep_alive_interval")
        self.session_timeout = _seconds(options, "session_timeout_interval")
        self.test_delay = _seconds(options, "test_delay")
        headers = dict(STANDARD_HEADERS)
        extra = options["headers"] or {}
        if not isinstance(extra, dict):
            raise PrimusError(f"browserchannel headers must be a dict, not {extra!r}")
        lowered = {name.lower() for name in extra}
        headers = {name: value for name, value in headers.items() if name.lower() not in lowered}
        headers.update(extra)
        self.headers = [
            (str(name).encode("latin-1"), str(value).encode("latin-1")) for name, value in headers.items()
        ]
        self.prefix = host.pathname.rstrip("/").encode("utf-8")
        #: The largest forward-channel body read: one ``max_length`` message
        #: however it is escaped (three characters a byte at worst), plus
        #: the map keys around it.  The site guard refuses larger bodies
        #: before they are read.
        self.max_body = 3 * host.max_length + 8192
        self.sessions: dict[str, Session] = {}
        self._tests: dict[PrimusRequest, IDelayedCall] = {}
        self._closed = False

    # -- routing ----------------------------------------------------------------

    def upgrade(self, request: PrimusRequest) -> None:
        """
        BrowserChannel is plain HTTP: an ``Upgrade`` header changes nothing.
        """
        self.request(request)

    def request(self, request: PrimusRequest) -> None:
        path: bytes = request.path[len(self.prefix) :]
        if not path.startswith(b"/"):
            # The pathname itself: what Node Primus answers when the
            # BrowserChannel middleware passes a request on.
            return answer(request, 404, b"Not Found", b"text/plain")
        if path == b"/test":
            return self._test(request)
        if path == b"/bind":
            return self._bind(request)
        self._head(request)
        answer(request, 404, b"Not found")

    def _head(self, request: PrimusRequest) -> None:
        for name, value in self.headers:
            request.setHeader(name, value)
        _no_delay(request)

    def _error(self, request: PrimusRequest, status: int, message: str) -> None:
        """
        The reference server's error answer: the message as the reason
        phrase and inside a small HTML body (Closure's client looks for
        ``Unknown SID`` in it).
        """
        if request.finished or is_gone(request):
            return
        self._head(request)
        body = f"<html><body><h1>{message}</h1></body></html>".encode()
        request.setResponseCode(status, message.encode("latin-1"))
        request.setHeader(b"content-length", str(len(body)).encode("ascii"))
        if request.method != b"HEAD":
            request.write(body)
        request.finish()

    # -- the test channel ---------------------------------------------------------

    def _test(self, request: PrimusRequest) -> None:
        query = request.query
        if _text(query.get("VER")) != "8":
            return self._error(request, 400, "Version 8 required")
        self._head(request)
        if _text(query.get("MODE")) == "init" and request.method == b"GET":
            request.setHeader(b"x-accept", b"application/json; application/x-www-form-urlencoded")
            return answer(request, 200, b"[null,null]")
        request.setResponseCode(200)
        if self._closed or len(self._tests) >= MAX_TEST_CHANNELS:
            # Both phases in one piece, as a buffering proxy delivers them.
            request.write(b"111112")
            request.finish()
            return
        request.write(b"11111")
        self._tests[request] = self.reactor.callLater(self.test_delay, self._test_done, request)
        watch_gone(request, self._test_gone)

    def _test_done(self, request: PrimusRequest) -> None:
        self._tests.pop(request, None)
        if not request.finished and not is_gone(request):
            request.write(b"2")
            request.finish()

    def _test_gone(self, request: PrimusRequest) -> None:
        call = self._tests.pop(request, None)
        if call is not None and call.active():
            call.cancel()

    # -- binding -----------------------------------------------------------------------

    def _bind(self, request: PrimusRequest) -> None:
        query = request.query
        if _text(query.get("VER")) != "8":
            return self._error(request, 400, "Version 8 required")
        session: Optional[Session] = None
        if "SID" in query:
            session = self.sessions.get(_text(query.get("SID")) or "")
            if session is None:
                return self._error(request, 400, "Unknown SID")
            aid = _number(query.get("AID"))
            if aid is not None:
                session.acknowledge(aid)
        method = request.method
        if method == b"POST":
            return self._forward(request, session)
        if method == b"GET":
            kind = _text(query.get("TYPE"))
            if kind == "terminate":
                rid = _number(query.get("RID"))
                if session is not None and rid is not None:
                    try:
                        session.terminate(rid)
                    except OutOfOrder:
                        return self._error(request, 400, "Bad RID")
                self._head(request)
                return answer(request, 200)
            if kind == "xmlhttp":
                if session is None:
                    return self._error(request, 400, "Unknown SID")
                if _text(query.get("RID")) != "rpc":
                    return self._error(request, 400, "Expected RPC")
                self._head(request)
                request.setResponseCode(200)
                session.set_back_channel(request, streaming=_text(query.get("CI")) == "0")
                return None
            # TYPE=html is the forever-frame back channel of old Internet
            # Explorers, which no supported client uses.
            return self._error(request, 400, "Unsupported back channel")
        self._head(request)
        answer(request, 405, b"Method not allowed")

    def _forward(self, request: PrimusRequest, session: Optional[Session]) -> None:
        rid = _number(request.query.get("RID"))
        if rid is None:
            return self._error(request, 400, "Bad RID")
        body = self._body(request)
        if body is None:
            return answer(request, 413, b"Payload Too Large", b"text/plain")
        try:
            data = parse_forward(body, request.getHeader(b"content-type"))
        except BadData:
            return self._error(request, 400, "Bad data")
        if data is not None:
            limit = self.host.max_length
            for message in data[1]:
                if message is not None and len(message) > limit // 4 and len(message.encode("utf-8")) > limit:
                    if session is not None and session.spark is not None:
                        session.spark.connectionFailed(
                            MessageTooLarge(f"a message of more than {limit} bytes")
                        )
                    return answer(request, 413, b"Payload Too Large", b"text/plain")
        if session is None:
            return self._open(request, rid, data)
        try:
            session.forward(rid, data)
        except OutOfOrder:
            return self._error(request, 400, "Bad data")

        def respond() -> None:
            if session.closed:
                return self._error(request, 403, "Forbidden")
            self._head(request)
            status = "[" + ",".join(str(n) for n in session.status()) + "]"
            answer(request, 200, f"{len(status)}\n{status}".encode("ascii"))

        session.answer_when_reading(respond)

    def _body(self, request: PrimusRequest) -> Optional[bytes]:
        content = request.content
        if content is None:
            return b""
        content.seek(0)
        # Mounted without a Site, nothing refused the body before it was
        # read: refuse it now.
        body = content.read(self.max_body + 1)
        if len(body) > self.max_body:
            return None
        return bytes(body)

    def _open(self, request: PrimusRequest, rid: int, data: Any) -> None:
        query = request.query
        old = self.sessions.get(_text(query.get("OSID")) or "")
        if old is not None:
            aid = _number(query.get("OAID"))
            if aid is not None:
                old.acknowledge(aid)
            old.end("Reconnected")
        session_id = secrets.token_urlsafe(12)
        while session_id in self.sessions:  # pragma: no cover - 96 random bits
            session_id = secrets.token_urlsafe(12)
        session = Session(self, session_id, request, rid, self.max_body)
        self.sessions[session_id] = session
        spark = self.host.connect_spark(
            session, **spark_options(request, session, id=session_id, copy_headers=True)
        )
        if session.open:
            # (A connection listener may have ended the spark already.)
            session.spark = spark
        try:
            session.forward(rid, data)
        except OutOfOrder:  # pragma: no cover - the first request is never ahead
            pass
        self._head(request)
        request.setResponseCode(200)
        session.set_back_channel(request, streaming=False)

    # -- the site guard ------------------------------------------------------------------

    def refuse_body(self, method: bytes, uri: bytes) -> Optional[tuple[int, bytes, bytes]]:
        """
        Called by the site guard before a request body is read: a POST for
        a session that does not exist is answered as it would be after the
        body (400, ``Unknown SID``) without reading the body.
        """
        path, _, query = uri.partition(b"?")
        if method != b"POST" or path != self.prefix + b"/bind" or not query:
            return None
        from primus_tx._query import parse_query

        fields = parse_query(query.decode("latin-1"))
        if "SID" not in fields or (_text(fields.get("SID")) or "") in self.sessions:
            return None
        return 400, b"text/plain", b"<html><body><h1>Unknown SID</h1></body></html>"

    # -- Primus's side ---------------------------------------------------------------------

    def _forget(self, session: Session) -> None:
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]

    def prepare(self, message: str | bytes) -> Any:
        """
        A broadcast is numbered per session: nothing to share.
        """
        return message

    def close(self) -> None:
        """
        End every session and test channel, and cancel their timers.
        """
        self._closed = True
        for session in list(self.sessions.values()):
            session.end("Server closed")
        self.sessions.clear()
        tests, self._tests = self._tests, {}
        for request, call in tests.items():
            if call.active():
                call.cancel()
            self._test_done(request)
