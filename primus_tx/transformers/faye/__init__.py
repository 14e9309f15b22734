"""
The ``faye`` transformer: Node Primus's name for plain WebSocket served by
``faye-websocket``.  On the wire it is the ``websockets`` transformer, so
primus-tx serves it with the same Autobahn engine; the name exists so that
an application (or a client built for it) that says ``faye`` works
unchanged.  docs/transformers.rst says what differs from Node's engine.
"""

from __future__ import annotations

from primus_tx.transformers.websockets import WebSockets

__all__ = ["Faye", "transformer"]


class Faye(WebSockets):
    """
    ``websockets`` under the name ``faye``: Autobahn on the server, the
    Python client's Autobahn transport, the browser's ``WebSocket``.
    """

    name = "faye"


transformer = Faye()
