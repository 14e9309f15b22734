"""
The harness itself: the official Primus client against the official Node
Primus server, both driven from Python.

These tests pin the Node server driver's protocol (which the Python-client
tests rely on) and double as the reference for the orders asserted against
primus-tx in test_official_client.py: the same life cycles, shown by the
real server.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted
from nodepeer import PeerExited, PeerTimeout, after, lifecycle
from spec_orders import SERVER_ASKED_RECONNECT


async def opened(
    peers: Any, url: str, options: Any = None, client: str = "default", node: Any = None
) -> Any:
    node = node or await peers.client()
    await node.open_client(url, options, client=client)
    return node


@pytest_twisted.ensureDeferred
async def test_node_server_reports_connection_data_and_echo(peers: Any) -> None:
    server = await peers.server({"pingInterval": False})
    node = await peers.client()
    node.connect(
        server.url + "/?foo=bar",
        {"transport": {"headers": {"X-Forwarded-For": "13.3.37.1", "X-Custom": "1"}}},
    )
    await node.wait_for("open")
    connection = (await server.wait_for("connection"))["args"][0]
    assert connection["query"]["foo"] == "bar"
    assert "_primuscb" in connection["query"]
    assert connection["headers"]["x-custom"] == "1"
    assert connection["address"]["ip"] == "13.3.37.1"
    node.write({"a": [1, "two", None]})
    data = (await server.wait_for("data"))["args"][0]
    assert data["id"] == connection["id"]
    echoed = await node.wait_for("data")
    assert echoed["args"][0] == data["data"]
    # Node Primus's JSON parser stringifies a Buffer...
    server.send({"op": "write", "id": connection["id"], "data": b"\x01\x02"})
    stringified = await node.wait_for("data", n=2)
    assert stringified["args"][0] == {"type": "Buffer", "data": [1, 2]}
    # ...so binary frames are sent past it.
    server.send({"op": "raw", "id": connection["id"], "data": b"\x01\x02"})
    binary = await node.wait_for("data", n=3)
    assert binary["args"] == [b"\x01\x02", b"\x01\x02"]
    server.send({"op": "broadcast", "data": "to all"})
    assert (await node.wait_for("data", n=4))["args"][0] == "to all"


@pytest_twisted.ensureDeferred
async def test_node_server_end_and_reconnect_orders(peers: Any) -> None:
    server = await peers.server({"pingInterval": False})
    node = await opened(peers, server.url, {"reconnect": {"min": 100}}, client="r")
    await opened(peers, server.url, {"reconnect": {"min": 100}}, client="e", node=node)
    await server.wait_for("connection", n=2)
    first, second = (event["args"][0]["id"] for event in server.named("connection"))
    # Which spark is which client: ask one for its id.
    node.send({"op": "id", "client": "r"})
    reconnecting = (await node.wait_for("id", client="r"))["args"][0]
    ending = first if reconnecting == second else second
    server.send({"op": "end", "id": reconnecting, "reconnect": True})
    server.send({"op": "end", "id": ending, "data": "bye"})
    await node.wait_for("open", client="r", n=2)
    await node.wait_for("end", client="e")
    assert after(lifecycle(node, "r"), "open") == SERVER_ASKED_RECONNECT
    assert after(lifecycle(node, "e"), "open") == ["readyStateChange:end", "close", "end"]
    assert node.named("data", client="e")[0]["args"][0] == "bye"
    assert node.named("ws:close", client="e")[0]["args"][0] == 1005


@pytest_twisted.ensureDeferred
async def test_node_server_stop_and_listen_again(peers: Any) -> None:
    server = await peers.server({"pingInterval": False})
    node = await opened(peers, server.url, {"reconnect": {"min": 100, "max": 150, "retries": 50}})
    server.send({"op": "stop"})
    await server.wait_for("closed")
    await node.wait_for("reconnect scheduled")
    server.send({"op": "listen"})
    listening = await server.wait_for("listening", n=2)
    assert listening["port"] == server.port
    await node.wait_for("reconnected", timeout=10)
    await node.wait_for("open", n=2)
    await server.wait_for("connection", n=2)


@pytest_twisted.ensureDeferred
async def test_node_server_denies_and_heartbeats(peers: Any) -> None:
    denied = await peers.server(
        {"authorization": {"deny": {"status": 401, "message": "I failed", "authenticate": "Basic"}}}
    )
    node = await peers.client()
    node.connect(denied.url, client="d", socket={"authorization": True})
    status, headers, body = (await node.wait_for("unexpected-response", client="d"))["args"]
    assert (status, headers["www-authenticate"], json.loads(body)) == (
        401,
        "Basic",
        {"error": "I failed"},
    )
    await node.wait_for("end", client="d")
    assert denied.named("connection") == []

    beating = await peers.server({"pingInterval": 200})
    await opened(peers, beating.url, client="h", node=node)
    await node.wait_for("incoming::ping", client="h", n=2)
    await beating.wait_for("heartbeat", n=2)
    server_eval = await beating.eval("return primus.connected")
    assert server_eval["args"] == [1]


# -- the Python side of the harness ---------------------------------------


@pytest_twisted.ensureDeferred
async def test_timeouts_list_the_events_seen(peers: Any) -> None:
    node = await peers.client()
    node.send({"op": "eval", "code": "emit('marker', 'here'); return 1"})
    await node.wait_for("eval")
    with pytest.raises(PeerTimeout) as caught:
        await node.wait_for("never", timeout=0.2)
    assert "'never'" in str(caught.value)
    assert '"marker"' in str(caught.value)


@pytest_twisted.ensureDeferred
async def test_stop_kills_a_process_that_does_not_exit(peers: Any) -> None:
    node = await peers.client()
    # Block Node's event loop: the exit command can no longer be read.
    node.send({"op": "eval", "code": "const end = Date.now() + 60000; while (Date.now() < end) {}"})
    waiting = node.wait_for("never", timeout=30)
    await node.stop(timeout=0.3)
    assert not node.running
    with pytest.raises(PeerExited):
        await waiting
    with pytest.raises(PeerExited):
        node.send({"op": "exit"})


@pytest_twisted.ensureDeferred
async def test_node_server_counts_ping_frames_as_heartbeats(peers: Any) -> None:
    # The reference for test_websocket_ping_frames_are_heartbeats.
    server = await peers.server({"pingInterval": 200})
    node = await peers.client()
    node.send({"op": "raw_connect", "url": f"ws://127.0.0.1:{server.port}/primus"})
    await node.wait_for("raw:open")
    node.send({"op": "raw_ping", "every": 50})
    await node.wait_for(
        "raw:message", n=4, where=lambda e: str(e["args"][0]).startswith('"primus::ping::')
    )
    assert node.named("raw:close") == []
    await server.wait_for("heartbeat")
    assert server.named("end") == []
