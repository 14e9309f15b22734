"""
The exceptions primus-tx raises or hands to user code.

Primus reports configuration mistakes with ``PrimusError`` and codec failures
with ``ParserError``; we keep both names so that a reader of Primus's
documentation recognises them, and add ``AuthorizationError`` so that an
authorization function can choose the HTTP status of a refusal without
building a response by hand.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["AuthorizationError", "ParserError", "PrimusError"]


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
