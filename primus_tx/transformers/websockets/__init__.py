"""
The ``websockets`` transformer: plain WebSocket, Primus's default.

Two server engines speak its wire.  The lean engine
(:mod:`primus_tx.transformers.websockets.lean`) is primus-tx's own RFC 6455
engine, written for exactly what a Primus server needs; it is the default
because it echoes two to three times as fast as Autobahn under Primus and
keeps about 40 % less memory per idle connection, and it passes the same
conformance and hostile-input tests.  Autobahn serves what the lean engine leaves out:
compression, and Autobahn's own protocol options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zope.interface import implementer

from primus_tx._errors import PrimusError
from primus_tx.interfaces import INamedTransformer, ITransformerHost, ITransformerServer

__all__ = ["ENGINES", "WebSockets", "choose_engine", "transformer"]

#: The server engines, by the name ``transport={"engine": ...}`` takes.
ENGINES = ("lean", "autobahn")


def choose_engine(host: ITransformerHost, default: str) -> str:
    """
    The engine that serves ``host``: the one named in ``transport=``, else
    Autobahn when compression or Autobahn options ask for it, else
    ``default``.

    :raises PrimusError: for an unknown engine, or the lean engine asked for
        something only Autobahn does; at construction, not at the first
        connection.
    """
    options = host.transport_options
    engine = options.pop("engine", None)
    if engine is None:
        return "autobahn" if host.compression or options else default
    if engine not in ENGINES:
        raise PrimusError(f"Unknown WebSocket engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if engine == "lean" and host.compression:
        raise PrimusError("The lean WebSocket engine does not compress: use engine 'autobahn'")
    if engine == "lean" and options:
        names = ", ".join(sorted(options))
        raise PrimusError(f"The lean WebSocket engine takes no transport options ({names}): they are Autobahn's")
    return str(engine)


@implementer(INamedTransformer)
class WebSockets:
    """
    WebSocket through the lean engine or Autobahn on the server, Autobahn
    in the Python client, the browser's own ``WebSocket`` in the browser
    client.
    """

    name = "websockets"
    #: The engine serving this name when nothing asks for the other.
    engine = "lean"

    def server(self, host: ITransformerHost) -> ITransformerServer:
        if choose_engine(host, self.engine) == "lean":
            from primus_tx.transformers.websockets.lean_server import LeanServer

            return LeanServer(host)
        from primus_tx.transformers.websockets.server import WebSocketsServer

        return WebSocketsServer(host)

    def client(self) -> Any:
        from primus_tx.transformers.websockets.client import WebSocketsClientTransport

        return WebSocketsClientTransport

    def library(self) -> str:
        return (Path(__file__).parent / "client.js").read_text("utf-8")


transformer = WebSockets()
