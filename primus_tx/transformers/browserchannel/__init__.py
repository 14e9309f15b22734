"""
The ``browserchannel`` transformer: Google's BrowserChannel protocol
(version 8), as the npm ``browserchannel`` 2.x server speaks it, so that
Node's ``BCSocket`` and the official Primus client with
``transformer: 'browserchannel'`` connect unmodified.

Options go in Primus's ``transport`` dict (durations in seconds):

``keep_alive_interval`` (``20.0``)
    a ``["noop"]`` array is sent on an attached back channel this often.
``session_timeout_interval`` (``30.0``)
    how long a session with no back channel survives.
``test_delay`` (``2.0``)
    the pause between the two phases of the test channel's stream.
``headers`` (``None``)
    a dict of response headers added to (or replacing) the standard ones.

BrowserChannel carries text (JSON arrays and URL-encoded maps): binary
parsers are refused when the server is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zope.interface import implementer

from primus_tx.interfaces import INamedTransformer, ITransformerHost, ITransformerServer

__all__ = ["BrowserChannel", "transformer"]


@implementer(INamedTransformer)
class BrowserChannel:
    """
    BrowserChannel sessions under twisted.web on the server, and a
    BrowserChannel client of our own in Python (treq) and in the browser.
    """

    name = "browserchannel"
    #: Forward-channel maps are URL-encoded text and back-channel arrays
    #: JSON text: binary parsers cannot use it.
    text_only = True

    def server(self, host: ITransformerHost) -> ITransformerServer:
        from primus_tx.transformers.browserchannel.server import BrowserChannelServer

        return BrowserChannelServer(host)

    def client(self) -> Any:
        from primus_tx.transformers.browserchannel.client import BrowserChannelClientTransport

        return BrowserChannelClientTransport

    def library(self) -> str:
        return (Path(__file__).parent / "client.js").read_text("utf-8")


transformer = BrowserChannel()
