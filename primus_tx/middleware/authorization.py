"""
``authorization``: runs the function given to ``primus.authorize()`` for
every request and upgrade that reaches it.

The function receives the request and may return an awaitable.  Raising
(or failing with) :class:`~primus_tx.AuthorizationError` refuses with that
error's status and ``WWW-Authenticate``; any other exception refuses with
401 and its message.  Either way the client gets a real HTTP response, so
the Primus client can tell a refusal from a network failure and stop
retrying.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from primus_tx._errors import AuthorizationError
from primus_tx._events import as_deferred, is_awaitable
from primus_tx._http import PrimusRequest

__all__ = ["authorization"]


def _refusal(error: BaseException) -> AuthorizationError:
    if isinstance(error, AuthorizationError):
        return error
    status = getattr(error, "status", None)
    return AuthorizationError(
        str(error) or error.__class__.__name__,
        status if isinstance(status, int) and 400 <= status <= 599 else 401,
        getattr(error, "authenticate", None),
    )


def _failed(failure: Failure) -> None:
    raise _refusal(failure.value)  # type: ignore[arg-type]


def authorization(primus: Any, options: dict[str, Any]) -> Callable[[PrimusRequest], Any]:
    """
    Build the layer.
    """

    def authorization_layer(request: PrimusRequest) -> Optional[Deferred[Any]]:
        auth = primus.auth
        if auth is None:
            return None
        try:
            result = auth(request)
        except Exception as error:
            raise _refusal(error)
        if result is not None and is_awaitable(result):
            return as_deferred(result).addCallbacks(lambda _: None, _failed)
        return None

    return authorization_layer
