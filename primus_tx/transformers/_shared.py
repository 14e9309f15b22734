"""
What the built-in transformers' server sides share: the spark options a
handshake request gives, and the water marks of the session transformers'
outgoing queues.  (The Autobahn factory they speak WebSocket with is in
:mod:`primus_tx.transformers._autobahn`, beside the Python client's.)

A transformer reaches its server through
:class:`~primus_tx.interfaces.ITransformerHost` alone; these helpers take
what they need from it as plain values, so they know nothing of the
server either.
"""

from __future__ import annotations

from typing import Any, Optional

from primus_tx._http import PrimusRequest, headers_of, peer_of
from primus_tx.interfaces import IConnectionHandler

__all__ = ["HIGH_WATER", "LOW_WATER", "check_water", "spark_options"]

#: Bytes (or characters) waiting in a session's outgoing queue past which
#: ``spark.write`` returns ``False``; ``"drain"`` follows once the queue is
#: back under :data:`LOW_WATER`.
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024


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
