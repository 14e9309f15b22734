"""
The slow-client policy (``max_buffered``, ``slow_client``): a spark whose
outgoing buffer would pass the cap is ended with reconnect (or, with
``slow_client="drop"``, its writes are dropped and counted), logged and
reported with ``"slow client"``; a broadcast never buffers more than the
cap for any one spark.

First on fakes (the policy itself), then on every transformer with a
client that stops reading: a real WebSocket on loopback, and the polling
transports of Engine.IO and SockJS whose client never comes back for its
messages.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from fakes import FakeConnection, connect, make_primus
from hostile_helpers import hostile_server, wait_until

from primus_tx import Spark

CAP = 128 * 1024
KB = "k" * 1024


def _growing(connection: FakeConnection) -> None:
    """
    The fake plays a transport whose client reads nothing: every message
    stays buffered, and past 16 KiB the spark is told to pause.
    """

    def on_send(message: Any) -> None:
        connection.buffered += len(message)
        if connection.buffered > 16 * 1024 and not connection.spark._writing_paused:
            connection.pause_writing()

    connection.on_send = on_send


def _slow_events(primus: Any) -> list[tuple[Any, int, str]]:
    events: list[tuple[Any, int, str]] = []
    primus.on("slow client", lambda spark, buffered, policy: events.append((spark, buffered, policy)))
    return events


def test_the_default_policy_ends_the_spark_with_reconnect_at_the_cap():
    primus, _ = make_primus(max_buffered=CAP, ping_interval=0)
    assert make_primus()[0].options["max_buffered"] == 1048576  # the default: 1 MiB
    events = _slow_events(primus)
    spark, connection = connect(primus)
    _growing(connection)
    ended = []
    spark.on("end", lambda: ended.append(True))
    for _ in range(200):
        spark.write(KB)
    assert ended == [True] and connection.closes == [True]  # reconnect: no server::close
    assert "primus::server::close" not in "".join(connection.sent)
    assert connection.buffered <= CAP
    assert [(s, p) for s, _, p in events] == [(spark, "end")]
    assert events[0][1] + len('"' + KB + '"') > CAP
    assert primus.connected == 0


def test_the_drop_policy_drops_and_counts_and_reports_once_per_episode():
    primus, _ = make_primus(max_buffered=CAP, slow_client="drop", ping_interval=0)
    events = _slow_events(primus)
    spark, connection = connect(primus)
    _growing(connection)
    results = [spark.write(KB) for _ in range(400)]
    assert connection.buffered <= CAP
    assert spark.dropped == 400 - len(connection.sent) > 200
    assert results[-1] is False and primus.connected == 1
    assert len(events) == 1
    # The client catches up: writes flow again, and a new episode is reported.
    connection.buffered = 0
    connection.resume_writing()
    spark.write("after")
    assert connection.sent[-1] == '"after"'
    for _ in range(200):
        spark.write(KB)
    assert len(events) == 2


def test_a_broadcast_never_buffers_more_than_the_cap_for_any_spark():
    primus, _ = make_primus(max_buffered=CAP, ping_interval=0)
    events = _slow_events(primus)
    slow, slow_connection = connect(primus)
    _growing(slow_connection)
    fast, fast_connection = connect(primus)
    for _ in range(200):
        primus.write(KB)
        # The fake counts sendPrepared too (prepared broadcasts unwrapped).
        slow_connection.buffered = sum(len(m) for m in slow_connection.sent)
        if slow_connection.buffered > 16 * 1024 and not slow._writing_paused and slow.ready_state == slow.OPEN:
            slow_connection.pause_writing()
        assert slow_connection.buffered <= CAP
    assert slow.ready_state == slow.CLOSED and fast.ready_state == fast.OPEN
    assert len(fast_connection.sent) == 200
    assert [s for s, _, _ in events] == [slow]


def test_no_cap_when_disabled_and_no_check_while_the_transport_keeps_up():
    primus, _ = make_primus(max_buffered=0, ping_interval=0)
    spark, connection = connect(primus)
    _growing(connection)
    for _ in range(200):
        spark.write(KB)
    assert len(connection.sent) == 200 and spark.dropped == 0

    primus, _ = make_primus(max_buffered=CAP, ping_interval=0)
    spark, connection = connect(primus)
    calls = []
    connection.bufferedAmount = lambda: calls.append(1) or 0  # type: ignore[method-assign]
    for _ in range(100):
        spark.write(KB)
    assert calls == []  # the hot path never asks


# -- every transformer, with a client that reads nothing -----------------------------


_WS_PATHS = {
    "websockets": "/primus",
    "faye": "/primus",
    "engine.io": "/primus/?EIO=4&transport=websocket",
    "sockjs": "/primus/websocket",
}


@pytest.mark.parametrize("transformer", sorted(_WS_PATHS))
@pytest_twisted.ensureDeferred
async def test_a_websocket_client_that_stops_reading_is_ended(reactor, transformer):
    async with hostile_server(
        reactor, transformer=transformer, max_buffered=256 * 1024, ping_interval=0
    ) as h:
        events = _slow_events(h.primus)
        path = _WS_PATHS[transformer]
        good = await h.ws(path)
        stuck = await h.ws(path)
        stuck.tcp.pauseProducing()  # stop reading: the kernel buffers fill
        spark = h.spark_of(-1)
        peak = 0
        for _ in range(50000):  # ~50 MB at most: more than any kernel holds
            if spark.ready_state != spark.OPEN:
                break
            spark.write(KB)
            peak = max(peak, spark.socket.bufferedAmount())
        assert spark.ready_state == spark.CLOSED
        assert peak <= 256 * 1024 + 2048
        assert [(s, p) for s, _, p in events] == [(spark, "end")]
        stuck.tcp.resumeProducing()  # reading again, it finds the connection cut
        await wait_until(reactor, lambda: stuck.lost, 2.0, "the slow client to be cut")
        assert not good.lost and h.spark_of(0).ready_state == Spark.OPEN


def test_sockjs_polling_a_client_that_never_polls_is_ended():
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    from primus_tx import Primus

    clock = Clock()
    site = Site(Resource(), reactor=clock)
    primus = Primus(site, reactor=clock, transformer="sockjs", ping_interval=0, max_buffered=CAP)
    clock.advance(0)
    events = _slow_events(primus)
    sparks: list[Any] = []
    primus.on("connection", sparks.append)
    transport = StringTransport()
    channel = site.buildProtocol(None)
    channel.makeConnection(transport)
    channel.dataReceived(b"POST /primus/000/s1/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert b"\r\no\n\r\n" in transport.value()
    spark = sparks[0]
    session = primus._server.sessions["s1"]
    for _ in range(500):
        if spark.ready_state != spark.OPEN:
            break
        spark.write(KB)
        assert session.bufferedAmount() <= CAP
    assert spark.ready_state == spark.CLOSED and len(events) == 1
    primus.destroy()
    clock.advance(60)
    assert primus._server is None or primus._server.sessions == {}


def test_browserchannel_a_client_that_never_acknowledges_is_ended():
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    from primus_tx import Primus

    clock = Clock()
    site = Site(Resource(), reactor=clock)
    primus = Primus(site, reactor=clock, transformer="browserchannel", ping_interval=0, max_buffered=CAP)
    clock.advance(0)
    events = _slow_events(primus)
    sparks: list[Any] = []
    primus.on("connection", sparks.append)
    transport = StringTransport()
    channel = site.buildProtocol(None)
    channel.makeConnection(transport)
    body = b"count=0"
    channel.dataReceived(
        b"POST /primus/bind?VER=8&RID=1 HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\n" + body
    )
    assert b'"c"' in transport.value()
    spark = sparks[0]
    session = primus._server.sessions[spark.id]
    # what is sent stays buffered until acknowledged (AID), which never comes
    for _ in range(500):
        if spark.ready_state != spark.OPEN:
            break
        spark.write(KB)
        assert session.bufferedAmount() <= CAP
    assert spark.ready_state == spark.CLOSED and len(events) == 1
    primus.destroy()
    clock.advance(60)
    assert primus._server is None or primus._server.sessions == {}
