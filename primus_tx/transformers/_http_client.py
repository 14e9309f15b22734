"""
What the Python client transports that speak plain HTTP (SockJS's
polling and streaming transports, BrowserChannel) share: one connection
pool per connection attempt, the socket URL split into a base and a query,
Basic authorization from its userinfo, and requests that are cancelled
together when the attempt ends.
"""

from __future__ import annotations

import base64
from typing import Any, Callable, Optional
from urllib.parse import unquote, urlsplit, urlunsplit

from twisted.internet.defer import Deferred

from primus_tx._errors import HandshakeError

__all__ = ["HTTPClientBase"]


class HTTPClientBase:
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
        400 or more.
        """
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = content_type
        d = self._http.request(method, url, headers=headers, data=body, unbuffered=True)  # type: ignore[arg-type]

        def got(response: Any) -> Any:
            if response.code >= 400:
                return self._http_error(response, url)
            if stream is not None:
                import treq

                return treq.collect(response, stream).addCallback(lambda _: response)
            return response.content().addCallback(lambda content: (response, content))

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

        return response.content().addCallback(fail)

    def _cancel_pending(self) -> None:
        for pending in list(self._pending):
            pending.cancel()
