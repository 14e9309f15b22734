"""
The demo application ``twistd -n primus`` serves when no ``--app`` is given:
a chat page at ``/`` with several rooms and who is in them, built on the
``rooms`` and ``emitter`` plugins (every message is acknowledged, and the
page shows to how many people it was delivered), that also shows what the
browser client is doing (connection state, reconnect attempts and
back-off, round-trip time).

It doubles as a manual test bench: stop the server, or take the browser
offline, and watch the client back off, buffer and come back.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from twisted.internet.defer import succeed
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request

from primus_tx._defaults import PATHNAME

__all__ = ["ROOMS", "chat", "demo_root"]

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


#: The demo's rooms; a client is in one of them at a time.
ROOMS = ("lobby", "python", "javascript", "random")


def chat(primus: Any) -> Any:
    """
    The server half of the demo, on the ``emitter`` and ``rooms`` plugins
    (added here if the server does not have them yet).

    The page speaks in emitter events, each acknowledged:

    * ``hello(name)`` sets the visitor's name; the ack is ``{"id", "rooms"}``.
    * ``join(room)`` leaves the current room for ``room``; the ack is
      ``{"room", "users"}``, and the members of both rooms get a fresh
      ``users(room, names)``.
    * ``say(text)`` sends ``message({"room", "from", "name", "text", "at"})``
      to the sender's room, the sender included; the ack is
      ``{"delivered": <sparks reached>, "at": <ms>}``, which the page shows.
    * ``ping(t)`` is acknowledged with ``t``: the page's round-trip time.

    Everyone gets ``rooms({room: members})`` and ``presence(count)`` when
    they change.

    :return: ``primus``, so ``chat(Primus(site))`` reads naturally.
    """
    primus.plugin("emitter")
    primus.plugin("rooms")
    names: dict[str, str] = {}
    where: dict[str, str] = {}

    def counts() -> dict[str, int]:
        return {room: sum(1 for r in where.values() if r == room) for room in ROOMS}

    def announce(*rooms: str) -> None:
        for room in rooms:
            users = sorted(names.get(i, "?") for i, r in where.items() if r == room)
            primus.room(room).send("users", room, users)
        primus.send("rooms", counts())

    def connection(spark: Any) -> None:
        names[spark.id] = "guest"

        def hello(name: Any) -> dict[str, Any]:
            names[spark.id] = str(name or "anonymous")[:24]
            room = where.get(spark.id)
            if room is not None:
                announce(room)
            return {"id": spark.id, "rooms": list(ROOMS)}

        def join(room: Any) -> Any:
            if room not in ROOMS:
                return {"error": f"no room {room!r}"}
            previous = where.get(spark.id)

            def joined(_: Any) -> dict[str, Any]:
                where[spark.id] = room
                announce(*([previous, room] if previous and previous != room else [room]))
                users = sorted(names.get(i, "?") for i, r in where.items() if r == room)
                return {"room": room, "users": users}

            left = spark.leave(previous) if previous else succeed(None)
            return left.addCallback(lambda _: spark.join(room)).addCallback(joined)

        def say(text: Any) -> Any:
            room = where.get(spark.id)
            if room is None:
                return {"error": "join a room first"}
            at = int(time.time() * 1000)
            message = {
                "room": room, "from": spark.id, "name": names.get(spark.id, "?"),
                "text": str(text)[:500], "at": at,
            }
            return primus.room(room).send("message", message).addCallback(
                lambda delivered: {"delivered": delivered, "at": at}
            )

        spark.on("hello", hello)
        spark.on("join", join)
        spark.on("say", say)
        spark.on("ping", lambda sent: sent)
        primus.send("presence", primus.connected)
        spark.send("rooms", counts())

    def disconnection(spark: Any) -> None:
        names.pop(spark.id, None)
        room = where.pop(spark.id, None)
        if room is not None:
            announce(room)
        primus.send("presence", primus.connected)

    primus.on("connection", connection)
    primus.on("disconnection", disconnection)
    return primus
