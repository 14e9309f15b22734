"""
What the Python client transports that speak plain HTTP (SockJS's
polling and streaming transports, BrowserChannel) share: one connection
pool per connection attempt, the socket URL split into a base and a query,
Basic authorization from its userinfo, requests that are cancelled
together when the attempt ends (dropping their connections), and the wait
before a goodbye for data still to be sent (:class:`Drain`, which the
Engine.IO client uses too).
"""

from __future__ import annotations

import base64
from typing import Any, Callable, Optional
from urllib.parse import unquote, urlsplit, urlunsplit

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

from primus_tx._errors import HandshakeError

__all__ = ["DRAIN_LIMIT", "Drain", "HTTPClientBase"]

#: Seconds a closing client transport waits for its outgoing data to be
#: delivered before it says goodbye anyway.
DRAIN_LIMIT = 5.0


class Drain:
    """
    Mixed into a client transport whose sends can still be queued or in
    flight when it is closed: over HTTP they are POSTs, one at a time.

    Primus's ``end(data)`` writes and closes at once, and promises that the
    server hears the data before the connection ends.  Cancelling the POST
    (or dropping the queue) loses it; sending the goodbye beside it races
    it.  So :meth:`_drain_then` holds the goodbye until the transport calls
    :meth:`_finish_draining` (its queue is empty and nothing is in flight,
    or sending failed), for :data:`DRAIN_LIMIT` seconds at most, so that a
    server which stopped answering cannot hold the close forever.
    ``self._drained`` is set while it waits.
    """

    _reactor: Any
    _drained: Optional[Deferred[None]] = None

    def _drain_then(self, goodbye: Callable[[], Deferred[None]]) -> Deferred[None]:
        """
        :return: a Deferred that fires once ``goodbye()``'s has, after the
            drain.
        """
        drained: Deferred[None] = Deferred()
        self._drained = drained
        give_up = self._reactor.callLater(DRAIN_LIMIT, self._finish_draining)

        def then(_: Any) -> Deferred[None]:
            if give_up.active():
                give_up.cancel()
            return goodbye()

        return drained.addCallback(then)

    def _finish_draining(self) -> None:
        """
        The outgoing queue is empty (or will never empty): say goodbye.  A
        no-op when not draining.
        """
        drained, self._drained = self._drained, None
        if drained is not None:
            drained.callback(None)


class _Body(Protocol):
    """
    Reads one response body: each piece to ``stream``, or all of it into
    ``finished``'s result.

    Unlike treq's readers, cancelling ``finished`` drops the connection.
    A cancelled SockJS receiver or BrowserChannel back channel must look
    aborted to the server, which then ends the session at once
    (docs/protocol/sockjs.rst, "Sessions"); otherwise the request would
    keep streaming into a transport that is gone, and the server would
    keep the session until the connection died.
    """

    def __init__(self, stream: Optional[Callable[[bytes], None]]) -> None:
        self._stream = stream
        self._parts: list[bytes] = []
        self.finished: Deferred[bytes] = Deferred(lambda _: self._abort())

    def dataReceived(self, data: bytes) -> None:
        if self.finished.called:
            return
        if self._stream is None:
            self._parts.append(data)
            return
        try:
            self._stream(data)
        except Exception:
            self._abort()
            self.finished.errback(Failure())

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        from twisted.web.client import ResponseDone
        from twisted.web.http import PotentialDataLoss

        if self.finished.called:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            self.finished.callback(b"".join(self._parts))
        else:
            self.finished.errback(reason)

    def _abort(self) -> None:
        # The body's transport is the connection's IPushProducer proxy.
        transport: Any = self.transport
        if transport is not None:
            transport.stopProducing()


def read_body(response: Any, stream: Optional[Callable[[bytes], None]] = None) -> Deferred[bytes]:
    """
    A response's body (or ``b""`` once ``stream`` has had every piece of
    it); cancelling the Deferred drops the connection (see :class:`_Body`).
    """
    body = _Body(stream)
    response.deliverBody(body)
    return body.finished


class HTTPClientBase(Drain):
    """
    Mixed into an HTTP client transport: ``self._http`` (treq), its pool,
    and ``self._pending``, the requests still running.
    """

    _headers: dict[str, str]
    _base: str
    _query: str
    _scheme: str

    def __init__(self, reactor: Any, cookies: bool = False) -> None:
        from http.cookiejar import CookieJar

        from treq.client import HTTPClient
        from twisted.web.client import Agent, HTTPConnectionPool

        self._pending: list[Deferred[Any]] = []
        self._pool = HTTPConnectionPool(reactor, persistent=True)
        self._pool.maxPersistentPerHost = 4
        self._http = HTTPClient(
            Agent(reactor, pool=self._pool), cookiejar=CookieJar() if cookies else None  # type: ignore[arg-type]
        )

    def _split_url(self, url: str, headers: dict[str, str]) -> None:
        """
        Keep ``url`` as a base (scheme, host, port, path without a
        trailing slash) and a query, and the headers to send, with the
        URL's userinfo as Basic authorization unless one is given.
        """
        parts = urlsplit(url)
        self._headers = dict(headers)
        if parts.username is not None and not any(
            k.lower() == "authorization" for k in self._headers
        ):
            credentials = unquote(parts.username) + ":" + unquote(parts.password or "")
            token = base64.b64encode(credentials.encode("utf-8")).decode("ascii")
            self._headers["Authorization"] = "Basic " + token
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port is not None:
            netloc += f":{parts.port}"
        self._scheme = parts.scheme
        self._base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self._query = parts.query

    def _request(
        self,
        method: str,
        url: str,
        body: Optional[bytes] = None,
        stream: Optional[Callable[[bytes], None]] = None,
        content_type: str = "text/plain;charset=UTF-8",
    ) -> Deferred[Any]:
        """
        Send a request; the Deferred fires with ``(response, body)``, or
        with the response once ``stream`` has had every piece of the body,
        and fails with :class:`~primus_tx.HandshakeError` for a status of
        400 or more.  Cancelling it drops its connection, whatever stage
        it is at.
        """
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = content_type
        d = self._http.request(method, url, headers=headers, data=body, unbuffered=True)  # type: ignore[arg-type]

        def got(response: Any) -> Any:
            if response.code >= 400:
                return self._http_error(response, url)
            if stream is not None:
                return read_body(response, stream).addCallback(lambda _: response)
            return read_body(response).addCallback(lambda content: (response, content))

        d.addCallback(got)
        self._pending.append(d)
        d.addBoth(self._done_pending, d)
        return d

    def _done_pending(self, result: Any, d: Deferred[Any]) -> Any:
        if d in self._pending:
            self._pending.remove(d)
        return result

    def _http_error(self, response: Any, url: str) -> Any:
        def fail(content: bytes) -> None:
            headers = {
                k.decode("latin-1").lower(): b", ".join(v).decode("latin-1")
                for k, v in response.headers.getAllRawHeaders()
            }
            raise HandshakeError(
                f"The server answered {response.code} to {url.split('?')[0]}",
                response.code,
                headers,
                content,
            )

        return read_body(response).addCallback(fail)

    def _cancel_pending(self) -> None:
        for pending in list(self._pending):
            pending.cancel()
