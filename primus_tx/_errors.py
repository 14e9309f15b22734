"""
The exceptions primus-tx raises or hands to user code.

Primus reports configuration mistakes with ``PrimusError`` and codec failures
with ``ParserError``; we keep both names so that a reader of Primus's
documentation recognises them, and add ``AuthorizationError`` so that an
authorization function can choose the HTTP status of a refusal without
building a response by hand.  The client's connection errors live here
too, so that transports raise them without importing the client.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "AuthorizationError",
    "ConnectionFailed",
    "HandshakeError",
    "ParserError",
    "PrimusError",
]


class PrimusError(Exception):
    """
    A mistake in how Primus was configured or called (an unknown transformer,
    a bad option, a plugin without a name...).

    Raised at configuration time so that a misconfigured server never starts.
    """


class ParserError(PrimusError):
    """
    A message could not be encoded or decoded by the parser.

    Emitted as ``error`` on the spark or client (and ``log`` on the server);
    the message is dropped and the connection is kept, as Primus does.
    """


class AuthorizationError(PrimusError):
    """
    Raised (or failed with) by an authorization function to refuse a request.

    :param message: sent to the client as ``{"error": message}``.
    :param status: the HTTP status of the refusal.
    :param authenticate: the ``WWW-Authenticate`` header value, sent only
        with status 401 (as Primus does).
    """

    def __init__(
        self, message: str = "Unauthorized", status: int = 401, authenticate: Optional[str] = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.authenticate = authenticate


class ConnectionFailed(PrimusError):
    """
    The socket ended before it could open (``Socket.connect``), or a
    transport could not connect.

    :ivar reason: the last error seen while connecting, if any.
    """

    def __init__(self, message: str, reason: Optional[BaseException] = None) -> None:
        super().__init__(message)
        self.reason = reason


class HandshakeError(ConnectionFailed):
    """
    The server answered the WebSocket upgrade with something else than
    ``101 Switching Protocols`` (an authorization refusal, a 404...).

    :ivar status: the HTTP status code (``None`` when the answer was not HTTP).
    :ivar headers: the response headers, lower-case names.
    :ivar body: the response body, as far as it arrived.
    """

    def __init__(
        self,
        message: str,
        status: Optional[int] = None,
        headers: Optional[dict[str, str]] = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.body = body
