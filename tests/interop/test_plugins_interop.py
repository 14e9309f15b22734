"""
The built-in plugins against the npm plugins they speak for, in both
directions: the official Primus client compiled with primus-emitter,
primus-emit and primus-responder against our server, and a Node Primus
server running those plugins (and primus-rooms) against our Python client.
The npm packages are pinned in tests/js/package.json.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted
from waits import next_event as wait_event
from waits import until

from primus_tx import Primus, Spark

pytestmark = pytest.mark.timeout(30)


def sparks_of(primus: Primus) -> list[Spark]:
    made: list[Spark] = []
    primus.on("connection", made.append)
    return made


# -- emitter ------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_npm_emitter_client_against_our_server(reactor: Any, peers: Any, servers: Any) -> None:
    primus, url = servers.start(plugin="emitter", ping_interval=0)
    sparks = sparks_of(primus)
    received: list[Any] = []

    def connection(spark: Any) -> None:
        spark.on("greet", lambda name: f"hello {name}")
        spark.on("plain", lambda *args: received.append(args))

    primus.on("connection", connection)
    node = await peers.client()
    await node.open_client(url, npm_plugins={"emitter": "primus-emitter"})
    await until(reactor, lambda: sparks)
    spark: Any = sparks[0]

    # client -> server, with and without an ack
    await node.eval(
        "client.send('plain', 1, {a: [2]});"
        "client.send('greet', 'bob', function (reply) { emit('acked', reply); });"
    )
    assert (await node.wait_for("acked"))["args"] == ["hello bob"]
    assert received == [(1, {"a": [2]})]

    # server -> client, with an ack answered by the npm client
    await node.eval(
        "client.on('ask', function (n, ack) { ack(n * 2, 'x'); });"
        "client.on('news', function (a, b) { emit('news', a, b); });"
    )
    assert await spark.send("ask", 21, ack=True) == [42, "x"]
    spark.send("news", "one", 1)
    assert (await node.wait_for("news"))["args"] == ["one", 1]
    primus.send("news", {"to": "all"}, [1, 2])
    assert (await node.wait_for("news", n=2))["args"] == [{"to": "all"}, [1, 2]]
    # The npm client's data listeners see the packets, as with a Node server.
    datas = [e["args"][0] for e in node.named("data")]
    assert {"type": 0, "data": ["news", "one", 1]} in datas


@pytest_twisted.ensureDeferred
async def test_our_client_against_npm_emitter_server(reactor: Any, peers: Any) -> None:
    server = await peers.server(
        {"pingInterval": False, "echo": False, "plugins": {"emitter": "primus-emitter"}}
    )
    await server.eval(
        "primus.on('connection', function (spark) {"
        "  spark.on('greet', function (name, ack) { ack('hello ' + name, 2); });"
        "  spark.on('plain', function (a, b) { emit('plain', [a, b]); });"
        "}); return 1;"
    )
    Socket = Primus.create_socket(plugin="emitter")
    socket: Any = await Socket.connect(server.url, reactor=reactor)
    try:
        spark_id = (await server.wait_for("connection"))["args"][0]["id"]
        assert await socket.send("greet", "py", ack=True) == ["hello py", 2]
        socket.send("plain", {"x": 1}, None)
        assert (await server.wait_for("plain"))["args"] == [{"x": 1}, None]

        socket.on("ask", lambda n: n + 1)
        got = wait_event(reactor, socket, "news")
        await server.eval(
            f"var spark = primus.spark({json.dumps(spark_id)});"
            "spark.send('ask', 41, function (reply) { emit('answered', [reply]); });"
            "primus.send('news', 'everyone'); return 1;"
        )
        assert (await server.wait_for("answered"))["args"] == [42]
        assert await got == ("everyone",)
    finally:
        await socket.end()


@pytest_twisted.ensureDeferred
async def test_null_and_hostile_frames_never_take_our_server_down(
    reactor: Any, peers: Any, servers: Any
) -> None:
    # Every plugin that crashes Node on a `null` frame, loaded at once.
    primus, url = servers.start(plugin="emitter, emit, responder, rooms", ping_interval=0)
    sparks = sparks_of(primus)
    node = await peers.client()
    node.send({"op": "raw_connect", "url": url.replace("http://", "ws://") + "/primus"})
    await node.wait_for("raw:open")
    await until(reactor, lambda: sparks)
    data: list[Any] = []
    sparks[0].on("data", data.append)
    frames = [
        "null", "0", "1.5", '"text"', "[1,2]", "[]", "{}", "true",
        '{"emit":null}', '{"emit":[]}', '{"emit":"x"}', '{"emit":[null]}', '{"emit":[["a"]]}',
        '{"type":0,"data":null}', '{"type":0,"data":[]}', '{"type":1,"data":[],"id":5}',
        '{"type":0,"data":["x"],"id":"7"}', '{"plugin":"primus-responder"}',
        '{"plugin":"primus-responder","requestId":null}',
        '{"plugin":"primus-responder","responseId":"nope","data":1}',
        '{"plugin":"primus-responder","requestId":{"a":1}}',
        '{"emit":["__proto__"]}', '{"emit":["constructor",1]}',
    ]
    for frame in frames:
        node.send({"op": "raw_send", "data": frame})
    node.send({"op": "raw_send", "data": '"last"'})
    await until(reactor, lambda: "last" in data)
    assert sparks[0].ready_state == Spark.OPEN
    assert [None, 0, 1.5, "text", [1, 2], [], {}, True] == data[:8]
    # still serving: a real client connects and talks
    await node.open_client(url, npm_plugins={"emitter": "primus-emitter"})
    await until(reactor, lambda: len(sparks) == 2)


# -- emit -----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_npm_emit_client_against_our_server(reactor: Any, peers: Any, servers: Any) -> None:
    primus, url = servers.start(plugin="emit", ping_interval=0)
    sparks = sparks_of(primus)
    got: list[Any] = []
    data: list[Any] = []

    def connection(spark: Any) -> None:
        spark.on("custom", lambda *args: got.append(args))
        spark.on("data", data.append)

    primus.on("connection", connection)
    node = await peers.client()
    await node.open_client(url, npm_plugins={"emit": "primus-emit"})
    await until(reactor, lambda: sparks)
    await node.eval(
        "client.on('news', function (a, b) { emit('news', a, b); });"
        "client.emit('custom', {foo: 'foo'}, 1, 'bar'); client.write('plain');"
    )
    await until(reactor, lambda: data)
    assert got == [({"foo": "foo"}, 1, "bar")]
    assert data == ["plain"]
    sparks[0].emit("news", "hello", [1, 2])
    assert (await node.wait_for("news"))["args"] == ["hello", [1, 2]]
    assert node.named("data") == []  # envelopes are not data on the npm client either


@pytest_twisted.ensureDeferred
async def test_our_client_against_npm_emit_server(reactor: Any, peers: Any) -> None:
    server = await peers.server(
        {"pingInterval": False, "echo": False, "plugins": {"emit": "primus-emit"}}
    )
    await server.eval(
        "primus.on('connection', function (spark) {"
        "  spark.on('custom', function (a, b) { emit('custom', [a, b]); spark.emit('back', a); });"
        "}); return 1;"
    )
    Socket = Primus.create_socket(plugin="emit")
    socket: Any = await Socket.connect(server.url, reactor=reactor)
    try:
        back = wait_event(reactor, socket, "back")
        socket.emit("custom", {"x": 1}, 2)
        assert (await server.wait_for("custom"))["args"] == [{"x": 1}, 2]
        assert await back == ({"x": 1},)
    finally:
        await socket.end()


# -- responder --------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_npm_responder_client_against_our_server(
    reactor: Any, peers: Any, servers: Any
) -> None:
    primus, url = servers.start(plugin="responder", ping_interval=0)
    sparks = sparks_of(primus)
    primus.on("connection", lambda spark: spark.on("request", lambda body: {"answer": body["q"] * 2}))
    node = await peers.client()
    await node.open_client(url, npm_plugins={"responder": "primus-responder"})
    await until(reactor, lambda: sparks)
    await node.eval(
        "client.writeAndWait({q: 21}, function (response) { emit('response', response); });"
        "client.on('request', function (data, done) { done({echo: data}); });"
    )
    assert (await node.wait_for("response"))["args"] == [{"answer": 42}]
    assert await sparks[0].write_and_wait("ping", timeout=5) == {"echo": "ping"}


@pytest_twisted.ensureDeferred
async def test_our_client_against_npm_responder_server(reactor: Any, peers: Any) -> None:
    server = await peers.server(
        {"pingInterval": False, "echo": False, "plugins": {"responder": "primus-responder"}}
    )
    await server.eval(
        "primus.on('connection', function (spark) {"
        "  spark.on('request', function (data, done) { done({got: data}); });"
        "  spark.writeAndWait('from node', function (r) { emit('response', [r]); });"
        "}); return 1;"
    )
    Socket = Primus.create_socket(plugin="responder")
    socket: Any = Socket(server.url, reactor=reactor)
    socket.on("request", lambda body: f"python saw {body}")
    try:
        assert await socket.write_and_wait([1, 2], timeout=5) == {"got": [1, 2]}
        assert (await server.wait_for("response"))["args"] == ["python saw from node"]
    finally:
        await socket.end()


# -- rooms ------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_our_client_receives_npm_rooms_broadcasts(reactor: Any, peers: Any) -> None:
    server = await peers.server(
        {
            "pingInterval": False,
            "echo": False,
            "plugins": {"emitter": "primus-emitter", "rooms": "primus-rooms"},
        }
    )
    await server.eval(
        "primus.on('connection', function (spark) {"
        "  spark.on('join', function (room, ack) { spark.join(room, function () { ack(room); }); });"
        "}); return 1;"
    )
    Socket = Primus.create_socket(plugin="emitter")
    socket: Any = await Socket.connect(server.url, reactor=reactor)
    try:
        assert await socket.send("join", "news", ack=True) == ["news"]
        evt = wait_event(reactor, socket, "evt")
        data = wait_event(reactor, socket, "data")
        await server.eval("primus.room('news').write({hello: 'news'}); return 1;")
        assert await data == ({"hello": "news"},)
        await server.eval("primus.room('news').send('evt', 1, 2); return 1;")
        assert await evt == (1, 2)
    finally:
        await socket.end()


@pytest_twisted.ensureDeferred
async def test_npm_emitter_clients_in_our_rooms(reactor: Any, peers: Any, servers: Any) -> None:
    primus, url = servers.start(plugin="emitter, rooms", ping_interval=0)
    sparks = sparks_of(primus)
    primus.on("connection", lambda spark: spark.on("join", lambda room: spark.join(room)))
    node = await peers.client()
    for name in ("a", "b", "c"):
        node.connect(url, client=name, npm_plugins={"emitter": "primus-emitter"})
        await node.wait_for("open", client=name)
        await node.eval(
            f"client.on('evt', function (x) {{ emit('evt', x); }});"
            f"client.send('join', {json.dumps('news' if name != 'c' else 'sport')},"
            f" function () {{ emit('joined'); }});",
            client=name,
        )
        await node.wait_for("joined", client=name)
    assert await primus.room("news").send("evt", "to news") == 2
    await node.wait_for("evt", client="a")
    await node.wait_for("evt", client="b")
    assert await primus.room("news", "sport").send("evt", "to all") == 3
    await node.wait_for("evt", client="c")
    assert [e["args"] for e in node.named("evt", client="c")] == [["to all"]]
    assert len(sparks) == 3


@pytest_twisted.ensureDeferred
async def test_hostile_frames_from_a_node_server_never_break_our_client(
    reactor: Any, peers: Any
) -> None:
    server = await peers.server({"pingInterval": False, "echo": False})
    Socket = Primus.create_socket(plugin="emitter, emit, responder")
    socket: Any = await Socket.connect(server.url, reactor=reactor)
    try:
        spark_id = (await server.wait_for("connection"))["args"][0]["id"]
        data: list[Any] = []
        socket.on("data", data.append)
        errors: list[Any] = []
        socket.on("error", errors.append)
        frames = [
            "null", "0", "[1,2]", '"text"', "{}", '{"emit":null}', '{"emit":[]}',
            '{"emit":["open"]}', '{"type":0,"data":null}', '{"type":0,"data":["end"]}',
            '{"type":1,"data":[],"id":1}', '{"plugin":"primus-responder"}',
            '{"plugin":"primus-responder","responseId":"x"}', '"last"',
        ]
        for frame in frames:
            server.send({"op": "raw", "id": spark_id, "data": frame})
        await until(reactor, lambda: "last" in data)
        assert data[:5] == [None, 0, [1, 2], "text", {}]
        assert errors == []
        # still talking
        await server.eval(
            f"primus.spark({json.dumps(spark_id)}).write('after'); return 1;"
        )
        await until(reactor, lambda: "after" in data)
    finally:
        await socket.end()
