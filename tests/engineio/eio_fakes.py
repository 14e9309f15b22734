"""
Fakes for the engine.io transformer's unit tests: a Primus on a ``Clock``
mounted at ``/engine.io`` and driven through ``treq.testing.StubTreq``,
configured as the official protocol test-suite expects (an echo server,
300 ms / 200 ms heartbeat, 1000000-byte payloads).
"""

from __future__ import annotations

from typing import Any, Optional

from treq.testing import StubTreq
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.web.resource import Resource

from primus_tx import Primus
from primus_tx.transformers.engineio.passthrough import passthrough

BASE = "http://127.0.0.1/engine.io/?EIO=4&transport=polling"

_NOTHING = object()


def result(d: Deferred[Any]) -> Any:
    """
    The result of a Deferred that must have fired already.
    """
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, "the Deferred has not fired"
    if isinstance(box[0], Failure):
        box[0].raiseException()
    return box[0]


def pending(d: Deferred[Any]) -> bool:
    box: list[Any] = []
    d.addBoth(lambda r: box.append(r) or r)
    return not box


class Engine:
    """
    One echo server and a StubTreq client for it.
    """

    def __init__(self, echo: bool = True, **options: Any) -> None:
        self.echo = echo
        self.clock = Clock()
        self.root = Resource()
        transport = {"ping_interval": 0.3, "ping_timeout": 0.2, "max_payload": 1000000}
        transport.update(options.pop("transport", {}))
        options.setdefault("parser", passthrough)
        options.setdefault("ping_interval", 0)
        self.primus = Primus(
            self.root,
            reactor=self.clock,
            pathname="/engine.io",
            transformer="engine.io",
            transport=transport,
            **options,
        )
        self.sparks: list[Any] = []
        self.data: list[Any] = []
        self.ended: list[Any] = []
        self.errors: list[Any] = []
        self.primus.on("connection", self._connection)
        self.clock.advance(0)
        self.st = StubTreq(self.root)

    def _connection(self, spark: Any) -> None:
        self.sparks.append(spark)
        spark.on("data", self.data.append)
        spark.on("error", self.errors.append)
        spark.on("end", lambda: self.ended.append(spark))
        if self.echo:
            spark.on("data", spark.write)

    @property
    def server(self) -> Any:
        return self.primus._server

    # -- requests ------------------------------------------------------------

    def url(self, sid: Optional[str] = None, **query: str) -> str:
        url = BASE
        if sid is not None:
            url += "&sid=" + sid
        for key, value in query.items():
            url += f"&{key}={value}"
        return url

    def request(self, method: str, url: str, body: Optional[bytes] = None, headers: Any = None) -> Deferred[Any]:
        d = self.st.request(method, url, data=body, headers=headers)
        self.st.flush()
        return d

    def answer(self, d: Deferred[Any]) -> tuple[int, bytes, Any]:
        """
        Status, body and headers of a request that must have been answered.
        """
        self.st.flush()
        response = result(d)
        content = result(self.st.content(response))
        return response.code, content, response.headers

    def call(self, method: str, url: str, body: Optional[bytes] = None, headers: Any = None) -> tuple[int, bytes, Any]:
        return self.answer(self.request(method, url, body, headers))

    def handshake(self) -> tuple[str, dict[str, Any]]:
        import json

        status, body, _ = self.call("GET", self.url())
        assert status == 200, body
        text = body.decode("utf-8").split("\x1e")[0]
        assert text.startswith("0"), text
        info = json.loads(text[1:])
        return info["sid"], info

    def post(self, sid: str, body: bytes) -> tuple[int, bytes, Any]:
        return self.call("POST", self.url(sid), body)

    def get(self, sid: str) -> Deferred[Any]:
        return self.request("GET", self.url(sid))

    def assert_clean(self) -> None:
        """
        No session left in the registry and no timer scheduled by the
        transformer or Primus.
        """
        assert self.server.sessions == {}
        assert self.primus.connections == {}
        assert [c for c in self.clock.getDelayedCalls() if c.active()] == []
