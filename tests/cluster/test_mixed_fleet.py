"""
A mixed fleet on one real Redis: a Node Primus 8 server with metroplex
1.0.2 and omega-supreme 3.0.1 (npm, pinned in tests/js) beside a primus-tx
node with the cluster plugin.  Each forwards to the other's sparks, neither
reaps the other while it lives (and ours reaps the Node node once it dies),
and both ingresses answer the same requests the same way.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted
import treq

from primus_tx.client import Socket
from primus_tx.cluster._omega import FORBIDDEN, INVALID, basic_credentials
from tests.cluster.helpers import PASSWORD, Client, shut, start_node, until, url_of
from tests.nodepeer import NodePrimusServer

pytestmark = pytest.mark.timeout(90)

#: Installs ioredis-backed metroplex and omega-supreme on the driver's Primus;
#: metroplex refreshes every second and judges peers by a 3 s interval.
_NODE_SETUP = """
const Redis = require('ioredis');
primus.options.redis = new Redis(%(port)d, '127.0.0.1');
primus.options.password = %(password)s;
primus.options.interval = 3000;
primus.options.latency = 2000;
primus.plugin('omega-supreme', require('omega-supreme'));
primus.plugin('metroplex', require('metroplex'));
await new Promise(function (resolve) { primus.metroplex.once('register', resolve); });
return primus.metroplex.address;
"""


async def _node_with_metroplex(reactor: Any, redis_server: Any) -> tuple[Any, str]:
    node = await NodePrimusServer.start(reactor, {"pingInterval": False, "echo": False})
    event = await node.eval(
        _NODE_SETUP % {"port": redis_server.port, "password": json.dumps(PASSWORD)}
    )
    return node, event["args"][0]


async def _fleet(reactor: Any, redis_server: Any) -> tuple[Any, str, Any, list[Client]]:
    """
    The Node node (and its address), the primus-tx node, and a client on
    each (Node's first).
    """
    node, node_address = await _node_with_metroplex(reactor, redis_server)
    tx = await start_node(reactor, redis_server.url)
    on_node = Client(await Socket.connect(node.url, reactor=reactor))
    on_node.id = await on_node.socket.id()
    on_tx = await Client.connect(reactor, tx)
    return node, node_address, tx, [on_node, on_tx]


def _node_forward(node: Any, call: str) -> Any:
    """
    Run ``primus.forward.<call>`` on the Node server; fires with its result.
    """
    return node.eval(
        "return await new Promise(function (resolve, reject) {"
        f" primus.forward.{call}, function (err, result) {{"
        " if (err) reject(err); else resolve(result); }); });"
    )


@pytest_twisted.ensureDeferred
async def test_node_and_primus_tx_forward_to_each_other(reactor: Any, redis_server: Any) -> None:
    node, node_address, tx, clients = await _fleet(reactor, redis_server)
    on_node, on_tx = clients
    try:
        await until(
            reactor,
            lambda: set(redis_server.cli("HKEYS", "metroplex:sparks")) == {on_node.id, on_tx.id},
        )
        assert sorted(redis_server.cli("SMEMBERS", "metroplex:servers")) == sorted(
            [node_address, url_of(tx)]
        )

        # primus-tx -> a spark on the Node server, through its omega-supreme.
        assert await tx.forward.spark(on_node.id, {"from": "tx"}) == {"ok": True, "send": 1}
        # Node -> a spark on primus-tx, through our ingress.
        result = await _node_forward(node, f"spark({json.dumps(on_tx.id)}, {{from: 'node'}}")
        assert result["args"][0] == {"ok": True, "send": 1}
        # Lists and broadcasts, counted across both.
        assert await tx.forward.sparks([on_node.id, on_tx.id], "list") == {"ok": True, "send": 2}
        result = await _node_forward(node, "broadcast('all'")
        assert result["args"][0] == {"ok": True, "send": 2}
        assert await tx.forward.broadcast("all again") == {"ok": True, "send": 2}
        await until(reactor, lambda: len(on_node.received) == 4 and len(on_tx.received) == 4)
        assert on_node.received == [{"from": "tx"}, "list", "all", "all again"]
        assert on_tx.received == [{"from": "node"}, "list", "all", "all again"]

        # Several refresh periods later both are still registered: our
        # heartbeat keeps a millisecond stamp Node reads, and we judge the
        # Node peer by its alive key, not by clocks.
        refreshed = tx.cluster.stats["registrations"]
        start = reactor.seconds()
        await until(reactor, lambda: reactor.seconds() - start > 4.0, timeout=6)
        assert sorted(redis_server.cli("SMEMBERS", "metroplex:servers")) == sorted(
            [node_address, url_of(tx)]
        )
        assert tx.cluster.stats["reaped"] == 0
        assert tx.cluster.stats["registrations"] == refreshed
        assert node.named("uncaught") == []

        # The Node process dies without unregistering: once its alive key
        # (metroplex's 3 s interval) expires, our heartbeat reaps it, and a
        # broadcast no longer asks it.
        await node.stop()
        await until(
            reactor,
            lambda: redis_server.cli("SMEMBERS", "metroplex:servers") == [url_of(tx)],
            timeout=10,
        )
        # Redis has run our heartbeat's reaping script; its count arrives
        # with the reply, a moment later.
        await until(reactor, lambda: tx.cluster.stats["reaped"] == 1, timeout=2)
        assert redis_server.cli("HKEYS", "metroplex:sparks") == [on_tx.id]
        assert await tx.forward.broadcast("alone") == {"ok": True, "send": 1, "local": True}
    finally:
        await shut(clients, tx)
        await node.stop()


def _requests(own_id: str) -> list[tuple[str, str, dict[str, str], bytes]]:
    """
    (label, method, headers, body) of the ingress requests both must answer
    alike; the path is the ingress's.
    """
    good = basic_credentials("omega", PASSWORD).decode()
    return [
        ("wrong password", "PUT", {"authorization": basic_credentials("omega", "nope").decode()},
         b'{"msg":"x"}'),
        ("wrong user", "PUT", {"authorization": basic_credentials("alpha", PASSWORD).decode()},
         b'{"msg":"x"}'),
        ("not json", "PUT", {"authorization": good}, b"{nope"),
        ("array", "PUT", {"authorization": good}, b'["msg"]'),
        ("string", "PUT", {"authorization": good}, b'"msg"'),
        ("no msg", "PUT", {"authorization": good}, b'{"sparks":""}'),
        ("msg 0", "PUT", {"authorization": good}, b'{"msg":0}'),
        ("msg empty", "PUT", {"authorization": good}, b'{"msg":""}'),
        ("msg false", "PUT", {"authorization": good}, b'{"msg":false}'),
        ("msg null", "PUT", {"authorization": good}, b'{"msg":null}'),
        ("everyone", "PUT", {"authorization": good}, b'{"msg":{"a":1}}'),
        ("everyone empty", "PUT", {"authorization": good}, b'{"msg":[],"sparks":""}'),
        ("one", "PUT", {"authorization": good}, b'{"msg":1,"sparks":"%s"}' % own_id.encode()),
        ("unknown", "PUT", {"authorization": good}, b'{"msg":1,"sparks":"nobody"}'),
        ("list", "PUT", {"authorization": good},
         b'{"msg":1,"sparks":["%s","nobody",7]}' % own_id.encode()),
        ("empty list", "PUT", {"authorization": good}, b'{"msg":1,"sparks":[]}'),
        ("number sparks", "PUT", {"authorization": good}, b'{"msg":1,"sparks":5}'),
    ]  # fmt: skip


async def _ask(url: str, method: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, Any]:
    response = await treq.request(method, url, headers=headers, data=body)
    content = await treq.content(response)
    return response.code, content, response.headers.getRawHeaders(b"content-type")


@pytest_twisted.ensureDeferred
async def test_ingress_answers_as_omega_supreme(reactor: Any, redis_server: Any) -> None:
    node, _, tx, clients = await _fleet(reactor, redis_server)
    on_node, on_tx = clients
    try:
        path = "/primus/omega/supreme"
        for label, method, headers, body in _requests("ID"):
            ours = await _ask(url_of(tx) + path, method, headers, body.replace(b"ID", on_tx.id.encode()))
            theirs = await _ask(
                node.url + path, method, headers, body.replace(b"ID", on_node.id.encode())
            )
            assert ours == theirs, label
        assert (await _ask(url_of(tx) + path, "PUT", {"authorization": "x"}, b"{}"))[:2] == (
            401, FORBIDDEN,
        )  # fmt: skip
        assert (await _ask(url_of(tx) + path, "PUT", {"authorization": basic_credentials(
            "omega", PASSWORD).decode()}, b"[]"))[:2] == (500, INVALID)  # fmt: skip
        # Not the ingress's: no Authorization header, another method, a
        # query string.  Both let Primus answer, and neither writes.
        good = {"authorization": basic_credentials("omega", PASSWORD).decode()}
        for method, suffix, headers in (
            ("PUT", "", {}),
            ("POST", "", good),
            ("PUT", "?x=1", good),
        ):
            ours = await _ask(url_of(tx) + path + suffix, method, headers, b'{"msg":"no"}')
            theirs = await _ask(node.url + path + suffix, method, headers, b'{"msg":"no"}')
            assert ours[0] not in (200, 401, 500) and theirs[0] not in (200, 401, 500)
        # Each client got exactly what its node's ingress wrote.
        expected = [{"a": 1}, [], 1, 1, 1]
        await until(reactor, lambda: len(on_tx.received) >= 5 and len(on_node.received) >= 5)
        assert on_tx.received == expected and on_node.received == expected
    finally:
        await shut(clients, tx)
        await node.stop()
