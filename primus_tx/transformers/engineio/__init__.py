"""
The ``engine.io`` transformer: Engine.IO protocol v4 (HTTP long-polling
with an upgrade to WebSocket), wire-compatible with the official
``engine.io-client`` and ``python-engineio`` clients and with Primus's own
engine.io transformer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zope.interface import implementer

from primus_tx.interfaces import INamedTransformer, ITransformerHost, ITransformerServer

__all__ = ["EngineIO", "transformer"]


@implementer(INamedTransformer)
class EngineIO:
    """
    Engine.IO sessions on the server (twisted.web for polling, Autobahn for
    WebSocket), a treq + Autobahn transport in the Python client, and a
    small Engine.IO client of its own in the browser library.
    """

    name = "engine.io"

    def server(self, host: ITransformerHost) -> ITransformerServer:
        from primus_tx.transformers.engineio.server import EngineIOServer

        return EngineIOServer(host)

    def client(self) -> Any:
        from primus_tx.transformers.engineio.client import EngineIOClientTransport

        return EngineIOClientTransport

    def library(self) -> str:
        return (Path(__file__).parent / "client.js").read_text("utf-8")


transformer = EngineIO()
