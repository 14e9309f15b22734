"""
The ``sockjs`` transformer: the SockJS 0.3.3 protocol (WebSocket with
HTTP streaming and polling fallbacks), interoperable with the unmodified
``sockjs-client``.

Options go in Primus's ``transport`` dict (durations in seconds):

``websocket`` (``True``)
    offer the WebSocket transports (``/info`` says so to the client).
``cookie_needed`` (``False``)
    set ``JSESSIONID`` on every HTTP transport response, so load balancers
    that stick sessions by that cookie keep a session on one server.
``heartbeat_delay`` (``25.0``)
    an ``h`` frame is sent on an idle receiving connection this often.
``disconnect_delay`` (``5.0``)
    how long a session with no receiving request survives.
``response_limit`` (``131072``)
    a streaming response is ended after this many characters of frames.
``sockjs_url``
    the sockjs-client bundle ``/iframe.html`` loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zope.interface import implementer

from primus_tx.interfaces import INamedTransformer, ITransformerHost, ITransformerServer

__all__ = ["SockJS", "transformer"]


@implementer(INamedTransformer)
class SockJS:
    """
    SockJS sessions under twisted.web (Autobahn for the WebSocket
    transports) on the server, websocket/xhr-streaming/xhr-polling in the
    Python client, and a small SockJS client of our own in the browser.
    """

    name = "sockjs"
    #: SockJS frames are JSON text: binary parsers cannot use it.
    text_only = True

    def server(self, host: ITransformerHost) -> ITransformerServer:
        from primus_tx.transformers.sockjs.server import SockJSServer

        return SockJSServer(host)

    def client(self) -> Any:
        from primus_tx.transformers.sockjs.client import SockJSClientTransport

        return SockJSClientTransport

    def library(self) -> str:
        return (Path(__file__).parent / "client.js").read_text("utf-8")


transformer = SockJS()
