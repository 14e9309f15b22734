"""
The ``websockets`` transformer: plain WebSocket, Primus's default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zope.interface import implementer

from primus_tx.interfaces import INamedTransformer, ITransformerHost, ITransformerServer

__all__ = ["WebSockets", "transformer"]


@implementer(INamedTransformer)
class WebSockets:
    """
    WebSocket through Autobahn on the server and in the Python client, the
    browser's own ``WebSocket`` in the browser client.
    """

    name = "websockets"

    def server(self, host: ITransformerHost) -> ITransformerServer:
        from primus_tx.transformers.websockets.server import WebSocketsServer

        return WebSocketsServer(host)

    def client(self) -> Any:
        from primus_tx.transformers.websockets.client import WebSocketsClientTransport

        return WebSocketsClientTransport

    def library(self) -> str:
        return (Path(__file__).parent / "client.js").read_text("utf-8")


transformer = WebSockets()
