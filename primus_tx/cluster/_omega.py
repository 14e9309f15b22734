# -*- test-case-name: tests.cluster.test_mixed_fleet -*-
"""
The omega-supreme 3.0.1 HTTP ingress, and the client side that forwards to
it.

Ingress: ``PUT <pathname>/omega/supreme`` with HTTP Basic credentials and a
JSON body ``{"msg": <data>, "sparks": <id> | [<ids>] | ""}`` writes ``msg``
to the named sparks *on this node* (or to every spark here when ``sparks``
is missing, empty or not a string or a list) and answers as omega-supreme
does, byte for byte:

* 200 ``{ "ok": true, "send":N }``, ``N`` the sparks written;
* 401 ``{"ok":false,"reason":"I am programmed to protect, ..."}`` when the
  credentials (user name and password) are wrong;
* 500 ``{ "ok": false, "reason": "invalid data structure" }`` when the body
  is not a JSON object with a truthy ``msg``.

A request on another path, with another method or without an
``Authorization`` header is not the ingress's: it goes on to the next
middleware layer, as with omega-supreme.  Unlike omega-supreme there is no
default password (the plugin refuses to start without one) and the
credentials are compared in constant time.

Forwarding: :class:`OmegaClient` PUTs such bodies to peers (Node nodes
running omega-supreme, or primus-tx nodes) at most ``concurrently`` at a
time, each bounded by a timeout, and reads their answers as omega-supreme's
forwarder does (anything but a 200 with ``"ok": true`` is an error).
"""

from __future__ import annotations

import hmac
import json
from base64 import b64encode
from io import BytesIO
from typing import Any, Optional
from urllib.parse import urljoin

from twisted.internet.defer import Deferred, DeferredSemaphore, fail
from twisted.logger import Logger

from primus_tx.cluster._redis import ClusterError, ClusterOverloaded

__all__ = ["FORBIDDEN", "INVALID", "ForwardError", "OmegaClient", "omega_layer"]

#: omega-supreme's bodies, verbatim (spacing included).
FORBIDDEN = (
    b'{"ok":false,"reason":"I am programmed to protect, and sacrifice if necessary. '
    b'Feel the power of my lazers! Pew pew!"}'
)
INVALID = b'{ "ok": false, "reason": "invalid data structure" }'


def basic_credentials(username: str, password: str) -> bytes:
    """
    The ``Authorization`` header value for these credentials.
    """
    return b"Basic " + b64encode(f"{username}:{password}".encode())


def _truthy(value: Any) -> bool:
    """
    JavaScript's truthiness for a JSON value: ``0``, ``""``, ``false`` and
    ``null`` are false, every object and array is true.
    """
    if value is None or value is False or value == "":
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0
    return True


def _answer(request: Any, status: int, body: bytes) -> bool:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"content-length", str(len(body)).encode("ascii"))
    request.write(body)
    request.finish()
    return True


def _open_sparks(primus: Any) -> list[Any]:
    from primus_tx.spark import Spark

    return [s for s in list(primus.connections.values()) if s.ready_state == Spark.OPEN]


def write_local(primus: Any, msg: Any, sparks: Any) -> int:
    """
    Write ``msg`` to the sparks omega-supreme would on this node.

    :return: how many sparks were written.
    """
    if isinstance(sparks, list):
        sent = 0
        for id in sparks:
            spark = primus.spark(id) if isinstance(id, str) else None
            if spark is not None:
                spark.write(msg)
                sent += 1
        return sent
    if isinstance(sparks, str) and sparks:
        spark = primus.spark(sparks)
        if spark is None:
            return 0
        spark.write(msg)
        return 1
    everyone = _open_sparks(primus)
    for spark in everyone:
        spark.write(msg)
    return len(everyone)


def omega_layer(primus: Any, options: dict[str, Any]) -> Any:
    """
    The ingress as a middleware layer of ``primus``.

    :param options: ``password`` (required), ``username``, ``method``,
        ``url`` (the full path, ``/primus/omega/supreme`` by default).
    """
    expected = basic_credentials(options["username"], options["password"])
    method = options["method"].upper().encode("ascii")
    path = options["url"].encode("utf-8")

    def omega(request: Any) -> Optional[bool]:
        if request.uri != path or request.method != method:
            return None
        given = request.getHeader(b"authorization")
        if not given:
            return None
        if not hmac.compare_digest(
            given.encode("latin-1", "replace") if isinstance(given, str) else given, expected
        ):
            return _answer(request, 401, FORBIDDEN)
        try:
            content = request.content
            if content is not None:
                content.seek(0)
            body = content.read() if content is not None else b""
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return _answer(request, 500, INVALID)
        if not isinstance(data, dict) or not _truthy(data.get("msg")):
            return _answer(request, 500, INVALID)
        sent = write_local(primus, data["msg"], data.get("sparks"))
        return _answer(request, 200, b'{ "ok": true, "send":%d }' % sent)

    omega.upgrade = False  # type: ignore[attr-defined]
    return omega


class ForwardError(ClusterError):
    """
    A forward could not reach every node it had to.

    :ivar result: what was done anyway: ``{"ok": False, "send": N}`` with
        ``N`` the sparks written before the failure was known.
    :ivar url: the ingress that failed, when one did.
    :ivar status: its HTTP status, when it answered.
    """

    def __init__(
        self,
        message: str,
        result: Optional[dict[str, Any]] = None,
        url: Optional[str] = None,
        status: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.result = result or {"ok": False, "send": 0}
        self.url = url
        self.status = status


class OmegaClient:
    """
    PUTs forwards to peers' ingresses.

    :param options: ``username``, ``password``, ``method``, ``path`` (the
        ingress path, resolved against each peer's address),
        ``concurrently``, ``timeout`` (seconds per request), ``max_waiting``
        (requests allowed to wait for a free slot; past that a forward
        fails at once instead of queueing).
    """

    log = Logger()

    def __init__(self, reactor: Any, options: dict[str, Any]) -> None:
        from twisted.web.client import Agent, HTTPConnectionPool

        self._reactor = reactor
        self._pool = HTTPConnectionPool(reactor, persistent=True)
        self._pool.maxPersistentPerHost = max(1, int(options["concurrently"]))
        self._pool.retryAutomatically = False
        self._agent = Agent(reactor, pool=self._pool, connectTimeout=options["timeout"])
        self._auth = basic_credentials(options["username"], options["password"])
        self._method = options["method"].upper().encode("ascii")
        self._path = options["path"]
        self._timeout = float(options["timeout"])
        self._limit = DeferredSemaphore(max(1, int(options["concurrently"])))
        self._max_waiting = int(options.get("max_waiting", 10000))

    def url(self, address: str) -> str:
        return urljoin(address, self._path)

    def put(self, address: str, msg: Any, sparks: Any) -> Deferred[dict[str, Any]]:
        """
        Forward to one peer.

        :return: a Deferred firing with the peer's parsed answer, or failing
            with :class:`ForwardError`.
        """
        if len(self._limit.waiting) >= self._max_waiting:
            return fail(
                ClusterOverloaded(f"{len(self._limit.waiting)} forwards are already waiting")
            )
        return self._limit.run(self._put, address, msg, sparks)

    def _put(self, address: str, msg: Any, sparks: Any) -> Deferred[dict[str, Any]]:
        from treq import content
        from twisted.web.client import FileBodyProducer
        from twisted.web.http_headers import Headers

        url = self.url(address)
        body = json.dumps({"msg": msg, "sparks": sparks}, separators=(",", ":")).encode("utf-8")
        headers = Headers(
            {
                b"authorization": [self._auth],
                b"content-type": [b"application/json"],
                b"accept": [b"application/json"],
            }
        )
        d: Deferred[Any] = self._agent.request(
            self._method, url.encode("utf-8"), headers, FileBodyProducer(BytesIO(body))
        )

        def answered(response: Any) -> Deferred[Any]:
            return content(response).addCallback(lambda raw: (response.code, raw))

        def parsed(reply: tuple[int, bytes]) -> dict[str, Any]:
            status, raw = reply
            try:
                answer = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                answer = {}
            if not isinstance(answer, dict):
                answer = {}
            if status != 200:
                raise ForwardError(
                    answer.get("reason") or f"Invalid status code ({status}) returned",
                    url=url,
                    status=status,
                )
            if answer.get("ok") is not True:
                raise ForwardError(
                    answer.get("reason") or "Unable to process the request", url=url, status=status
                )
            return answer

        def failed(failure: Any) -> Any:
            if failure.check(ForwardError):
                return failure
            reason = failure.getErrorMessage() or getattr(failure.type, "__name__", "error")
            raise ForwardError(f"Forwarding to {url} failed: {reason}", url=url)

        d.addCallback(answered)
        d.addTimeout(self._timeout, self._reactor)
        d.addCallback(parsed)
        d.addErrback(failed)
        return d

    def close(self) -> Deferred[Any]:
        return self._pool.closeCachedConnections()
