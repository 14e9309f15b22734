"""
The ``uws`` transformer: Node Primus's name for plain WebSocket served by
the native uWebSockets engine.  The wire is the ``websockets``
transformer's; the name stands for "the fastest WebSocket engine primus-tx
has that passes the conformance suite": primus-tx's own lean engine
(:mod:`primus_tx.transformers.uws._engine`).  With ``compression=True`` or
Autobahn ``transport=`` options it is Autobahn, as for ``websockets``.
"""

from __future__ import annotations

from typing import Any

from primus_tx.transformers.websockets import WebSockets

__all__ = ["Uws", "transformer"]


class Uws(WebSockets):
    """
    ``websockets`` under the name ``uws``.
    """

    name = "uws"

    def server(self, primus: Any) -> Any:
        if primus.options["compression"] or primus.options["transport"]:
            return super().server(primus)
        from primus_tx.transformers.uws.server import LeanServer

        return LeanServer(primus)


transformer = Uws()
