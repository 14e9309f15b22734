"""
The demo application ``twistd -n primus`` serves when no ``--app`` is given:
a chat page at ``/`` that shows what the browser client is doing
(connection state, reconnect attempts and back-off, round-trip time) and
the few lines of server code behind it.

It doubles as a manual test bench: stop the server, or take the browser
offline, and watch the client back off, buffer and come back.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from twisted.web.resource import IResource, Resource
from twisted.web.server import Request

from primus_tx._defaults import PATHNAME

__all__ = ["chat", "demo_root"]

_HERE = Path(__file__).parent
_FILES = {
    b"demo.css": "text/css; charset=utf-8",
    b"demo.js": "text/javascript; charset=utf-8",
}


class _Asset(Resource):
    """
    One file held in memory (twisted.web.static pulls in deprecated error
    pages, and these files are a few kilobytes).
    """

    isLeaf = True

    def __init__(self, body: bytes, content_type: str) -> None:
        super().__init__()
        self._body = body
        self._type = content_type.encode("ascii")

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", self._type)
        request.setHeader(b"content-length", str(len(self._body)).encode("ascii"))
        return self._body

    def render_HEAD(self, request: Request) -> bytes:
        self.render_GET(request)
        return b""


def demo_root(pathname: str = PATHNAME) -> IResource:
    """
    The demo site's root resource: ``/`` (the chat page), ``/demo.css`` and
    ``/demo.js``.  Give it to a ``Site`` before attaching the Primus, which
    then serves ``<pathname>/primus.js`` itself.

    :param pathname: the Primus pathname the page loads its client from.
    """
    root = Resource()
    page = (_HERE / "index.html").read_text("utf-8")
    page = page.replace('src="primus/primus.js"', f'src="{pathname.rstrip("/")}/primus.js"')
    root.putChild(b"", _Asset(page.encode("utf-8"), "text/html; charset=utf-8"))
    for name, content_type in _FILES.items():
        root.putChild(name, _Asset((_HERE / name.decode()).read_bytes(), content_type))
    return root


def _presence(primus: Any) -> None:
    primus.write({"type": "presence", "count": primus.connected})


def chat(primus: Any) -> Any:
    """
    The server half of the demo: every message a client sends is broadcast
    to every client, the sender included (so one tab alone sees its echo),
    wrapped as ``{"type": "message", "from": <spark id>, "at": <ms>,
    "data": <message>}``.  ``{"type": "latency", ...}`` messages are the
    page's round-trip probes and go back to the sender only, unchanged.
    Everyone is told how many people are connected when that changes.

    :return: ``primus``, so ``chat(Primus(site))`` reads naturally.
    """

    def connection(spark: Any) -> None:
        def received(data: Any, *raw: Any) -> None:
            if isinstance(data, dict) and data.get("type") == "latency":
                spark.write(data)
                return
            primus.write(
                {"type": "message", "from": spark.id, "at": int(time.time() * 1000), "data": data}
            )

        spark.on("data", received)
        _presence(primus)

    primus.on("connection", connection)
    primus.on("disconnection", lambda spark: _presence(primus))
    return primus
