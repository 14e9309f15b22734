"""
``create_server``: a Primus with its own site, listening on an endpoint,
for applications that have no twisted.web site of their own.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx._listen import with_backlog
from primus_tx.server import Primus

__all__ = ["create_server"]


async def _listen(
    on_connection: Optional[Callable[[Any], Any]],
    listen: Union[str, list[str]],
    options: dict[str, Any],
) -> Primus:
    reactor = options.get("reactor")
    if reactor is None:
        from twisted.internet import reactor
    site = Site(Resource())
    primus = Primus(site, **options)
    if on_connection is not None:
        primus.on("connection", on_connection)
    descriptions = [listen] if isinstance(listen, str) else list(listen)
    try:
        for description in descriptions:
            endpoint = serverFromString(reactor, with_backlog(description))
            port = await endpoint.listen(site)
            primus.adopt_port(port)
    except BaseException:
        await primus.destroy()
        raise
    return primus


def create_server(
    on_connection: Optional[Callable[[Any], Any]] = None,
    listen: Union[str, list[str]] = "tcp:8080",
    **options: Any,
) -> Deferred[Primus]:
    """
    Make a Primus with a site of its own and listen on ``listen`` (an
    endpoint description such as ``"tcp:8080"``,
    ``"ssl:8443:privateKey=key.pem:certKey=cert.pem"`` or
    ``"unix:/run/primus.sock"``, or a list of them).

    Endpoints that take a listen backlog get 511 (Node's default) unless
    the description sets ``backlog=`` itself.

    :param on_connection: added as a ``"connection"`` listener.
    :return: a Deferred firing with the listening Primus (its ``ports``
        are closed by ``primus.destroy()``), or failing when an endpoint
        cannot listen.
    """
    from twisted.internet.defer import ensureDeferred

    return ensureDeferred(_listen(on_connection, listen, options))
