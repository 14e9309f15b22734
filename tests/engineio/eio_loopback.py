"""
A real engine.io server on 127.0.0.1 (port 0) for loopback and interop
tests, with every resource released by :meth:`LiveEngine.stop`.
"""

from __future__ import annotations

from typing import Any

import treq
from twisted.internet.defer import Deferred
from twisted.web.client import HTTPConnectionPool
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import Primus
from primus_tx.transformers.engineio.passthrough import passthrough


class LiveEngine:
    """
    An echo server: what a spark receives it writes back.
    """

    def __init__(self, reactor: Any, **options: Any) -> None:
        self.reactor = reactor
        transport = {"ping_interval": 0.3, "ping_timeout": 0.2, "max_payload": 1000000}
        transport.update(options.pop("transport", {}))
        options.setdefault("parser", passthrough)
        options.setdefault("ping_interval", 0)
        options.setdefault("pathname", "/engine.io")
        self.site = Site(Resource())
        self.primus = Primus(self.site, reactor=reactor, transformer="engine.io", transport=transport, **options)
        self.server = self.primus._server
        self.sparks: list[Any] = []
        self.data: list[Any] = []
        self.primus.on("connection", self._connection)
        self.port = reactor.listenTCP(0, self.site, interface="127.0.0.1")
        self.pool = HTTPConnectionPool(reactor, persistent=False)

    def _connection(self, spark: Any) -> None:
        self.sparks.append(spark)
        spark.on("data", self.data.append)
        spark.on("data", spark.write)

    @property
    def number(self) -> int:
        return self.port.getHost().port

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.number}"

    def url(self, transport: str = "polling", sid: str = "") -> str:
        url = f"{self.base}{self.primus.pathname}/?EIO=4&transport={transport}"
        return url + (f"&sid={sid}" if sid else "")

    async def fetch(self, method: str, url: str, body: bytes = b"") -> tuple[int, bytes]:
        response = await treq.request(
            method, url, data=body if method != "GET" else None, pool=self.pool, reactor=self.reactor
        )
        content = await treq.content(response)
        return response.code, content

    async def handshake(self) -> str:
        import json

        status, body = await self.fetch("GET", self.url())
        assert status == 200, body
        return json.loads(body.decode().split("\x1e")[0][1:])["sid"]

    async def stop(self) -> None:
        await self.primus.destroy()
        await self.pool.closeCachedConnections()
        await self.port.stopListening()
        d: Deferred[None] = Deferred()
        self.reactor.callLater(0.05, d.callback, None)
        await d
