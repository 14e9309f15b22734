"""
Where HTTP meets Primus: the twisted.web resource that owns every path
under the pathname, and the wrapper that puts it in front of an existing
site.

For each request the resource parses the query, runs the middleware in
"http" or "upgrade" mode, and hands whatever the middleware let through to
the transformer's server side.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import IResource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from primus_tx._http import PrimusRequest, is_gone, is_websocket_upgrade, query_of, watch_gone
from primus_tx.interfaces import ITransformerServer
from primus_tx.middleware import MiddlewareStack, respond_with_error

__all__ = ["PrimusResource", "SiteRoot"]

log = Logger()


@implementer(IResource)
class PrimusResource:
    """
    The resource for everything under a Primus pathname (a leaf: deeper
    paths are ours too, as in Primus).

    :param primus: the server, only handed to middleware as
        ``request.primus``.
    :param middleware: the server's middleware stack.
    :param server: the transformer's server side, until :meth:`close`.
    """

    isLeaf = True

    def __init__(
        self, primus: object, middleware: MiddlewareStack, server: Optional[ITransformerServer]
    ) -> None:
        self._primus = primus
        self._middleware = middleware
        self._server = server

    def close(self) -> None:
        """
        The server is destroyed: requests still in the middleware get 503.
        """
        self._server = None

    def getChildWithDefault(self, name: bytes, request: PrimusRequest) -> Any:  # pragma: no cover - leaf
        return self

    def putChild(self, path: bytes, child: Any) -> None:
        raise NotImplementedError("Primus owns every path under its pathname")

    def render(self, request: PrimusRequest) -> Any:
        upgrade = is_websocket_upgrade(request)
        request.query = query_of(request)
        request.primus = self._primus
        watch_gone(request)
        try:
            handled = self._middleware.run(request, upgrade)
        except Exception as error:  # pragma: no cover - run() reports layer errors itself
            respond_with_error(request, error, upgrade)
            return NOT_DONE_YET
        if handled is False:
            self._dispatch(request, upgrade)
        elif handled is not True:
            handled.addCallback(self._after_middleware, request, upgrade)
            handled.addErrback(self._failed, request, upgrade)
        return NOT_DONE_YET

    def _after_middleware(self, handled: bool, request: PrimusRequest, upgrade: bool) -> None:
        if not handled and not is_gone(request):
            self._dispatch(request, upgrade)

    def _dispatch(self, request: PrimusRequest, upgrade: bool) -> None:
        server = self._server
        if server is None:  # destroyed while the middleware ran
            respond_with_error(request, _Gone("Primus is closed"), upgrade)
            return
        try:
            if upgrade:
                server.upgrade(request)
            else:
                server.request(request)
        except Exception as error:
            log.failure("transformer failed on {uri}", uri=request.uri)
            respond_with_error(request, error, upgrade)

    def _failed(self, failure: Failure, request: PrimusRequest, upgrade: bool) -> None:
        log.failure("handling {uri} failed", failure, uri=request.uri)
        respond_with_error(request, failure.value, upgrade)  # type: ignore[arg-type]


class _Gone(Exception):
    status = 503


@implementer(IResource)
class SiteRoot:
    """
    Stands in for a site's root resource: requests whose path starts with a
    Primus pathname go to Primus, everything else to the original root.

    Primus claims paths by plain prefix, as Primus does (``/primus``,
    ``/primus/x``, and ``/primus.js`` alike).
    """

    isLeaf = False

    def __init__(self, original: Any, pathname: str, resource: PrimusResource) -> None:
        self.original = original
        self.resource = resource
        self._prefix = pathname.encode("utf-8")
        self.active = True

    def getChildWithDefault(self, name: bytes, request: PrimusRequest) -> Any:
        if self.active and request.path.startswith(self._prefix):
            # Everything after this segment belongs to Primus: the leaf
            # resource sees the whole path and decides.
            return self.resource
        original = self.original
        if getattr(original, "isLeaf", False):
            # A leaf root (a Klein app, a WSGIResource) sees the whole path,
            # as it would without Primus: twisted.web has already moved this
            # segment to prepath, so put it back.
            prepath, postpath = request.prepath, request.postpath
            if prepath and postpath is not None:
                postpath.insert(0, prepath.pop())
            return original
        return original.getChildWithDefault(name, request)

    def putChild(self, path: bytes, child: Any) -> None:
        self.original.putChild(path, child)

    def render(self, request: PrimusRequest) -> Any:
        if self.active and request.path.startswith(self._prefix):
            return self.resource.render(request)
        return self.original.render(request)
