"""
The ceiling of our stack: a bare Autobahn ``WebSocketServerFactory`` on
its own port whose protocol decodes every message with orjson and encodes
the value back, as primus-tx's JSON parser does (orjson, because that is
the codec primus-tx uses on CPython; a stdlib-json ceiling would flatter
us).  No Primus protocol, no heartbeat, no twisted.web.

A message ``{"broadcast": x}`` is sent to every connection instead (S3),
framed once with ``prepareMessage`` as primus-tx's broadcast does.
"""

from __future__ import annotations

import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import announce, arguments, raise_fd_limit


def main() -> None:
    args = arguments(__doc__ or "")
    raise_fd_limit()
    import orjson
    from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
    from twisted.internet import reactor

    loads = orjson.loads
    dumps = orjson.dumps
    clients: set[Any] = set()

    class Echo(WebSocketServerProtocol):
        def onOpen(self) -> None:
            clients.add(self)

        def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:
            clients.discard(self)

        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            value = loads(payload)
            if type(value) is dict and "broadcast" in value:
                prepared = self.factory.prepareMessage(dumps(value["broadcast"]), False)
                for client in list(clients):
                    client.sendPreparedMessage(prepared)
            else:
                self.sendMessage(dumps(value), False)

    factory = WebSocketServerFactory()
    factory.protocol = Echo
    factory.setProtocolOptions(webStatus=False, failByDrop=False, closeHandshakeTimeout=1)
    port = reactor.listenTCP(args.port, factory, backlog=args.backlog, interface="127.0.0.1")
    announce(port.getHost().port)  # type: ignore[attr-defined]
    reactor.run()


if __name__ == "__main__":
    main()
