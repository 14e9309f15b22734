"""
Room membership in Redis (primus-cluster 2.0.0's layout), seen from two
primus-tx nodes and from a Node process using npm primus-cluster's own
adapter on the same real Redis.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted

from tests.cluster.helpers import start_node
from tests.nodepeer import NodePrimusServer

pytestmark = pytest.mark.timeout(60)


@pytest_twisted.ensureDeferred
async def test_membership_is_shared_by_every_node(reactor: Any, redis_server: Any) -> None:
    a = await start_node(reactor, redis_server.url)
    b = await start_node(reactor, redis_server.url)
    try:
        on_a, on_b = a.cluster.rooms_adapter(), b.cluster.rooms_adapter()
        await on_a.add("s1", "lobby")
        await on_b.add("s2", "lobby")
        await on_b.add("s2", "room:with:colons")
        assert sorted(await on_a.clients("lobby")) == ["s1", "s2"]
        assert sorted(await on_a.rooms_of("s2")) == ["lobby", "room:with:colons"]
        assert sorted(await on_b.all_rooms()) == ["lobby", "room:with:colons"]
        assert await on_a.members(["lobby", "room:with:colons"], frozenset({"s1"})) == ["s2"]
        assert sorted(await on_a.members([], frozenset())) == ["s1", "s2"]
        keys = redis_server.cli("KEYS", "primus-cluster:room:lobby:*")
        assert len(keys) == 1 and keys[0].rsplit(":", 1)[1].isdigit()
        assert 0 < int(redis_server.cli("TTL", keys[0])[0]) <= 86400

        await on_a.remove("s2", "lobby")
        assert await on_b.clients("lobby") == ["s1"]
        assert await on_a.remove_all("s2") == ["room:with:colons"]
        assert await on_b.is_empty("room:with:colons") is True
        await on_b.empty(["lobby"])
        assert await on_a.is_empty("lobby") is True
        await on_a.add("s3", "x")
        await on_a.clear()
        assert await on_b.all_rooms() == []
        assert redis_server.cli("KEYS", "primus-cluster:*") == []
    finally:
        await a.destroy()
        await b.destroy()


_NODE_ADAPTER = """
const { Adapter } = require('primus-cluster/lib/adapter');
const client = require('redis').createClient(%(port)d, '127.0.0.1');
const adapter = new Adapter({ client, prefix: 'primus-cluster:', ttl: 86400, publish() {} });
const call = (name, ...args) => new Promise((resolve, reject) =>
  adapter[name](...args, (err, value) => (err ? reject(err) : resolve(value))));
%(body)s
"""


async def _node(node: Any, port: int, body: str) -> Any:
    event = await node.eval(_NODE_ADAPTER % {"port": port, "body": body})
    return event["args"][0]


@pytest_twisted.ensureDeferred
async def test_node_primus_cluster_reads_and_writes_the_same_rooms(
    reactor: Any, redis_server: Any
) -> None:
    node = await NodePrimusServer.start(reactor, {"pingInterval": False})
    tx = await start_node(reactor, redis_server.url)
    try:
        rooms = tx.cluster.rooms_adapter()
        port = redis_server.port
        await _node(node, port, "await call('add', 'node-spark', 'lobby'); client.quit();")
        await rooms.add("tx-spark", "lobby")
        assert sorted(await rooms.clients("lobby")) == ["node-spark", "tx-spark"]
        seen = await _node(
            node, port,
            "const ids = await call('clients', 'lobby');"
            "const mine = await call('get', 'tx-spark'); client.quit();"
            "return {ids: ids.sort(), mine};",
        )  # fmt: skip
        assert seen == {"ids": ["node-spark", "tx-spark"], "mine": ["lobby"]}
        await _node(node, port, f"await call('delAll', {json.dumps('tx-spark')}); client.quit();")
        assert await rooms.clients("lobby") == ["node-spark"]
        assert await rooms.rooms_of("tx-spark") == []
    finally:
        await tx.destroy()
        await node.stop()
