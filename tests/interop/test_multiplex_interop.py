"""
The multiplex plugin against the npm primus-multiplex 3.2.1 (pinned in
tests/js/package.json), both ways: the official Primus client compiled
with it against our server, and a Node Primus server running it against
our Python client.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from waits import next_event, until

from primus_tx import Primus

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("transformer", ["websockets", "engine.io"])
@pytest_twisted.ensureDeferred
async def test_npm_multiplex_client_against_our_server(
    reactor: Any, peers: Any, servers: Any, transformer: str
) -> None:
    primus, url = servers.start(plugin="multiplex", ping_interval=0, transformer=transformer)
    news: Any = primus.channel("news")
    received: list[Any] = []
    connected: Deferred[Any] = Deferred()

    def connection(spark: Any) -> None:
        spark.write({"welcome": "news"})
        spark.on("data", received.append)
        connected.callback(spark)

    news.on("connection", connection)
    node = await peers.client()
    await node.open_client(url, npm_plugins={"multiplex": "primus-multiplex"}, transformer=transformer)
    await node.eval(
        "var news = globalThis.news = client.channel('news');"
        "news.on('data', function (d) { emit('news', d); });"
        "news.on('end', function () { emit('news end'); });"
        "news.write('hello news'); return news.id;"
    )
    channel_spark = await connected.addTimeout(5, reactor)
    assert (await node.wait_for("news"))["args"] == [{"welcome": "news"}]
    ended = next_event(reactor, channel_spark, "end")
    channel_spark.write([1, "two"])
    assert (await node.wait_for("news", n=2))["args"] == [[1, "two"]]
    await until(reactor, lambda: received)  # polling may deliver it after our writes
    assert received == ["hello news"]
    await node.eval("globalThis.news.end(); return 1;")
    await ended


@pytest_twisted.ensureDeferred
async def test_our_client_against_npm_multiplex_server(reactor: Any, peers: Any) -> None:
    server = await peers.server(
        {"pingInterval": False, "echo": False, "plugins": {"multiplex": "primus-multiplex"}}
    )
    await server.eval(
        "var news = primus.channel('news');"
        "news.on('connection', function (spark) {"
        "  emit('subscribed', [spark.id]);"
        "  spark.write({welcome: 'news'});"
        "  spark.on('data', function (d) { emit('news', [d]); spark.write({echo: d}); });"
        "  spark.on('end', function () { emit('news end', [spark.id]); });"
        "}); return 1;"
    )
    Socket = Primus.create_socket(plugin="multiplex")
    socket: Any = await Socket.connect(server.url, reactor=reactor)
    try:
        news = socket.channel("news")
        welcome = next_event(reactor, news, "data")
        assert (await server.wait_for("subscribed"))["args"] == [news.id]
        assert await welcome == ({"welcome": "news"},)
        echoed = next_event(reactor, news, "data")
        news.write({"from": "python"})
        assert (await server.wait_for("news"))["args"] == [{"from": "python"}]
        assert await echoed == ({"echo": {"from": "python"}},)
        news.end()
        assert (await server.wait_for("news end"))["args"] == [news.id]
        await server.eval(f"return {json.dumps(news.id)};")
    finally:
        await socket.end()
