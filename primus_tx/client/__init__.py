"""
The Python client: a Deferred-based Primus client for Twisted.

::

    socket = await primus_tx.connect("http://localhost:8080")
    socket.write({"hello": "world"})
    async for data in socket:
        ...

:class:`Socket` follows Primus's client (events, their order, buffering,
reconnect strategies and back-off); transports implement
:class:`IClientTransport`.  See :doc:`/client`.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from primus_tx.client._recovery import Attempt, ReconnectFailed, ReconnectTimeout, Recovery
from primus_tx.client._socket import CLOSED, OPEN, OPENING, ConnectionFailed, Socket, create_socket
from primus_tx.interfaces import IClientTransport, IClientTransportHandler

__all__ = [
    "CLOSED",
    "OPEN",
    "OPENING",
    "Attempt",
    "ConnectionFailed",
    "IClientTransport",
    "IClientTransportHandler",
    "ReconnectFailed",
    "ReconnectTimeout",
    "Recovery",
    "Socket",
    "connect",
    "create_socket",
]


def connect(url: str = "http://127.0.0.1", **options: Any) -> Deferred[Socket]:
    """
    Open a :class:`Socket` to ``url``.

    :return: a Deferred firing with the open socket, or failing with
        :class:`ConnectionFailed` when the socket ends before opening.
    """
    return Socket.connect(url, **options)
