"""
``uws`` and ``faye``: Node Primus's other names for plain WebSocket.

In Node Primus the three WebSocket transformers differ only in the library
that serves them: ``ws`` (``websockets``), the native uWebSockets module
(``uws``) and ``faye-websocket`` (``faye``).  The wire is the same, so
here they are the ``websockets`` transformer under other names, with the
same Python client and browser transport.  ``/spec`` reports the name the
server was given.

``uws`` is served like ``websockets``, by the fastest engine primus-tx has
that passes the WebSocket conformance suite (the lean engine); ``faye`` by
Autobahn.  ``transport={"engine": ...}`` overrides either.
"""

from __future__ import annotations

from primus_tx.transformers.websockets import WebSockets

__all__ = ["Faye", "Uws", "faye", "uws"]


class Uws(WebSockets):
    """
    ``websockets`` under the name ``uws``, served by the lean engine.
    """

    name = "uws"


class Faye(WebSockets):
    """
    ``websockets`` under the name ``faye``: Autobahn on the server.
    """

    name = "faye"
    engine = "autobahn"


uws = Uws()
faye = Faye()
