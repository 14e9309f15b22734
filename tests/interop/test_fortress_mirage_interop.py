"""
fortress-maximus and mirage against the npm packages (pinned in
tests/js/package.json): the official Primus client compiled with
primus-emit and mirage against our server, and a Node Primus server
running mirage and primus-emit against our Python client.  (fortress
has no client half: its interop is the npm client's envelopes meeting our
validation.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted
from waits import next_event, until

from primus_tx import Primus
from primus_tx.plugins.fortress import event_of

pytestmark = pytest.mark.timeout(30)

NPM = {"emit": "primus-emit", "mirage": "mirage"}


@pytest_twisted.ensureDeferred
async def test_npm_emit_client_meets_our_fortress(reactor: Any, peers: Any, servers: Any) -> None:
    primus, url = servers.start(plugin="fortress-maximus", ping_interval=0)
    primus.validate("chat", lambda spark, text: isinstance(text, str) and len(text) < 10)
    refused: list[Any] = []
    primus.on("invalid", lambda error, args: refused.append((str(error), args)))
    events: list[Any] = []

    def connection(spark: Any) -> None:
        spark.on("chat", lambda *args: None)  # a listener, as the emit plugin's users have
        spark.on("data", lambda data: events.append(event_of(data)))

    primus.on("connection", connection)
    node = await peers.client()
    await node.open_client(url, npm_plugins={"emit": "primus-emit"})
    await node.eval(
        "client.emit('chat', 'hello'); client.emit('chat', 'far too long a message');"
        "client.emit('chat', 42); client.emit('unknown', 1); client.emit('chat', 'bye');"
        "return 1;"
    )
    await until(reactor, lambda: len(events) >= 2 and len(refused) >= 3)
    assert events == [("chat", ["hello"]), ("chat", ["bye"])]
    assert [r[0] for r in refused] == [
        "chat did not validate",
        "chat did not validate",
        "Missing listener for unknown",
    ]


@pytest_twisted.ensureDeferred
async def test_npm_mirage_client_against_our_server(reactor: Any, peers: Any, servers: Any) -> None:
    primus, url = servers.start(plugin="mirage", ping_interval=0)
    ids: list[str] = []
    received: list[Any] = []

    def connection(spark: Any) -> None:
        ids.append(spark.id)
        spark.on("data", received.append)

    primus.on("connection", connection)
    node = await peers.client()
    await node.open_client(url, npm_plugins=NPM)
    await node.eval(
        "client.on('mirage', function (id) { emit('mirage', id); });"
        "client.write('after the id'); return 1;"
    )
    await until(reactor, lambda: ids)
    first = ids[0]
    assert len(first) == 16
    await until(reactor, lambda: received)
    assert received == ["after the id"]
    # The server drops the connection; the client comes back with its id.
    primus.spark(first).end(reconnect=True)
    await until(reactor, lambda: len(ids) == 2, timeout=10)
    assert ids == [first, first]
    await node.wait_for("open", n=2)  # the same client, reconnected


@pytest_twisted.ensureDeferred
async def test_our_mirage_client_against_npm_mirage_server(reactor: Any, peers: Any) -> None:
    server = await peers.server({"pingInterval": False, "echo": False, "plugins": NPM})
    await server.eval(
        "primus.on('connection', function (spark) { emit('mirage id', [spark.mirage]); });"
        "return 1;"
    )
    Socket = Primus.create_socket(plugin="mirage")
    socket: Any = Socket(server.url, reactor=reactor, reconnect={"min": 0.05, "max": 0.1})
    learned = next_event(reactor, socket, "mirage")
    try:
        (id,) = await learned
        assert (await server.wait_for("mirage id"))["args"] == [id]
        assert socket.mirage == id and len(id) == 16
        # Reconnecting, the client sends its id and Node validates it.
        await server.eval("primus.forEach(function (spark) { spark.end(undefined, {reconnect: true}); }); return 1;")
        assert (await server.wait_for("mirage id", n=2, timeout=10))["args"] == [id]
        await server.eval(f"return {json.dumps(id)};")
    finally:
        await socket.end()
