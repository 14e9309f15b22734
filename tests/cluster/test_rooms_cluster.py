"""
The rooms plugin on a cluster (``plugin="rooms, cluster"``, either order)
with a real redis-server: room writes reach the members on every node,
encoded once per node; membership queries answer for every node; while
Redis is down the local part of a room write is delivered and the remote
part fails fast and is counted.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import deferLater

from primus_tx.cluster import RedisUnavailable
from tests.cluster.helpers import Client, shut, start_node, until
from tests.cluster.test_primus_cluster_mode import _NODE_SETUP

pytestmark = pytest.mark.timeout(90)


def _count_encodes(primus: Any) -> list[int]:
    counter = [0]
    encode = primus._encode

    def counted(data: Any) -> Any:
        counter[0] += 1
        return encode(data)

    primus._encode = counted
    return counter


async def _fleet(reactor: Any, redis_server: Any, orders: list[str]) -> list[Any]:
    return [await start_node(reactor, redis_server.url, plugin=order) for order in orders]


@pytest_twisted.ensureDeferred
async def test_room_writes_reach_every_node_once(reactor: Any, redis_server: Any) -> None:
    nodes = await _fleet(
        reactor, redis_server, ["emitter, rooms, cluster", "cluster, emitter, rooms", "rooms, cluster"]
    )
    a, b, c = nodes
    clients: list[Client] = []
    try:
        # Two members of "news" on a, one on b; c has only a member of "sport".
        a1, a2 = await Client.connect(reactor, a), await Client.connect(reactor, a)
        b1, b2 = await Client.connect(reactor, b), await Client.connect(reactor, b)
        c1 = await Client.connect(reactor, c)
        clients += [a1, a2, b1, b2, c1]
        await a.join(a1.id, "news")
        await a.join(a2.id, "news", "sport")
        await b.join(b1.id, "news")
        await c.join(c1.id, "sport")
        assert a.rooms_adapter is a._rooms_state.adapter
        assert "ClusterRoomsAdapter" in repr(c.rooms_adapter)
        # b2 is in no room.
        encodes = [_count_encodes(node) for node in nodes]
        written = await a.room("news").write({"n": 1})
        assert written == 2  # this node's members
        await until(reactor, lambda: b1.received == [{"n": 1}])
        assert a1.received == a2.received == [{"n": 1}]
        # Encoded once by the writer, once by b; c has no member: nothing.
        assert [e[0] for e in encodes] == [1, 1, 0]

        # excluding, several rooms at once (each member once), from a spark.
        spark_b1 = b.spark(b1.id)
        await spark_b1.room("news", "sport").excluding(a1.id).write("ns")
        await until(reactor, lambda: c1.received == ["ns"] and a2.received[-1:] == ["ns"])
        await until(reactor, lambda: b1.received[-1:] == ["ns"])
        assert a1.received == [{"n": 1}]

        # The emitter's room send, from the node without members of "sport".
        await b.room("sport").send("score", 2, 1)
        packet = {"type": 0, "data": ["score", 2, 1]}
        await until(reactor, lambda: c1.received[-1:] == [packet] and a2.received[-1:] == [packet])

        # A marker to every node: nothing else is still on its way.
        a.write("end")
        await until(reactor, lambda: all(x.received[-1:] == ["end"] for x in clients))
        assert [len(x.received) for x in clients] == [2, 4, 3, 1, 3]
        assert b2.received == ["end"]
        # Each node delivered what it received; none published it again.
        assert [n.cluster.stats["published"] for n in nodes] == [2, 2, 0]

        # Membership queries answer for every node.
        assert sorted(await c.room("news").clients()) == sorted([a1.id, a2.id, b1.id])
        assert sorted(await b.rooms()) == ["news", "sport"]
        assert sorted(await c.rooms(a2.id)) == ["news", "sport"]
        assert await b.is_room_empty("sport") is False
        assert sorted(await b.spark(b1.id).rooms()) == ["news"]

        # A spark that leaves, or ends, leaves on every node.
        await a.leave(a2.id, "sport")
        assert await b.room("sport").clients() == [c1.id]
        await c1.close()
        clients.remove(c1)
        await until(reactor, lambda: c.spark(c1.id) is None)
        await until_empty(reactor, b, "sport")

        # Emptying a room empties it on every node: no more deliveries there.
        await b.empty("news")
        assert await a.room("news").clients() == []
        await until(reactor, lambda: a._rooms_state.adapter.local.members_now(["news"], frozenset()) == [])
        await b.room("news").write("gone")
        a.write("end2")
        await until(reactor, lambda: a1.received[-1:] == ["end2"] and b1.received[-1:] == ["end2"])
        assert "gone" not in a1.received + a2.received + b1.received
    finally:
        await shut(clients, *nodes)


async def until_empty(reactor: Any, primus: Any, room: str) -> None:
    for _ in range(100):
        if await primus.is_room_empty(room):
            return
        await deferLater(reactor, 0.05, lambda: None)
    raise AssertionError(f"{room} never emptied")


@pytest_twisted.ensureDeferred
async def test_room_writes_while_redis_is_down(reactor: Any, redis_server: Any) -> None:
    a, b = await _fleet(reactor, redis_server, ["rooms, cluster", "cluster, rooms"])
    clients: list[Client] = []
    try:
        ca, cb = await Client.connect(reactor, a), await Client.connect(reactor, b)
        clients += [ca, cb]
        await a.join(ca.id, "lobby")
        await b.join(cb.id, "lobby")
        await a.room("lobby").write("before")
        await until(reactor, lambda: cb.received == ["before"] and ca.received == ["before"])

        redis_server.kill()
        failed = a.cluster.stats["publish_failed"]
        # The local part is delivered at once; the remote part fails fast
        # and is counted.
        assert await a.room("lobby").write("during") == 1
        await until(reactor, lambda: ca.received == ["before", "during"], timeout=4)
        await until(reactor, lambda: a.cluster.stats["publish_failed"] == failed + 1, timeout=5)
        # A join while Redis is down works here, and is counted.
        late = await Client.connect(reactor, a)
        clients.append(late)
        await a.join(late.id, "lobby")
        assert a.cluster.stats["rooms_failed"] >= 1
        assert await a.room("lobby").write("local") == 2
        await until(reactor, lambda: late.received == ["local"], timeout=4)
        # Queries fail fast while Redis is down.
        with pytest.raises(RedisUnavailable):
            await a.room("lobby").clients()

        redis_server.start()
        await until(reactor, lambda: a.cluster.subscriber.up and b.cluster.subscriber.up, 15)
        await until(reactor, lambda: a.cluster.commands.up and b.cluster.commands.up, 15)
        # The memberships made during the outage reach Redis again.
        await until_members(reactor, b, "lobby", {ca.id, cb.id, late.id})
        await b.room("lobby").write("after")
        await until(reactor, lambda: ca.received[-1:] == ["after"] and late.received == ["local", "after"])
        assert cb.received == ["before", "after"]
    finally:
        await shut(clients, a, b)


async def until_members(reactor: Any, primus: Any, room: str, ids: set[str]) -> None:
    for _ in range(200):
        try:
            if set(await primus.room(room).clients()) == ids:
                return
        except Exception:
            pass
        await deferLater(reactor, 0.05, lambda: None)
    raise AssertionError(f"{room} never had {ids}")


# primus-rooms first: primus-cluster then gives it its Redis adapter.
_NODE_ROOMS = "primus.plugin('rooms', require('primus-rooms'));\n" + _NODE_SETUP


async def _on_node(node: Any, code: str) -> Any:
    event = await node.eval(
        "return await new Promise(function (resolve, reject) {"
        " const done = function (err, value) { err ? reject(err) : resolve(value === undefined ? null : value); };"
        f" {code} }});"
    )
    return event["args"][0]


@pytest_twisted.ensureDeferred
async def test_rooms_with_node_primus_cluster_and_primus_rooms(reactor: Any, redis_server: Any) -> None:
    from primus_tx.client import Socket
    from tests.nodepeer import NodePrimusServer

    node = await NodePrimusServer.start(reactor, {"pingInterval": False, "echo": False})
    await node.eval(_NODE_ROOMS % {"port": redis_server.port})
    tx = await start_node(reactor, redis_server.url, plugin="rooms, cluster", mode="primus-cluster")
    clients: list[Client] = []
    try:
        n1 = Client(await Socket.connect(node.url, reactor=reactor))
        n1.id = await n1.socket.id()
        t1, t2 = await Client.connect(reactor, tx), await Client.connect(reactor, tx)
        clients += [n1, t1, t2]
        await until(reactor, lambda: tx.cluster.subscriber.up)
        await _on_node(node, f"primus.spark({n1.id!r}).join('lobby', done);")
        await tx.join(t1.id, "lobby")

        # Membership is one set for both kinds of node.
        assert sorted(await tx.room("lobby").clients()) == sorted([n1.id, t1.id])
        assert sorted(await _on_node(node, "primus.room('lobby').clients(done);")) == sorted(
            [n1.id, t1.id]
        )

        # Our room write reaches the Node member; Node's reaches ours.
        assert await tx.room("lobby").write({"from": "tx"}) == 1
        await until(reactor, lambda: n1.received == [{"from": "tx"}])
        await _on_node(node, "primus.room('lobby').write({from: 'node'}); done();")
        await until(reactor, lambda: t1.received == [{"from": "tx"}, {"from": "node"}])
        await until(reactor, lambda: n1.received[-1:] == [{"from": "node"}])

        # excluding crosses too.
        await tx.room("lobby").excluding(n1.id).write("not n1")
        await _on_node(node, f"primus.room('lobby').except({t1.id!r}).write('not t1'); done();")
        await until(reactor, lambda: t1.received[-1:] == ["not n1"] and n1.received[-1:] == ["not t1"])
        tx.write("end")
        await until(reactor, lambda: all(c.received[-1:] == ["end"] for c in clients))
        assert t1.received == [{"from": "tx"}, {"from": "node"}, "not n1", "end"]
        assert n1.received == [{"from": "tx"}, {"from": "node"}, "not t1", "end"]
        assert t2.received == ["end"]
    finally:
        await shut(clients, tx)
        await node.stop()
