"""
``mode="primus-cluster"``: broadcasts in primus-cluster 2.0.0's pub/sub
envelope, beside a Node Primus 8 server running npm primus-cluster 2.0.0
(with redis 3, both pinned in tests/js) on the same real Redis.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted

from primus_tx.client import Socket
from primus_tx.cluster._redis import RedisLink
from tests.cluster.helpers import Client, shut, start_node, until
from tests.nodepeer import NodePrimusServer

pytestmark = pytest.mark.timeout(60)

_NODE_SETUP = """
primus.options.cluster = { redis: { port: %(port)d, host: '127.0.0.1' } };
primus.plugin('cluster', require('primus-cluster'));
await new Promise(function (resolve) {
  const sub = require('redis').createClient(%(port)d, '127.0.0.1');
  const check = function () {
    sub.send_command('PUBSUB', ['NUMSUB', 'primus-cluster:pubsub'], function (err, reply) {
      if (!err && Number(reply[1]) >= 1) { sub.quit(); resolve(); } else setTimeout(check, 50);
    });
  };
  check();
});
return true;
"""


@pytest_twisted.ensureDeferred
async def test_broadcasts_cross_with_node_primus_cluster(reactor: Any, redis_server: Any) -> None:
    node = await NodePrimusServer.start(reactor, {"pingInterval": False, "echo": False})
    await node.eval(_NODE_SETUP % {"port": redis_server.port})
    tx = await start_node(reactor, redis_server.url, mode="primus-cluster")
    seen: list[bytes] = []
    spy = RedisLink(
        redis_server.url, reactor, channels=["primus-cluster:pubsub"],
        on_message=lambda c, m: seen.append(m), probe_interval=0,
    )  # fmt: skip
    spy.start()
    clients: list[Client] = []
    try:
        await spy.when_up()
        on_node = Client(await Socket.connect(node.url, reactor=reactor))
        on_tx = await Client.connect(reactor, tx)
        clients += [on_node, on_tx]
        await until(reactor, lambda: tx.cluster.subscriber.up)

        tx.write({"from": "tx", "n": [1, "é"]})
        await until(reactor, lambda: on_node.received == [{"from": "tx", "n": [1, "é"]}])
        assert on_tx.received == [{"from": "tx", "n": [1, "é"]}]
        envelope = json.loads(seen[0])
        assert envelope == {
            "id": tx.cluster.node_id.decode(), "data": [{"from": "tx", "n": [1, "é"]}],
            "type": "primus", "opts": {"method": "write"},
        }  # fmt: skip

        node.send({"op": "broadcast", "data": "from node"})
        await until(reactor, lambda: on_tx.received[-1:] == ["from node"])
        await until(reactor, lambda: on_node.received[-1:] == ["from node"])
        # Node's envelope has a float id: never mistaken for ours.
        assert isinstance(json.loads(seen[1])["id"], float)
        assert on_tx.received == [{"from": "tx", "n": [1, "é"]}, "from node"]
        assert tx.cluster.stats["received"] == 1

        # An emitter broadcast from a Node node (primus-cluster publishes
        # its primus.send arguments): our sparks get primus-emitter's event
        # packet.  Messages of other types and methods are left alone.
        for envelope in (
            {"id": 0.5, "data": ["news", 1, {"a": 2}], "type": "primus", "opts": {"method": "send"}},
            {"id": 0.5, "data": ["x"], "type": "room", "opts": {"method": "write", "rooms": ["r"]}},
            {"id": 0.5, "data": ["x"], "type": "primus", "opts": {"method": "other"}},
            {"id": tx.cluster.node_id.decode(), "data": ["mine"], "type": "primus",
             "opts": {"method": "write"}},
            {"data": ["untyped"]},
        ):  # fmt: skip
            redis_server.cli("PUBLISH", "primus-cluster:pubsub", json.dumps(envelope))
        redis_server.cli("PUBLISH", "primus-cluster:pubsub", "not json")
        node.send({"op": "broadcast", "data": "last"})
        await until(reactor, lambda: on_tx.received[-1:] == ["last"])
        assert on_tx.received[2:] == [{"type": 0, "data": ["news", 1, {"a": 2}]}, "last"]

        # Room writes: ours go out as primus-cluster's "room" messages, and
        # a Node node's reach the room delivery.
        rooms: list[Any] = []
        tx.cluster.on_room(lambda *args: rooms.append(args))
        tx.cluster.publish_room(["lobby"], ["x1"], {"hi": 1})
        await until(reactor, lambda: any(b'"type":"room"' in m for m in seen))
        mine = json.loads(next(m for m in seen if b'"type":"room"' in m))
        assert mine == {
            "id": tx.cluster.node_id.decode(), "data": [{"hi": 1}], "type": "room",
            "opts": {"except": ["x1"], "method": "write", "rooms": ["lobby"], "transformer": None},
        }  # fmt: skip
        assert rooms == []
        node_room = {
            "id": 0.25, "data": [{"to": "lobby"}], "type": "room",
            "opts": {"except": ["y"], "method": "write", "rooms": ["lobby", "b"], "transformer": None},
        }  # fmt: skip
        redis_server.cli("PUBLISH", "primus-cluster:pubsub", json.dumps(node_room))
        await until(reactor, lambda: len(rooms) == 1)
        assert rooms == [(["lobby", "b"], frozenset({"y"}), {"to": "lobby"})]
    finally:
        await spy.stop()
        await shut(clients, tx)
        await node.stop()
