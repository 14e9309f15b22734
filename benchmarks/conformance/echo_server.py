"""
An echo server for the WebSocket conformance run: ``--engine autobahn`` is
a bare Autobahn echo (the control); any other value is a Primus with that
transformer (``uws``, ``faye``, ``websockets``) whose parser passes
messages through unchanged, so every text and binary message the testsuite
sends travels the whole Primus path (spark, events, ``spark.write``) and
comes back byte for byte.

Prints ``PORT <n>`` once it listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from zope.interface import implementer

from primus_tx.interfaces import IParser

#: The testsuite's largest messages are 16 MiB (cases 9.1.6 and 9.2.6).
MAX_LENGTH = 64 * 1024 * 1024


@implementer(IParser)
class PassThrough:
    """
    A parser that leaves messages as they are: text stays ``str``, binary
    stays ``bytes``.
    """

    name = "passthrough"
    binary = False

    def encode(self, data: object) -> str | bytes:
        return data  # type: ignore[return-value]

    def decode(self, message: str | bytes) -> object:
        return message

    def library(self) -> str:
        return (
            "function encoder(d, fn) { fn(null, d); }\nfunction decoder(d, fn) { fn(null, d); }\n"
        )


def _autobahn(port: int) -> Any:
    from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
    from twisted.internet import reactor

    class Echo(WebSocketServerProtocol):
        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            self.sendMessage(payload, isBinary)

    factory = WebSocketServerFactory()
    factory.protocol = Echo
    factory.setProtocolOptions(
        webStatus=False,
        failByDrop=False,
        closeHandshakeTimeout=1,
        maxMessagePayloadSize=MAX_LENGTH,
        maxFramePayloadSize=MAX_LENGTH,
    )
    return reactor.listenTCP(port, factory, interface="127.0.0.1")


def _primus(port: int, transformer: str) -> Any:
    from twisted.internet import reactor
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    from primus_tx import Primus

    site = Site(Resource())
    primus = Primus(
        site,
        transformer=transformer,
        parser=PassThrough(),
        ping_interval=0,
        max_length=MAX_LENGTH,
        reactor=reactor,
    )

    def connection(spark: Any) -> None:
        spark.on("data", spark.write)

    primus.on("connection", connection)
    return reactor.listenTCP(port, site, interface="127.0.0.1")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="uws")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    from twisted.internet import reactor

    if args.engine == "autobahn":
        port = _autobahn(args.port)
    else:
        port = _primus(args.port, args.engine)
    sys.stdout.write(f"PORT {port.getHost().port}\n")
    sys.stdout.flush()
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
