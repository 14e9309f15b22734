"""
python-socketio on aiohttp, the Python real-time server users compare us
with: the event ``"message"`` is emitted back to its sender.  Its own
Engine.IO heartbeat runs with ``ping_interval`` = ``--ping``.

A message ``{"broadcast": x}`` is emitted to everyone instead (S3); with
``--redis`` the server is one node of several sharing python-socketio's
Redis manager, and the broadcast reaches every node's clients (S7).

With ``--rooms`` (S6), python-socketio's own rooms: ``{"join": room}``
enters the room and is answered with ``{"joined": room}``;
``{"broadcast": x, "room": r}`` emits to room ``r`` and ``{"broadcast": x,
"rooms": [...]}`` to those rooms (each member once).
"""

from __future__ import annotations

import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import announce, arguments, raise_fd_limit


def main() -> None:
    args = arguments(__doc__ or "", rooms=True)
    raise_fd_limit()
    import asyncio

    import socketio
    from aiohttp import web

    ping = args.ping if args.ping > 0 else 1e6
    manager = socketio.AsyncRedisManager(args.redis) if args.redis else None
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        ping_interval=ping,
        ping_timeout=max(ping, 20),
        max_http_buffer_size=10_000_000,
    )
    app = web.Application()
    sio.attach(app)

    @sio.on("message")
    async def message(sid: str, data: Any) -> None:
        if type(data) is dict and "broadcast" in data:
            if args.rooms and "room" in data:
                await sio.emit("message", data["broadcast"], to=data["room"])
            elif args.rooms and "rooms" in data:
                await sio.emit("message", data["broadcast"], to=data["rooms"])
            else:
                await sio.emit("message", data["broadcast"])
        elif args.rooms and type(data) is dict and "join" in data:
            await sio.enter_room(sid, data["join"])
            await sio.emit("message", {"joined": data["join"]}, to=sid)
        else:
            await sio.emit("message", data, to=sid)

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=args.backlog)
        await site.start()
        server = site._server
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        announce(port)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
