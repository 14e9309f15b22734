"""
Native latency (what primus-spark-latency tried to be, built in): ``spark.latency`` from the heartbeat's round trip and the
Python client's ``socket.latency`` from its own round trips, with no
plugin and no extra message.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted
from client_fakes import Harness
from fakes import FakeTransformer, connect, make_primus
from twisted.internet.task import deferLater
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import Primus


def test_spark_latency_is_the_heartbeat_round_trip() -> None:
    primus, clock = make_primus(transformer=FakeTransformer(), ping_interval=10)
    spark, conn = connect(primus)
    assert spark.latency is None
    clock.advance(10)
    ping = json.loads(conn.sent[-1])
    assert ping.startswith("primus::ping::")
    token = ping.rsplit("::", 1)[1]
    clock.advance(0.25)
    # a forged or stale pong proves the client alive but measures nothing
    spark.messageReceived(json.dumps("primus::pong::12345"))
    assert spark.latency is None and spark.alive
    spark.messageReceived(json.dumps(f"primus::pong::{token}"))
    assert spark.latency == pytest.approx(0.25)
    clock.advance(9.75)
    clock.advance(0.5)
    spark.messageReceived(json.dumps(f"primus::pong::{json.loads(conn.sent[-1]).rsplit('::', 1)[1]}"))
    assert spark.latency == pytest.approx(0.5)
    assert len(conn.sent) == 2  # nothing but the two pings was sent
    spark.end()


def test_client_latency_from_the_opening_handshake() -> None:
    h = Harness()
    assert h.socket.latency is None
    h.clock.advance(0)
    h.clock.advance(0.2)
    h.transport.accept()
    assert h.socket.latency == pytest.approx(0.2)
    d = h.socket.id()
    h.clock.advance(0.05)
    h.transport.receive("primus::id::abc")
    assert h.socket.latency == pytest.approx(0.05)
    assert d.result == "abc"
    h.socket.end()


@pytest_twisted.ensureDeferred
async def test_latency_on_loopback(reactor: Any) -> None:
    site = Site(Resource())
    primus = Primus(site, reactor=reactor, ping_interval=0.05)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    sparks: list[Any] = []
    primus.on("connection", sparks.append)
    socket = None
    try:
        socket = await primus.Socket.connect(
            f"http://127.0.0.1:{port.getHost().port}", reactor=reactor
        )
        assert socket.latency is not None and 0 <= socket.latency < 5
        for _ in range(100):
            if sparks and sparks[0].latency is not None:
                break
            await deferLater(reactor, 0.02, lambda: None)
        assert sparks[0].latency is not None and 0 <= sparks[0].latency < 5
    finally:
        if socket is not None:
            await socket.end()
        await primus.destroy()
        await port.stopListening()
