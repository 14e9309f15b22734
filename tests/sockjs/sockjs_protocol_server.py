"""
The four services the official SockJS 0.3.3 protocol suite
(sockjs/sockjs-protocol ``sockjs-protocol.py``) expects on one HTTP server,
built from plain Primus servers with the ``sockjs`` transformer, a
pass-through parser and no Primus heartbeat, so each one is a plain SockJS
service:

    /echo                     echo, streaming responses end after 4096 characters
    /close                    every session is closed at once with c[3000,"Go away!"]
    /disabled_websocket_echo  echo, websocket transports off
    /cookie_needed_echo       echo, JSESSIONID cookies

Run: ``python tests/sockjs/sockjs_protocol_server.py [--port 8081]`` (prints
``PORT <n>`` once it listens), then ``SOCKJS_URL=http://localhost:8081
python sockjs-protocol.py``.  The tests import :func:`build_site`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Site
from zope.interface import implementer

from primus_tx import Primus
from primus_tx.interfaces import IParser


@implementer(IParser)
class PassThrough:
    """
    A parser whose messages are the values themselves: SockJS messages are
    strings, and the application sees exactly what the client sent.
    """

    name = "passthrough"
    binary = False

    def encode(self, data: Any) -> Any:
        return data

    def decode(self, message: Any) -> Any:
        return message

    def library(self) -> str:
        return (
            "function encoder(data, fn) { fn(undefined, data); }\n"
            "function decoder(data, fn) { fn(undefined, data); }\n"
        )


def _echo(spark: Any) -> None:
    spark.on("data", spark.write)


def _close(spark: Any) -> None:
    spark.socket.close(code=3000, reason="Go away!")


SERVICES: dict[str, tuple[dict[str, Any], Any]] = {
    "/echo": ({"response_limit": 4096}, _echo),
    "/close": ({}, _close),
    "/disabled_websocket_echo": ({"websocket": False}, _echo),
    "/cookie_needed_echo": ({"cookie_needed": True}, _echo),
}


def build_site(reactor: Any = None, **transport: Any) -> tuple[Site, list[Primus]]:
    """
    A site with the four services; ``transport`` options are added to each
    (e.g. shorter delays in tests).
    """
    site = Site(Resource(), reactor=reactor) if reactor is not None else Site(Resource())
    servers = []
    for pathname, (options, on_connection) in SERVICES.items():
        merged = dict(options)
        merged.update(transport)
        primus = Primus(
            site,
            pathname=pathname,
            transformer="sockjs",
            parser=PassThrough(),
            ping_interval=0,
            transport=merged,
            reactor=reactor,
        )
        primus.on("connection", on_connection)
        servers.append(primus)
    return site, servers


def main(argv: list[str]) -> None:
    from twisted.internet import reactor

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--interface", default="127.0.0.1")
    args = parser.parse_args(argv)
    site, _ = build_site()
    port = reactor.listenTCP(args.port, site, interface=args.interface)  # type: ignore[attr-defined]
    print(f"PORT {port.getHost().port}", flush=True)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main(sys.argv[1:])
