"""
The ``uws`` transformer: Node Primus's name for plain WebSocket served by
the native uWebSockets engine.  The wire is the ``websockets``
transformer's; the name stands for "the fastest WebSocket engine primus-tx
has that passes the conformance suite".  Until a leaner engine passes it,
that engine is Autobahn, as for ``websockets``.
"""

from __future__ import annotations

from primus_tx.transformers.websockets import WebSockets

__all__ = ["Uws", "transformer"]


class Uws(WebSockets):
    """
    ``websockets`` under the name ``uws``.
    """

    name = "uws"


transformer = Uws()
