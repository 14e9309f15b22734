"""
primus-tx under test: a Primus on a plain twisted.web Site, JSON parser
unless ``--parser`` names another (``msgpack``, ``binary``), and the echo
application ``spark.on("data", spark.write)``; the websockets transformer
unless ``--transformer`` names another (``engine.io``, ``sockjs``,
``browserchannel``) so the transformers and parsers are measured on the same
application; ``--metrics`` adds the metrics plugin, to measure what counting
every message costs.

A message ``{"broadcast": x}`` is written to every spark instead (S3);
with ``--redis`` the server is one node of a cluster (the cluster plugin)
and the broadcast reaches every node's sparks (S7).

With ``--rooms`` the ``rooms`` plugin is loaded (S6): ``{"join": room}``
puts the spark in the room and is answered with ``{"joined": room}``;
``{"broadcast": x, "room": r}`` writes ``x`` to room ``r`` and
``{"broadcast": x, "rooms": [...]}`` to those rooms (each member once).
"""

from __future__ import annotations

import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import announce, arguments, raise_fd_limit


def _trace_on_signal(prefix: str) -> None:
    """
    Memory diagnosis: trace allocations, and dump a snapshot to
    ``<prefix>.<n>`` on every SIGUSR1 (compare two with
    ``tracemalloc.Snapshot.load(...).compare_to(...)``).
    """
    import signal
    import tracemalloc

    tracemalloc.start(4)
    count = [0]

    def dump(signum: int, frame: Any) -> None:
        count[0] += 1
        tracemalloc.take_snapshot().dump(f"{prefix}.{count[0]}")

    signal.signal(signal.SIGUSR1, dump)


def main() -> None:
    args = arguments(__doc__ or "", tracemalloc=True, transformer=True, rooms=True, metrics=True)
    raise_fd_limit()
    if args.tracemalloc:
        _trace_on_signal(args.tracemalloc)
    from twisted.internet import reactor
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    from primus_tx import Primus

    site = Site(Resource())
    site.displayTracebacks = False
    port = reactor.listenTCP(
        args.port,
        site,  # type: ignore[arg-type]
        backlog=args.backlog,
        interface="127.0.0.1",
    )
    number = port.getHost().port  # type: ignore[attr-defined]
    plugins: dict[str, Any] = {name: name for name in (["rooms"] if args.rooms else []) + (["cluster"] if args.redis else [])}
    if args.metrics:
        from primus_tx.plugins.metrics import MetricsPlugin

        plugins["metrics"] = MetricsPlugin(path="/metrics")
    cluster: dict[str, Any] = {}
    if args.redis:
        cluster = {
            "cluster": {
                "redis": args.redis,
                "password": "benchmark",
                "address": f"http://127.0.0.1:{number}",
            },
        }
    primus: Any = Primus(
        site,
        transformer=args.transformer,
        parser=args.parser,
        ping_interval=args.ping,
        reactor=reactor,
        plugin=plugins or None,
        **cluster,
    )

    def connection(spark: Any) -> None:
        write = spark.write

        def data(message: Any) -> None:
            if type(message) is dict and "broadcast" in message:
                if "room" in message:
                    primus.room(message["room"]).write(message["broadcast"])
                elif "rooms" in message:
                    primus.room(message["rooms"]).write(message["broadcast"])
                else:
                    primus.write(message["broadcast"])
            elif type(message) is dict and "join" in message:
                room = message["join"]
                spark.join(room).addCallback(lambda _: write({"joined": room}))
            else:
                write(message)

        spark.on("data", data)

    primus.on("connection", connection)
    announce(number)
    reactor.run()


if __name__ == "__main__":
    main()
