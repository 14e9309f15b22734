"""
Failure semantics with a real redis-server that is killed, restarted empty
and frozen (SIGSTOP) under two primus-tx nodes: local delivery goes on,
cross-node operations fail fast, new connections never wait, and the
nodes reconnect, resubscribe and register again by themselves.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from primus_tx.cluster import ForwardError, RedisUnavailable
from tests.cluster.helpers import Client, shut, start_node, until

pytestmark = pytest.mark.timeout(90)


async def _answer_time(reactor: Any, d: Any) -> tuple[float, Any]:
    start = reactor.seconds()
    try:
        result = await d
    except Exception as error:
        result = error
    return reactor.seconds() - start, result


def _registered(redis_server: Any) -> set[str]:
    try:
        return set(redis_server.cli("HKEYS", "metroplex:sparks"))
    except Exception:
        return set()


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("outage", ["kill", "freeze"])
async def test_outage_then_recovery(reactor: Any, redis_server: Any, outage: str) -> None:
    a = await start_node(reactor, redis_server.url)
    b = await start_node(reactor, redis_server.url)
    clients: list[Client] = []
    try:
        ca, cb = await Client.connect(reactor, a), await Client.connect(reactor, b)
        clients += [ca, cb]
        await until(reactor, lambda: _registered(redis_server) == {ca.id, cb.id})
        a.write("before")
        await until(reactor, lambda: cb.received == ["before"])

        if outage == "kill":
            redis_server.kill()
        else:
            redis_server.freeze()

        # Local delivery goes on, at once.
        a.write("during")
        await until(reactor, lambda: ca.received == ["before", "during"], timeout=4)
        # A forward to a spark on another node answers within 5 s, with an
        # error that says Redis is the problem.
        elapsed, result = await _answer_time(reactor, a.forward.spark(cb.id, "lost"))
        assert elapsed < 5
        assert isinstance(result, ForwardError)
        assert isinstance(result.__cause__, RedisUnavailable)
        # A forward to a local spark and a broadcast's local part are written.
        assert await a.forward.spark(ca.id, "local") == {"ok": True, "send": 1, "local": True}
        elapsed, result = await _answer_time(reactor, a.forward.broadcast("everyone"))
        assert elapsed < 5 and isinstance(result, ForwardError)
        assert result.result["send"] == 1
        await until(reactor, lambda: ca.received[-2:] == ["local", "everyone"], timeout=4)
        # A new connection does not wait for Redis.
        late = await Client.connect(reactor, b)
        clients.append(late)
        if outage == "freeze":
            # The liveness probes notice the frozen Redis by themselves.
            await until(
                reactor,
                lambda: a.cluster.subscriber.probe_failures >= 1
                and b.cluster.subscriber.probe_failures >= 1,
                timeout=5,
            )
            redis_server.thaw()
        else:
            redis_server.start()
        # Within 15 s every node has registered again with all its sparks
        # (the late one included), even after an empty restart.
        await until(
            reactor,
            lambda: _registered(redis_server) == {ca.id, cb.id, late.id},
            timeout=15,
        )
        assert sorted(redis_server.cli("SMEMBERS", "metroplex:servers")) == sorted(
            [a.cluster.address, b.cluster.address]
        )
        await until(reactor, lambda: a.cluster.subscriber.up and b.cluster.subscriber.up, 15)
        # Cross-node traffic flows again.  A broadcast made while a node's
        # subscription is still being restored is lost (docs/scaling.rst:
        # at most once), and a node may still be switching connections after
        # the thaw: write until one lands, ten seconds at most.
        for _ in range(20):
            a.write("after")
            try:
                await until(reactor, lambda: cb.received[-1:] == ["after"] and late.received, 0.5)
                break
            except AssertionError:
                continue
        assert cb.received[-1:] == ["after"] and set(late.received) == {"after"}
        assert "during" not in cb.received or outage == "freeze"
        assert await a.forward.spark(late.id, "found") == {"ok": True, "send": 1}
        assert a.cluster.commands.in_flight == 0
    finally:
        if redis_server.frozen:
            redis_server.thaw()
        await shut(clients, a, b)


@pytest_twisted.ensureDeferred
async def test_nothing_queues_while_redis_is_frozen(reactor: Any, redis_server: Any) -> None:
    node = await start_node(reactor, redis_server.url, max_in_flight=50, timeout=1.0)
    client = await Client.connect(reactor, node)
    try:
        redis_server.freeze()
        highest = 0
        for seq in range(1000):
            node.write(seq)
            highest = max(highest, node.cluster.commands.in_flight)
        # Never more than the cap waits; the rest was refused at once,
        # counted, and local delivery was complete.
        assert highest <= 50
        assert node.cluster.commands.overloaded >= 950
        await until(reactor, lambda: client.received == list(range(1000)), timeout=10)
        await until(reactor, lambda: node.cluster.stats["publish_failed"] >= 950, timeout=5)
        redis_server.thaw()
        await until(reactor, lambda: node.cluster.commands.in_flight == 0, timeout=10)
        await until(reactor, lambda: node.cluster.commands.up, timeout=10)
    finally:
        if redis_server.frozen:
            redis_server.thaw()
        await shut([client], node)


@pytest_twisted.ensureDeferred
async def test_an_outage_is_counted_always_and_logged_once(
    reactor: Any, redis_server: Any
) -> None:
    from twisted.logger import capturedLogs

    node = await start_node(reactor, redis_server.url)
    client = await Client.connect(reactor, node)
    try:
        with capturedLogs() as events:
            redis_server.kill()
            await until(reactor, lambda: not node.cluster.commands.up)
            for seq in range(5):
                node.write(seq)
            for _ in range(3):
                try:
                    await node.forward.spark("elsewhere", "x")
                except ForwardError:
                    pass
            assert node.cluster.stats["publish_failed"] == 5
            assert node.cluster.stats["forward_failed"] == 3
            warnings = [e for e in events if e.get("log_format", "").startswith("cluster:")]
            assert len(warnings) == 1
            assert warnings[0]["error"].startswith("cluster commands: ")
    finally:
        await shut([client], node)
