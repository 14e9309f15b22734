"""
What the built-in transformers' server sides share: the Autobahn factory
they speak WebSocket with, the spark options a handshake request gives,
and the water marks of the session transformers' outgoing queues.

A transformer reaches its server through
:class:`~primus_tx.interfaces.ITransformerHost` alone; these helpers take
what they need from it as plain values, so they know nothing of the
server either.
"""

from __future__ import annotations

from typing import Any, Optional

from autobahn.twisted.websocket import WebSocketServerFactory

from primus_tx._http import PrimusRequest, headers_of, peer_of
from primus_tx.interfaces import IConnectionHandler
from primus_tx.transformers._autobahn import CLOSE_HANDSHAKE_TIMEOUT

__all__ = ["HIGH_WATER", "LOW_WATER", "check_water", "spark_options", "websocket_factory"]

#: Bytes (or characters) waiting in a session's outgoing queue past which
#: ``spark.write`` returns ``False``; ``"drain"`` follows once the queue is
#: back under :data:`LOW_WATER`.
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024


def websocket_factory(protocol: type, max_length: int, **options: Any) -> Any:
    """
    An Autobahn server factory for ``protocol`` with the settings every
    WebSocket transport of Primus shares: messages and frames limited to
    ``max_length``, no status page, a 10 s opening handshake, a closing
    one of at least a second (see
    :data:`~primus_tx.transformers._autobahn.CLOSE_HANDSHAKE_TIMEOUT`),
    and a clean close on protocol errors; ``options`` (Autobahn protocol
    options) win.

    :raises TypeError: for an option Autobahn does not know.
    """
    factory: Any = WebSocketServerFactory()
    factory.protocol = protocol
    settings: dict[str, Any] = {
        "maxMessagePayloadSize": max_length,
        "maxFramePayloadSize": max_length,
        "webStatus": False,
        "openHandshakeTimeout": 10,
        "closeHandshakeTimeout": CLOSE_HANDSHAKE_TIMEOUT,
        "failByDrop": False,
    }
    settings.update(options)
    factory.setProtocolOptions(**settings)
    return factory


def spark_options(
    request: PrimusRequest, socket: Any, *, id: Optional[str] = None, copy_headers: bool = False
) -> dict[str, Any]:
    """
    The keyword arguments of
    :meth:`~primus_tx.interfaces.ITransformerHost.connect_spark` for a
    connection opened by ``request``.

    :param socket: the transport's connection object (``spark.socket``).
    :param id: the transport's own session id, when it has one.
    :param copy_headers: read the headers now rather than when the
        application first asks (sessions whose first request is one of
        many pass ``True``).
    """
    options: dict[str, Any] = {
        "query": request.query,
        "peer": peer_of(request),
        "request": request,
        "socket": socket,
    }
    if id is not None:
        options["id"] = id
    if copy_headers:
        options["headers"] = headers_of(request)
    return options


def check_water(
    paused: bool, buffered: int, high: int, low: int, spark: Optional[IConnectionHandler]
) -> bool:
    """
    Pause the spark's writing when ``buffered`` passes ``high``, resume it
    once it is back to ``low``.

    :param paused: whether writing is paused now.
    :return: whether writing is paused afterwards.
    """
    if not paused:
        if buffered > high:
            if spark is not None:
                spark.pauseWriting()
            return True
        return False
    if buffered <= low:
        if spark is not None:
            spark.resumeWriting()
        return False
    return True
