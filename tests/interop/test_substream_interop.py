"""
The substream plugin against the npm ``substream`` 0.2.0 (pinned in
tests/js/package.json), both ways: the official Primus client compiled
with it against our server, and a Node Primus server running it against
our Python client.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted
from waits import next_event, until

from primus_tx import Primus, Spark

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("transformer", ["websockets", "engine.io", "sockjs"])
@pytest_twisted.ensureDeferred
async def test_npm_substream_client_against_our_server(
    reactor: Any, peers: Any, servers: Any, transformer: str
) -> None:
    primus, url = servers.start(plugin="substream", ping_interval=0, transformer=transformer)
    sparks: list[Spark] = []
    received: list[Any] = []

    def connection(spark: Any) -> None:
        sparks.append(spark)
        news = spark.substream("news")
        news.on("data", lambda data: received.append(("news", data)))
        news.on("end", lambda: received.append(("news", "ended")))
        spark.on("data", lambda data: received.append(("data", data)))

    primus.on("connection", connection)
    node = await peers.client()
    await node.open_client(url, npm_plugins={"substream": "substream"}, transformer=transformer)
    await until(reactor, lambda: sparks)
    spark: Any = sparks[0]

    await node.eval(
        "var news = client.substream('news');"
        "news.on('data', function (d) { emit('news', d); });"
        "news.on('end', function () { emit('news end'); });"
        "news.write({hello: 'news'});"
        "client.substream('other').write('not opened on the server');"
        "return 1;"
    )
    await until(reactor, lambda: len(received) >= 2)
    assert received == [
        ("news", {"hello": "news"}),
        ("data", {"substream": "other", "args": "not opened on the server"}),
    ]

    spark.substream("news").write([1, "two"])
    assert (await node.wait_for("news"))["args"] == [[1, "two"]]
    spark.substream("news").end()
    await node.wait_for("news end")

    # And the client ends one: the server's stream hears it.
    again = spark.substream("again")
    last = next_event(reactor, again, "data")
    ended = next_event(reactor, again, "end")
    await node.eval("client.substream('again').end('last'); return 1;")
    assert await last == ("last",)
    await ended


@pytest_twisted.ensureDeferred
async def test_our_client_against_npm_substream_server(reactor: Any, peers: Any) -> None:
    server = await peers.server(
        {"pingInterval": False, "echo": False, "plugins": {"substream": "substream"}}
    )
    await server.eval(
        "primus.on('connection', function (spark) {"
        "  var chat = spark.substream('chat');"
        "  chat.on('data', function (d) { emit('chat', [d]); chat.write({echo: d}); });"
        "  chat.on('end', function () { emit('chat end', []); });"
        "  spark.on('data', function (d) { emit('plain', [d]); });"
        "}); return 1;"
    )
    Socket = Primus.create_socket(plugin="substream")
    socket: Any = await Socket.connect(server.url, reactor=reactor)
    try:
        spark_id = (await server.wait_for("connection"))["args"][0]["id"]
        chat = socket.substream("chat")
        echoed = next_event(reactor, chat, "data")
        chat.write({"from": "python"})
        assert (await server.wait_for("chat"))["args"] == [{"from": "python"}]
        assert await echoed == ({"echo": {"from": "python"}},)

        socket.substream("unknown").write(3)
        assert (await server.wait_for("plain"))["args"] == [{"substream": "unknown", "args": 3}]

        news = socket.substream("news")
        news_data = next_event(reactor, news, "data")
        news_end = next_event(reactor, news, "end")
        await server.eval(
            f"var spark = primus.spark({json.dumps(spark_id)});"
            "var news = spark.substream('news'); news.write('headline'); news.end(); return 1;"
        )
        assert await news_data == ("headline",)
        await news_end

        chat.end()
        await server.wait_for("chat end")
    finally:
        await socket.end()
