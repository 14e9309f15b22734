"""
Hostile clients that attack with time and numbers rather than bytes: a
slow-loris upgrade, a client that stops reading while the server writes, a
client that goes silent, and a flood of connect/disconnect cycles.

The point of each is that one client's behaviour costs the others nothing
(a well-behaved client keeps its echo) and that the server ends up exactly
where it started: no sparks, no file descriptors, no timers.
"""

from __future__ import annotations

import pytest_twisted
from hostile_helpers import (
    OP_TEXT,
    connect_raw,
    connect_ws,
    frame,
    hostile_server,
    open_fds,
    sleep,
    upgrade_request,
    wait_until,
)
from twisted.internet.defer import ensureDeferred, gatherResults
from twisted.internet.task import deferLater


@pytest_twisted.ensureDeferred
async def test_slow_loris_upgrade_does_not_block_others(reactor):
    """
    The upgrade request arrives one byte at a time.  Meanwhile an existing
    client keeps its echo and a new client connects and upgrades; the slow
    one gets its connection in the end.
    """
    request = upgrade_request(extra=(("User-Agent", "slow/1.0"),))
    async with hostile_server(reactor) as h:
        good = await h.ws()
        slow = await h.raw()
        for index in range(len(request) - 1):
            slow.send(request[index : index + 1])
            await deferLater(reactor, 0.002, lambda: None)
            if index == len(request) // 3:
                await h.echo_round_trip(good, "while the loris crawls")
            if index == 2 * len(request) // 3:
                newcomer = await h.ws()
                await h.echo_round_trip(newcomer, "newcomer")
        await sleep(reactor, 0.05)
        assert len(h.sparks) == 2 and slow.received == b""
        slow.send(request[-1:])
        await wait_until(reactor, lambda: slow.http_head() is not None, 2.0, "the 101")
        assert slow.status_code() == 101
        await wait_until(reactor, lambda: len(h.sparks) == 3, 2.0, "the slow spark")
        assert h.spark_of(-1).headers["user-agent"] == "slow/1.0"
        await h.echo_round_trip(good)


@pytest_twisted.ensureDeferred
async def test_slow_loris_that_never_finishes_is_timed_out(reactor):
    """
    Half a request and then nothing: the site's idle timeout closes it (a
    short one here) without a spark, and nobody else notices.
    """
    async with hostile_server(reactor) as h:
        h.site.timeOut = 0.3
        good = await h.ws()
        slow = await h.raw()
        slow.send(upgrade_request()[:40])
        await slow.wait_lost(reactor, timeout=3.0)
        assert len(h.sparks) == 1
        await h.echo_round_trip(good)


@pytest_twisted.ensureDeferred
async def test_client_that_stops_reading(reactor):
    """
    The server writes to a client that has stopped reading: ``write()``
    starts returning ``False``, ``"drain"`` stops coming once every buffer
    on the way is full, memory stays bounded by the writer honouring that,
    the other client is served all along, and when the slow client reads
    again it gets every message, in order, and ``"drain"`` follows.
    """
    chunk = "y" * 32768
    async with hostile_server(reactor) as h:
        good = await h.ws()
        slow = await h.ws()
        spark = h.spark_of(-1)
        slow.tcp.pauseProducing()

        state = {"written": 0, "refused": 0, "drains": 0}
        cap = 4000  # 128 MB: reaching it means there is no backpressure at all

        def pump():
            while state["written"] < cap:
                state["written"] += 1
                if not spark.write(f"{state['written']}:{chunk}"):
                    state["refused"] += 1
                    return

        def drained():
            state["drains"] += 1
            pump()

        spark.on("drain", drained)
        pump()
        assert state["refused"] == 1, "write() never returned False"

        # Let the kernel buffers fill: drains stop once the client is full.
        previous = -1
        while previous != state["drains"]:
            previous = state["drains"]
            await sleep(reactor, 0.2)
        assert state["written"] < cap, "write() kept accepting data for a client that reads nothing"
        assert spark.socket.bufferedAmount() > 0
        stalled_at = state["written"]

        await h.echo_round_trip(good, "served meanwhile")
        assert state["written"] == stalled_at

        spark.off("drain", drained)
        late_drains = []
        spark.on("drain", lambda: late_drains.append(True))
        slow.tcp.resumeProducing()
        await wait_until(
            reactor,
            lambda: len(slow.messages) >= stalled_at,
            5.0,
            "every message to reach the slow client",
        )
        expected = [f'"{n}:{chunk}"' for n in range(1, stalled_at + 1)]
        assert slow.user_texts() == expected
        await wait_until(reactor, lambda: late_drains, 2.0, "drain")
        assert spark.write("and now?") is True


@pytest_twisted.ensureDeferred
async def test_silent_client_is_dropped_by_the_heartbeat(reactor):
    """
    A client that never answers a ping is ended at the tick after the
    unanswered ping, with a bare close (no ``primus::server::close``, so it
    would reconnect), while a client that answers stays.
    """
    async with hostile_server(reactor, ping_interval=0.2) as h:
        good = await h.ws()
        silent = await h.ws()
        silent.auto_pong = False
        spark = h.spark_of(-1)
        await wait_until(reactor, lambda: spark in h.ended, 3.0, "the silent spark to end")
        await wait_until(reactor, lambda: silent.close_received, 2.0, "the close frame")
        assert silent.close_code is None  # a close frame with no status code
        assert any(t.startswith('"primus::ping::') for t in silent.texts())
        assert '"primus::server::close"' not in silent.texts()
        assert h.errors_of(spark) == []
        await silent.wait_lost(reactor)
        await sleep(reactor, 0.5)
        assert h.primus.connected == 1 and not good.lost
        await h.echo_round_trip(good)


@pytest_twisted.ensureDeferred
async def test_flood_of_connect_disconnect_cycles(reactor):
    """
    200 clients in batches of 20, each leaving differently (close frame,
    abort, TCP reset, gone before finishing the upgrade, gone after a
    message): afterwards no spark, no extra file descriptor, every spark
    ended exactly once, and the long-lived client still served.
    """
    async with hostile_server(reactor) as h:
        good = await h.ws()
        await h.echo_round_trip(good, "before")
        h.echo = False
        baseline = open_fds()
        port = h.port_number

        async def cycle(i):
            kind = i % 5
            if kind == 3:
                client = await connect_raw(reactor, port)
                client.send(upgrade_request()[:30])
                client.abort()
                await client.wait_lost(reactor)
                return
            client = await connect_ws(reactor, port)
            if kind == 0:
                client.close()
            elif kind == 1:
                client.abort()
            elif kind == 2:
                client.reset()
            else:
                client.send(frame(OP_TEXT, b'"bye"'))
                client.abort()
            await wait_until(reactor, lambda: client.lost, 2.0, "the client to go")

        for start in range(0, 200, 20):
            await gatherResults([ensureDeferred(cycle(i)) for i in range(start, start + 20)])

        await wait_until(reactor, lambda: h.primus.connected == 1, 3.0, "the flood's sparks to end")
        await wait_until(reactor, lambda: open_fds() <= baseline, 3.0, "file descriptors to close")
        assert open_fds() == baseline
        flood_sparks = h.sparks[1:]
        assert len(flood_sparks) == 160
        assert sorted(id(s) for s in h.ended) == sorted(id(s) for s in flood_sparks)
        assert all(s.ready_state == s.CLOSED for s in flood_sparks)
        assert h.errors == []
        h.echo = True
        await h.echo_round_trip(good, "after")
