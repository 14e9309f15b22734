"""
The cluster plugin with two primus-tx nodes in this process and a real
redis-server: broadcasts, forwards, the registry's layout, the omega-supreme
ingress, and the options.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from primus_tx import Primus, PrimusError
from primus_tx.cluster import ForwardError
from tests.cluster.helpers import PASSWORD, Client, shut, start_node, until, url_of

pytestmark = pytest.mark.timeout(60)


async def _two_nodes(reactor: Any, redis_server: Any) -> tuple[Any, Any, list[Client]]:
    """
    Nodes a and b, with two clients on a and one on b.
    """
    a = await start_node(reactor, redis_server.url)
    b = await start_node(reactor, redis_server.url)
    clients = [
        await Client.connect(reactor, a),
        await Client.connect(reactor, a),
        await Client.connect(reactor, b),
    ]
    return a, b, clients


@pytest_twisted.ensureDeferred
async def test_broadcast_reaches_every_node_encoded_once_per_node(
    reactor: Any, redis_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, clients = await _two_nodes(reactor, redis_server)
    try:
        await until(reactor, lambda: a.cluster.subscriber.up and b.cluster.subscriber.up)
        calls = {"a encode": 0, "b encode": 0, "b prepare": 0}

        def counting(name: str, fn: Any) -> Any:
            def counted(*args: Any) -> Any:
                calls[name] += 1
                return fn(*args)

            return counted

        monkeypatch.setattr(a, "_encode", counting("a encode", a._encode))
        monkeypatch.setattr(b, "_encode", counting("b encode", b._encode))
        monkeypatch.setattr(b._server, "prepare", counting("b prepare", b._server.prepare))
        for seq in range(20):
            a.write({"seq": seq, "from": "a"})
        expected = [{"seq": seq, "from": "a"} for seq in range(20)]
        await until(reactor, lambda: all(c.received == expected for c in clients))
        # Node a encoded each broadcast once; node b framed what a
        # published once for its sparks, without encoding it again.
        assert calls == {"a encode": 20, "b encode": 0, "b prepare": 20}
        assert a.cluster.stats["published"] == 20 and b.cluster.stats["received"] == 20
        # A node never delivers its own broadcast twice.
        assert a.cluster.stats["received"] == 0
    finally:
        await shut(clients, a, b)


@pytest_twisted.ensureDeferred
async def test_registry_is_metroplex_layout_and_forwards_count(
    reactor: Any, redis_server: Any
) -> None:
    a, b, clients = await _two_nodes(reactor, redis_server)
    try:
        ca1, ca2, cb = clients
        address_a, address_b = url_of(a), url_of(b)
        assert (a.cluster.address, b.cluster.address) == (address_a, address_b)
        await until(reactor, lambda: len(redis_server.cli("HKEYS", "metroplex:sparks")) == 3)
        assert sorted(redis_server.cli("SMEMBERS", "metroplex:servers")) == sorted(
            [address_a, address_b]
        )
        assert redis_server.cli("HGET", "metroplex:sparks", cb.id) == [address_b]
        assert sorted(redis_server.cli("SMEMBERS", f"metroplex:{address_a}:sparks")) == sorted(
            [ca1.id, ca2.id]
        )
        stamp = int(redis_server.cli("GET", f"metroplex:{address_a}")[0])
        assert abs(stamp - reactor.seconds() * 1000) < 10000
        assert 0 < int(redis_server.cli("PTTL", f"metroplex:{address_a}")[0]) <= 1500
        assert await a.cluster.count() == 3

        # One spark on the other node, then a local one.
        assert await a.forward.spark(cb.id, "to b") == {"ok": True, "send": 1}
        assert await a.forward.spark(ca1.id, "to a1") == {"ok": True, "send": 1, "local": True}
        assert await a.forward.spark("nobody", "lost") == {"ok": True, "send": 0}
        # A list spanning both nodes.
        assert await b.forward.sparks([ca1.id, cb.id, "nobody"], "both") == {"ok": True, "send": 2}
        # Everyone, everywhere.
        assert await b.forward.broadcast({"all": 1}) == {"ok": True, "send": 3}
        await until(reactor, lambda: len(ca1.received) == 3 and len(cb.received) == 3)
        assert ca1.received == ["to a1", "both", {"all": 1}]
        assert ca2.received == [{"all": 1}]
        assert cb.received == ["to b", "both", {"all": 1}]

        # A disconnection leaves the registry at once.
        await ca2.close()
        clients.remove(ca2)
        await until(reactor, lambda: len(redis_server.cli("HKEYS", "metroplex:sparks")) == 2)
        # A node that is destroyed leaves the registry.
        await b.destroy()
        assert redis_server.cli("SMEMBERS", "metroplex:servers") == [address_a]
        assert redis_server.cli("HKEYS", "metroplex:sparks") == [ca1.id]
    finally:
        await shut(clients, a, b)


@pytest_twisted.ensureDeferred
async def test_a_dead_node_is_reaped_within_its_ttl(reactor: Any, redis_server: Any) -> None:
    a = await start_node(reactor, redis_server.url)
    try:
        # A node that died without leaving: its alive key expires.
        redis_server.cli("SADD", "metroplex:servers", "http://10.9.9.9:1")
        redis_server.cli("PSETEX", "metroplex:http://10.9.9.9:1", "300", "1")
        redis_server.cli("HSET", "metroplex:sparks", "ghost", "http://10.9.9.9:1")
        redis_server.cli("SADD", "metroplex:http://10.9.9.9:1:sparks", "ghost")
        await until(reactor, lambda: a.cluster.stats["reaped"] >= 1, timeout=5)
        assert redis_server.cli("SMEMBERS", "metroplex:servers") == [a.cluster.address]
        assert redis_server.cli("HKEYS", "metroplex:sparks") == []
        assert redis_server.cli("EXISTS", "metroplex:http://10.9.9.9:1:sparks") == ["0"]
    finally:
        await a.destroy()


@pytest_twisted.ensureDeferred
async def test_forward_to_a_node_that_does_not_answer(reactor: Any, redis_server: Any) -> None:
    a = await start_node(reactor, redis_server.url, forward_timeout=1.0)
    client = await Client.connect(reactor, a)
    try:
        # Registered, alive, but nothing listens at its address.
        redis_server.cli("SADD", "metroplex:servers", "http://127.0.0.1:9")
        redis_server.cli("PSETEX", "metroplex:http://127.0.0.1:9", "60000", "1")
        redis_server.cli("HSET", "metroplex:sparks", "elsewhere", "http://127.0.0.1:9")
        with pytest.raises(ForwardError) as caught:
            await a.forward.spark("elsewhere", "x")
        assert caught.value.result == {"ok": False, "send": 0}
        with pytest.raises(ForwardError) as caught:
            await a.forward.broadcast("x")
        # The local part was written all the same.
        assert caught.value.result == {"ok": False, "send": 1}
        await until(reactor, lambda: client.received == ["x"])
        assert a.cluster.stats["forward_failed"] == 2
    finally:
        await client.close()
        await a.destroy()


def test_options_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRIMUS_CLUSTER_PASSWORD", raising=False)
    with pytest.raises(PrimusError, match="password"):
        Primus(None, plugin="cluster", cluster={"redis": "redis://127.0.0.1:1/0"})
    with pytest.raises(PrimusError, match="redis"):
        Primus(None, plugin="cluster", cluster={"password": "x"})
    with pytest.raises(PrimusError, match="mode"):
        Primus(None, plugin="cluster", cluster={"redis": "redis://h", "password": "x", "mode": "x"})
    with pytest.raises(PrimusError, match="Unknown cluster option"):
        Primus(None, plugin="cluster", cluster={"redis": "redis://h", "password": "x", "pasword": 1})
    assert PASSWORD


@pytest_twisted.ensureDeferred
async def test_forwards_to_a_silent_node_are_bounded(reactor: Any, redis_server: Any) -> None:
    from twisted.internet.protocol import Factory, Protocol

    silent = reactor.listenTCP(0, Factory.forProtocol(Protocol), interface="127.0.0.1")
    address = f"http://127.0.0.1:{silent.getHost().port}"
    a = await start_node(
        reactor, redis_server.url, forward_timeout=1.0, concurrently=1, max_in_flight=2
    )
    try:
        start = reactor.seconds()
        calls = [a.forward(address, "x", "someone") for _ in range(5)]
        outcomes = []
        for call in calls:
            try:
                outcomes.append(await call)
            except ForwardError as error:
                outcomes.append(str(error))
        # One in flight, two waiting, two refused at once; none hangs.
        assert sum("already waiting" in str(o) for o in outcomes) == 2
        assert all("already waiting" in str(o) or "failed" in str(o) for o in outcomes)
        assert reactor.seconds() - start < 5
    finally:
        await a.destroy()
        await silent.stopListening()


@pytest_twisted.ensureDeferred
async def test_room_writes_reach_the_room_delivery_of_other_nodes(
    reactor: Any, redis_server: Any
) -> None:
    a = await start_node(reactor, redis_server.url)
    b = await start_node(reactor, redis_server.url)
    on_a: list[Any] = []
    on_b: list[Any] = []
    try:
        a.cluster.on_room(lambda *args: on_a.append(args))
        b.cluster.on_room(lambda *args: on_b.append(args))
        await until(reactor, lambda: a.cluster.subscriber.up and b.cluster.subscriber.up)
        a.cluster.publish_room(["lobby", "news"], {"s1"}, {"seq": 1, "é": [1.5]})
        a.cluster.publish_room(["lobby"], (), "two")
        await until(reactor, lambda: len(on_b) == 2)
        assert on_b == [
            (["lobby", "news"], frozenset({"s1"}), {"seq": 1, "é": [1.5]}),
            (["lobby"], frozenset(), "two"),
        ]
        # The writing node delivers to its own members itself.
        assert on_a == []
    finally:
        await a.destroy()
        await b.destroy()
