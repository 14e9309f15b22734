"""
The middleware stack: named layers that see every HTTP request and
WebSocket upgrade under the pathname before the transformer does.

A layer is ``layer(request)`` where ``request`` is the twisted.web request
(with ``request.query`` and, after the ``forwarded`` layer,
``request.forwarded``).  It may answer the request itself and return
``True`` (or finish the request) to stop the chain, return ``None`` to let
the next layer run, return an awaitable for asynchronous work, or raise: an
exception becomes a JSON ``{"error": message}`` response with the
exception's ``status`` (500 when it has none; 401 for
:class:`~primus_tx.AuthorizationError`).  A layer whose ``http`` attribute is
false skips plain HTTP requests; one whose ``upgrade`` attribute is false
skips upgrades.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

from twisted.logger import Logger
from twisted.python.failure import Failure

from primus_tx._errors import AuthorizationError, PrimusError
from primus_tx._events import as_deferred, is_awaitable
from primus_tx._http import PrimusRequest, answer, is_gone
from primus_tx._json import dumps_compact

__all__ = ["Layer", "MiddlewareStack", "respond_with_error"]

log = Logger()


class Layer:
    """
    One named middleware layer and its flags.
    """

    __slots__ = ("enabled", "fn", "http", "name", "upgrade")

    def __init__(self, name: str, fn: Callable[[PrimusRequest], Any]) -> None:
        self.name = name
        self.fn = fn
        self.enabled = True
        self.http = bool(getattr(fn, "http", True))
        self.upgrade = bool(getattr(fn, "upgrade", True))

    def __repr__(self) -> str:
        return f"<Layer {self.name!r} enabled={self.enabled}>"


def _is_factory(fn: Callable[..., Any]) -> bool:
    """
    Primus tells factories from layers by arity; so do we: ``layer(request)``
    takes one argument, ``factory(primus, options)`` takes two.
    """
    try:
        parameters = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
    except (TypeError, ValueError):
        return False
    return len(parameters) >= 2


class MiddlewareStack:
    """
    The ordered layers of one Primus server.
    """

    def __init__(self, primus: Any) -> None:
        self._primus = primus
        self.layers: list[Layer] = []

    def use(
        self,
        name: Any,
        fn: Optional[Callable[..., Any]] = None,
        options: Optional[dict[str, Any]] = None,
        index: Optional[int] = None,
    ) -> None:
        if fn is None and callable(name):
            name, fn = getattr(name, "__name__", None), name
        if not callable(fn):
            raise PrimusError("Middleware should be a function that accepts a request")
        if not name or not isinstance(name, str) or name == "<lambda>":
            name = f"pid_{id(fn):x}"
        if _is_factory(fn):
            fn = fn(self._primus, options or {})
            if not callable(fn) or _is_factory(fn):
                raise PrimusError(
                    f"Middleware factory {name!r} should return a function that accepts a request"
                )
        layer = Layer(name, fn)
        existing = self.index_of(name)
        if existing != -1:
            self.layers[existing] = layer
        elif index is not None and 0 <= index < len(self.layers):
            self.layers.insert(index, layer)
        else:
            self.layers.append(layer)

    def index_of(self, name: str) -> int:
        for position, layer in enumerate(self.layers):
            if layer.name == name:
                return position
        return -1

    def remove(self, name: str) -> bool:
        position = self.index_of(name)
        if position == -1:
            return False
        del self.layers[position]
        return True

    def _set_enabled(self, name: str, enabled: bool) -> bool:
        position = self.index_of(name)
        if position == -1:
            return False
        self.layers[position].enabled = enabled
        return True

    def disable(self, name: str) -> bool:
        return self._set_enabled(name, False)

    def enable(self, name: str) -> bool:
        return self._set_enabled(name, True)

    def run(self, request: PrimusRequest, upgrade: bool, start: int = 0) -> Any:
        """
        Run the layers for ``request`` from ``start``.

        :return: ``True`` when a layer answered, ``False`` when every layer
            let the request through, or a Deferred firing with one of those.
        """
        layers = self.layers
        for position in range(start, len(layers)):
            layer = layers[position]
            if not layer.enabled or not (layer.upgrade if upgrade else layer.http):
                continue
            try:
                result = layer.fn(request)
            except Exception as error:
                respond_with_error(request, error, upgrade)
                return True
            if result is True or request.finished:
                return True
            if result is not None and is_awaitable(result):
                return as_deferred(result).addCallbacks(
                    self._resume,
                    self._failed,
                    callbackArgs=(request, upgrade, position + 1),
                    errbackArgs=(request, upgrade),
                )
        return False

    def _resume(self, result: Any, request: PrimusRequest, upgrade: bool, start: int) -> Any:
        if result is True or request.finished:
            return True
        if is_gone(request):
            return True
        return self.run(request, upgrade, start)

    def _failed(self, failure: Failure, request: PrimusRequest, upgrade: bool) -> bool:
        respond_with_error(request, failure.value, upgrade)  # type: ignore[arg-type]
        return True


def respond_with_error(request: PrimusRequest, error: BaseException, upgrade: bool) -> None:
    """
    Answer ``request`` with ``{"error": message}`` and the error's status, as
    Primus answers a failing layer; an upgrade gets a real HTTP response too,
    and its connection is closed after it.
    """
    if request.finished or is_gone(request):
        return
    if isinstance(error, AuthorizationError):
        status = error.status
        message = error.message
        authenticate = error.authenticate
    else:
        status = getattr(error, "status", None) or getattr(error, "status_code", None) or 500
        message = str(error) or error.__class__.__name__
        authenticate = getattr(error, "authenticate", None)
        if not (isinstance(status, int) and 400 <= status <= 599):
            status = 500
        if status >= 500:
            log.failure(
                "middleware failed on {uri}", Failure(error), uri=request.uri
            )
    body = dumps_compact({"error": message}).encode("utf-8")
    if authenticate and status == 401:
        request.setHeader(b"www-authenticate", authenticate.encode("latin-1", "replace"))
    if upgrade:
        request.setHeader(b"connection", b"close")
        channel = getattr(request, "channel", None)
        if channel is not None:
            channel.persistent = False
    answer(request, status, body, b"application/json")
