"""
What a spark needs from a twisted.web request, normalised once: text
header names in lower case, the peer, the parsed query.

twisted.web speaks bytes; Primus's API speaks text.  This is the one place
that converts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web.http import RESPONSES
from twisted.web.server import Request

from primus_tx._query import QueryValue, parse_query

if TYPE_CHECKING:

    class PrimusRequest(Request):
        """
        A twisted.web request under a Primus pathname, with what the Primus
        resource and its middleware add to it.
        """

        #: The parsed query string (``query_of``), set before the middleware.
        query: dict[str, QueryValue]
        #: The server, for middleware.
        primus: Any
        #: The client's address after the ``forwarded`` layer.
        forwarded: Any
        #: Set once the client dropped the request (``watch_gone``).
        _primus_gone: bool

else:
    #: The type of the requests Primus hands its middleware and its
    #: transformer: a ``twisted.web.server.Request`` with ``query`` (and,
    #: after the ``forwarded`` layer, ``forwarded``) set.
    PrimusRequest = Request

__all__ = [
    "PrimusRequest",
    "answer",
    "headers_of",
    "is_gone",
    "is_websocket_upgrade",
    "peer_of",
    "query_of",
    "reason",
    "watch_gone",
]


def headers_of(request: Request) -> dict[str, str]:
    """
    The request's headers: lower-case names, repeated headers joined with
    ``", "`` (as Node joins them).
    """
    headers: dict[str, str] = {}
    for name, values in request.requestHeaders.getAllRawHeaders():
        headers[name.decode("latin-1").lower()] = ", ".join(
            value.decode("latin-1") for value in values
        )
    return headers


def peer_of(request: Request) -> tuple[str, int, bool]:
    """
    ``(ip, port, secure)`` of the connection that carried ``request``.
    """
    address = request.getClientAddress()
    secure = bool(request.isSecure())
    if isinstance(address, (IPv4Address, IPv6Address)):
        return address.host, address.port, secure
    # Unix sockets and other transports have no IP: Primus reports localhost.
    return "127.0.0.1", 0, secure


def query_of(request: Request) -> dict[str, QueryValue]:
    """
    The query string of ``request``, parsed as Node's ``querystring`` does.
    """
    uri: bytes = request.uri
    _, mark, query = uri.partition(b"?")
    if not mark:
        return {}
    return parse_query(query.decode("latin-1") if not query.isascii() else query.decode("ascii"))


def is_websocket_upgrade(request: Request) -> bool:
    """
    Whether ``request`` asks for a WebSocket.
    """
    upgrade = request.getHeader(b"upgrade")
    return upgrade is not None and b"websocket" in upgrade.lower()


# Reason phrases twisted.web does not know (it would say "Unknown Status").
_REASONS = {
    426: b"Upgrade Required",
    428: b"Precondition Required",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
}


def reason(status: int) -> bytes:
    """
    The reason phrase for ``status``, as Node would write it.
    """
    return RESPONSES.get(status) or _REASONS.get(status, b"Unknown Status")


def watch_gone(request: PrimusRequest, on_gone: Optional[Callable[[Any], object]] = None) -> None:
    """
    Mark ``request`` gone when its client drops it before it is answered
    (twisted.web raises if such a request is finished), then call
    ``on_gone(request)``.

    Every request under the pathname is watched once by the Primus
    resource; a transformer that holds a request (a long poll, a stream)
    watches it again to learn when to let go of it.
    """

    def gone(failure: object) -> None:
        request._primus_gone = True
        if on_gone is not None:
            on_gone(request)

    request.notifyFinish().addErrback(gone)


def is_gone(request: Request) -> bool:
    """
    Whether the client dropped ``request`` (see :func:`watch_gone`).
    """
    return bool(getattr(request, "_primus_gone", False))


def answer(
    request: Request, status: int, body: bytes = b"", content_type: Optional[bytes] = None
) -> None:
    """
    Answer ``request`` completely: status with its reason phrase, type
    when given, length, and body (none for ``HEAD``).

    Nothing happens when the request is already answered or its client is
    gone: middleware and transformers answer held requests late, when
    either may have happened, and twisted.web raises on finishing those.
    """
    if request.finished or is_gone(request):
        return
    request.setResponseCode(status, reason(status))
    if content_type is not None:
        request.setHeader(b"content-type", content_type)
    request.setHeader(b"content-length", str(len(body)).encode("ascii"))
    if body and request.method != b"HEAD":
        request.write(body)
    request.finish()
