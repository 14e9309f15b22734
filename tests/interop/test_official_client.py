"""
The official Primus 8 client (npm ``primus`` 8.0.9 with ``ws``, in Node)
against primus-tx's server.

Each test runs a primus-tx server on 127.0.0.1 in the test reactor and one
Node process (tests/js/primus_client_driver.js) holding one or more
official clients; the assertions are what docs/protocol/primus.rst says a Node Primus
8 server would show the same client.  Where the HTTP surface is compared,
the reference is a real Node Primus server (tests/js/primus_server_driver.js)
answering the same request.
"""

from __future__ import annotations

import json
import time
from typing import Any, Optional

import pytest
import pytest_twisted
from nodepeer import after, lifecycle
from spec_orders import SERVER_ASKED_RECONNECT
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import AuthorizationError, Packet, PrimusError

#: Each WebSocket transformer name primus-tx serves, and the transformer
#: the official client is built with for the whole suite.  The wire is the
#: same for all three, so the suite runs with the ``ws`` client Node
#: Primus's ``websockets`` and ``uws`` transformers use (``createSocket``
#: refuses ``uws`` itself without the native server module, which no
#: current Node builds).  Node Primus's ``faye`` client, faye-websocket,
#: reports close codes differently (1000 for a close frame without a code)
#: and hides the handshake response, so it has tests of its own below.
ENGINES = {"websockets": "websockets", "uws": "websockets", "faye": "websockets"}


@pytest.fixture(autouse=True, params=sorted(ENGINES))
def engine(request: Any, servers: Any, peers: Any) -> str:
    """
    Every test runs against each WebSocket transformer name (see
    :data:`ENGINES` for the client it uses).
    """
    name: str = request.param
    servers.transformer = name
    peers.transformer = ENGINES[name]
    return name


def sleep(reactor: Any, seconds: float) -> Deferred[None]:
    return deferLater(reactor, seconds, lambda: None)


def echo(spark: Any) -> None:
    spark.on("data", spark.write)


class Recorder:
    """
    Server-side record of what sparks saw.
    """

    def __init__(self, primus: Any) -> None:
        self.sparks: list[Any] = []
        self.data: list[Any] = []
        self.events: list[tuple[str, str]] = []
        primus.on("connection", self._connection)
        primus.on("disconnection", lambda spark: self.events.append(("disconnection", spark.id)))

    def _connection(self, spark: Any) -> None:
        self.sparks.append(spark)
        self.events.append(("connection", spark.id))
        spark.on("data", self.data.append)
        spark.on("end", lambda: self.events.append(("end", spark.id)))
        spark.on("heartbeat", lambda: self.events.append(("heartbeat", spark.id)))
        spark.on("error", lambda error: self.events.append(("error", str(error))))

    def names(self, name: str) -> list[tuple[str, str]]:
        return [event for event in self.events if event[0] == name]


async def wait_until(reactor: Any, predicate: Any, timeout: float = 5.0, what: str = "") -> None:
    """
    Poll a server-side condition (bounded).
    """
    deadline = reactor.seconds() + timeout
    while not predicate():
        if reactor.seconds() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await sleep(reactor, 0.01)


async def opened(
    peers: Any,
    url: str,
    options: Optional[dict[str, Any]] = None,
    client: str = "default",
    node: Any = None,
    **connect: Any,
) -> Any:
    """
    A Node client process (a new one unless ``node``) with one open client.
    """
    node = node or await peers.client()
    await node.open_client(url, options, client=client, **connect)
    return node


# -- messages --------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_open_and_echo_nested_object(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    primus.on("connection", echo)
    node = await opened(peers, url)
    message = {"a": [1, {"b": None, "c": [True, False]}], "d": {"e": {"f": "g"}}}
    node.write(message)
    event = await node.wait_for("data")
    assert event["args"] == [message, json.dumps(message, separators=(",", ":"))]
    assert recorder.data == [message]
    assert lifecycle(node) == ["readyStateChange:opening", "readyStateChange:open", "open"]


UNICODE = ["😀🎉", "שלום עולם", "مرحبا", "pongРУССКИЙ", "€€€", "a\u0000b", "\ud7ff\ue000"]  # noqa: RUF001
SCALARS = [0, False, None, "", -0.5, 1e300, 2**53 - 1, -(2**53) + 1, 12345678901234567000]


@pytest_twisted.ensureDeferred
async def test_unicode_falsy_and_big_numbers_round_trip(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    primus.on("connection", echo)
    node = await opened(peers, url)
    values: list[Any] = UNICODE + SCALARS + [{"nested": UNICODE}, [SCALARS]]
    for value in values:
        node.write(value)
    await node.wait_for("data", n=len(values))
    received = [event["args"] for event in node.named("data")]
    assert [args[0] for args in received] == values
    assert recorder.data == values
    # The raw frame text is JSON.stringify's: compact, non-ASCII unescaped.
    raws = {json.dumps(v, ensure_ascii=False): args[1] for v, args in zip(values, received)}
    assert raws['"pongРУССКИЙ"'] == '"pongРУССКИЙ"'  # noqa: RUF001
    assert raws['"€€€"'] == '"€€€"'
    assert raws["0"] == "0"
    assert raws["false"] == "false"
    assert raws["null"] == "null"
    assert raws['""'] == '""'
    assert raws[str(2**53 - 1)] == str(2**53 - 1)


@pytest_twisted.ensureDeferred
async def test_line_separators_are_escaped_on_the_wire(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    node = await opened(peers, url)
    spark = recorder.sparks[0]
    spark.write({"x": "a\u2028b\u2029c"})
    event = await node.wait_for("data")
    data, raw = event["args"]
    assert data == {"x": "a\u2028b\u2029c"}
    # Six-character escapes in the frame, not the raw characters.
    assert raw == '{"x":"a\\u2028b\\u2029c"}'
    # And the client's own escaping decodes on our side.
    node.write(["\u2028\u2029"])
    await wait_until(node._reactor, lambda: recorder.data, what="data")
    assert recorder.data == [["\u2028\u2029"]]


@pytest_twisted.ensureDeferred
async def test_binary_frames_both_ways(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    node = await opened(peers, url)
    payload = bytes(range(256))
    # The JSON parser would stringify a Buffer, so the client sends a binary
    # frame through its transport directly (as a binary parser would).
    await node.eval(
        f"client.emit('outgoing::data', Buffer.from({json.dumps(list(payload))})); return true"
    )
    await wait_until(node._reactor, lambda: recorder.data, what="binary data")
    assert recorder.data == [payload]
    assert isinstance(recorder.data[0], bytes)
    recorder.sparks[0].write(b"\x00\x01\xfe\xff")
    event = await node.wait_for("data")
    # Bytes arrive as a Buffer (a binary frame), data and raw alike.
    assert event["args"] == [b"\x00\x01\xfe\xff", b"\x00\x01\xfe\xff"]


@pytest_twisted.ensureDeferred
async def test_writes_buffered_before_open_arrive_in_order(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    node = await peers.client()
    node.connect(url)
    for number in range(11):
        node.write(number)
    await node.wait_for("open")
    await wait_until(node._reactor, lambda: len(recorder.data) == 11, what="11 messages")
    assert recorder.data == list(range(11))


@pytest_twisted.ensureDeferred
async def test_id_is_the_spark_id(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    node = await opened(peers, url)
    node.send({"op": "id"})
    event = await node.wait_for("id")
    assert event["args"] == [recorder.sparks[0].id]
    # The id request is protocol, not data.
    assert recorder.data == []


@pytest_twisted.ensureDeferred
async def test_unknown_primus_messages_are_data(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    node = await opened(peers, url)
    node.write("primus::foo::bar")
    await wait_until(node._reactor, lambda: recorder.data, what="data")
    assert recorder.data == ["primus::foo::bar"]
    recorder.sparks[0].write("primus::foo::baz")
    event = await node.wait_for("data")
    assert event["args"] == ["primus::foo::baz", '"primus::foo::baz"']


@pytest_twisted.ensureDeferred
async def test_protocol_prefixed_user_strings_are_swallowed(
    peers: Any, servers: Any, reactor: Any
) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    node = await opened(peers, url)
    spark = recorder.sparks[0]
    # To the server: pong and id are protocol; a pong counts as a heartbeat,
    # an id request is answered with the spark id.
    node.write("primus::pong::12345")
    node.write("primus::id::anything")
    node.write("after")
    await wait_until(reactor, lambda: recorder.data, what="data")
    assert recorder.data == ["after"]
    assert recorder.names("heartbeat") == [("heartbeat", spark.id)]
    # To the client: ping, server and id are protocol.
    spark.write("primus::ping::777")
    spark.write("primus::server::whatever")
    spark.write("primus::id::someone")
    spark.write("after")
    await node.wait_for("data")
    await node.wait_for("incoming::ping")
    assert [e["args"][0] for e in node.named("data")] == ["after"]
    assert node.named("incoming::ping")[0]["args"] == [777]
    # ...and the client answered that ping with a pong.
    await wait_until(reactor, lambda: len(recorder.names("heartbeat")) == 2, what="pong")


# -- heartbeats ------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_heartbeats_keep_the_connection(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0.2)
    recorder = Recorder(primus)
    node = await opened(peers, url, {"pingTimeout": 1500})
    first = await node.wait_for("incoming::ping")
    await node.wait_for("incoming::ping", n=5)
    pings = [event["args"][0] for event in node.named("incoming::ping")]
    assert all(isinstance(ping, int) for ping in pings)
    assert pings == sorted(pings)
    # Date.now()-style epoch milliseconds.
    assert abs(first["args"][0] - time.time() * 1000) < 60_000
    await wait_until(
        node._reactor, lambda: len(recorder.names("heartbeat")) >= 4, what="heartbeats"
    )
    assert recorder.names("end") == []
    assert node.named("close") == []
    assert recorder.sparks[0].ready_state == recorder.sparks[0].OPEN


@pytest_twisted.ensureDeferred
async def test_client_that_does_not_pong_is_closed(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0.2)
    recorder = Recorder(primus)
    node = await peers.client()
    node.connect(url, {"manual": True, "reconnect": {"min": 5000}})
    # Without its ping handler the client never answers.
    await node.eval("client.removeAllListeners('incoming::ping'); client.open(); return 1")
    await node.wait_for("open")
    await node.wait_for("close", timeout=5)
    closed = await node.wait_for("ws:close")
    # A bare close frame, no primus::server::close: the client reconnects.
    assert closed["args"][0] == 1005
    await node.wait_for("reconnect scheduled")
    assert "end" not in lifecycle(node)
    assert recorder.names("heartbeat") == []
    assert recorder.names("end") == [("end", recorder.sparks[0].id)]


# -- ending ----------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_spark_end_ends_the_client_without_reconnect(
    peers: Any, servers: Any, reactor: Any
) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    node = await opened(peers, url, {"reconnect": {"min": 50}})
    recorder.sparks[0].end()
    await node.wait_for("end")
    await sleep(reactor, 0.2)
    assert after(lifecycle(node), "open") == ["readyStateChange:end", "close", "end"]
    assert node.named("ws:close")[0]["args"][0] == 1005
    assert [name for name, _ in recorder.events] == ["connection", "disconnection", "end"]


@pytest_twisted.ensureDeferred
async def test_spark_end_with_data_delivers_it_first(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    node = await opened(peers, url)
    recorder.sparks[0].end({"bye": "now"})
    await node.wait_for("end")
    names = [e["event"] for e in node.events if e["event"] in ("data", "close", "end")]
    assert names == ["data", "close", "end"]
    assert node.named("data")[0]["args"][0] == {"bye": "now"}


@pytest_twisted.ensureDeferred
async def test_spark_end_reconnect_makes_the_client_reconnect(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    node = await opened(peers, url, {"reconnect": {"min": 100}})
    first = recorder.sparks[0]
    first.end(reconnect=True)
    await node.wait_for("open", n=2)
    assert after(lifecycle(node), "open") == SERVER_ASKED_RECONNECT
    scheduled = node.named("reconnect scheduled")[0]["args"][0]
    assert scheduled["attempt"] == 1
    assert scheduled["scheduled"] == 100
    assert node.named("ws:close")[0]["args"][0] == 1005
    await wait_until(node._reactor, lambda: len(recorder.sparks) == 2, what="second spark")
    assert recorder.sparks[1].id != first.id
    node.write("again")
    await wait_until(node._reactor, lambda: recorder.data, what="data")
    assert recorder.data == ["again"]


@pytest_twisted.ensureDeferred
async def test_max_length_exceeded_closes(peers: Any, servers: Any, reactor: Any) -> None:
    primus, url = servers.start(ping_interval=0, max_length=5)
    recorder = Recorder(primus)
    node = await opened(peers, url, {"strategy": False})
    node.write("abcdef")
    await node.wait_for("end")
    closed = await node.wait_for("ws:close")
    assert closed["args"][0] == 1009
    assert recorder.data == []
    await wait_until(reactor, lambda: recorder.names("end"), what="spark end")
    names = [name for name, _ in recorder.events]
    assert names[0] == "connection"
    assert "error" in names and "end" in names
    assert names.index("error") < names.index("end")
    assert after(lifecycle(node), "open") == ["readyStateChange:end", "close", "end"]


@pytest_twisted.ensureDeferred
async def test_destroy_with_reconnect_makes_clients_reconnect(peers: Any, servers: Any) -> None:
    site = Site(Resource())
    primus = servers.primus(site, ping_interval=0)
    url = servers.listen(site)
    node = await opened(peers, url, {"reconnect": {"min": 100, "max": 200}}, client="a")
    await opened(peers, url, {"reconnect": {"min": 100, "max": 200}}, client="b", node=node)
    await primus.destroy(reconnect=True)
    await node.wait_for("reconnect scheduled", client="a")
    await node.wait_for("reconnect scheduled", client="b")
    # A new server on the same site takes the reconnecting clients.
    fresh = servers.primus(site, ping_interval=0)
    recorder = Recorder(fresh)
    await node.wait_for("reconnected", client="a")
    await node.wait_for("reconnected", client="b")
    await node.wait_for("open", client="a", n=2)
    await node.wait_for("open", client="b", n=2)
    assert "end" not in lifecycle(node, "a") + lifecycle(node, "b")
    await wait_until(node._reactor, lambda: len(recorder.sparks) == 2, what="two sparks")


@pytest_twisted.ensureDeferred
async def test_destroy_without_reconnect_ends_clients(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    node = await opened(peers, url, {"reconnect": {"min": 50}})
    await primus.destroy()
    await node.wait_for("end")
    assert after(lifecycle(node), "open") == ["readyStateChange:end", "close", "end"]


# -- broadcast -------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_broadcast_reaches_twenty_clients(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    node = await peers.client()
    names = [f"c{index}" for index in range(20)]
    for name in names:
        node.connect(url, client=name)
    for name in names:
        await node.wait_for("open", client=name, timeout=10)
    await wait_until(node._reactor, lambda: primus.connected == 20, what="20 sparks")
    primus.write({"to": "all", "text": "€ 😀"})
    for name in names:
        event = await node.wait_for("data", client=name)
        assert event["args"] == [{"to": "all", "text": "€ 😀"}, '{"to":"all","text":"€ 😀"}']
    assert len(recorder.sparks) == 20


# -- authorization ---------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_declined_authorization(peers: Any, servers: Any, reactor: Any) -> None:
    def deny(request: Any) -> None:
        raise AuthorizationError("I failed", 401, 'Basic realm="primus"')

    primus, url = servers.start(ping_interval=0, authorization=deny)
    recorder = Recorder(primus)
    node = await peers.client()
    # authorization=True compiles the client as Primus would for a server
    # with an auth function: no "timeout" in the default strategy.
    node.connect(url, {"reconnect": {"min": 50}}, socket={"authorization": True})
    refused = await node.wait_for("unexpected-response")
    status, headers, body = refused["args"]
    assert status == 401
    assert headers["www-authenticate"] == 'Basic realm="primus"'
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert json.loads(body) == {"error": "I failed"}
    await node.wait_for("end")
    await sleep(reactor, 0.3)
    assert "reconnect scheduled" not in lifecycle(node)
    assert "open" not in lifecycle(node)
    assert recorder.sparks == []


@pytest_twisted.ensureDeferred
async def test_declined_authorization_with_status_403(peers: Any, servers: Any) -> None:
    def deny(request: Any) -> None:
        raise AuthorizationError("Go away", 403, 'Basic realm="ignored"')

    _, url = servers.start(ping_interval=0, authorization=deny)
    node = await peers.client()
    node.connect(url, socket={"authorization": True})
    refused = await node.wait_for("unexpected-response")
    status, headers, body = refused["args"]
    assert status == 403
    assert "www-authenticate" not in headers
    assert json.loads(body) == {"error": "Go away"}
    await node.wait_for("end")


@pytest_twisted.ensureDeferred
async def test_accepted_authorization_sync_and_async(
    peers: Any, servers: Any, reactor: Any
) -> None:
    seen: list[Any] = []
    forwarded: list[Any] = []

    def allow(request: Any) -> None:
        seen.append(("sync", request.query.get("token")))
        forwarded.append(request.forwarded)

    async def allow_later(request: Any) -> None:
        await sleep(reactor, 0.1)
        seen.append(("async", request.query.get("token")))

    site = Site(Resource())
    sync_primus = servers.primus(site, ping_interval=0, authorization=allow)
    async_primus = servers.primus(site, pathname="/later", ping_interval=0)
    async_primus.authorize(allow_later)
    url = servers.listen(site)
    sync_primus.on("connection", echo)
    async_primus.on("connection", echo)
    node = await peers.client()
    node.connect(
        url + "/?token=s",
        {"transport": {"headers": {"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Port": "4443"}}},
        client="s",
        socket={"authorization": True},
    )
    node.connect(
        url + "/?token=a", client="a", socket={"authorization": True, "pathname": "/later"}
    )
    # Written before the (slowly authorized) connection opens.
    node.write("buffered", client="a")
    await node.wait_for("open", client="s")
    node.write("hello", client="s")
    assert (await node.wait_for("data", client="s"))["args"][0] == "hello"
    assert (await node.wait_for("data", client="a"))["args"][0] == "buffered"
    assert sorted(seen) == [("async", "a"), ("sync", "s")]
    # The authorization function sees the pre-parsed forwarded address.
    assert [(f.ip, f.port) for f in forwarded] == [("10.1.2.3", 4443)]


# -- HTTP surface, compared with a real Node Primus server -----------------


def _cors_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in headers.items()
        if name.startswith("access-control-") or name in ("vary", "content-length")
    }


@pytest_twisted.ensureDeferred
async def test_cors_preflight_matches_node_primus(peers: Any, servers: Any) -> None:
    _, url = servers.start(ping_interval=0)
    reference = await peers.server({"pingInterval": False})
    node = await peers.client()
    request = {
        "method": "OPTIONS",
        "headers": {
            "Origin": "http://example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-foo, x-bar",
        },
    }
    node.send({"op": "http", "client": "ours", "url": url + "/primus", **request})
    node.send({"op": "http", "client": "node", "url": reference.url + "/primus", **request})
    ours = (await node.wait_for("http", client="ours"))["args"]
    theirs = (await node.wait_for("http", client="node"))["args"]
    assert ours[0] == theirs[0] == 200
    assert ours[2] == theirs[2] == ""
    assert _cors_headers(ours[1]) == _cors_headers(theirs[1])
    # What docs/protocol/primus.rst, "CORS", says the reference shows.
    assert ours[1]["access-control-allow-origin"] == "http://example.com"
    assert ours[1]["access-control-allow-credentials"] == "true"
    assert ours[1]["access-control-max-age"] == "2592000"
    assert ours[1]["access-control-allow-headers"] == "x-foo, x-bar"


@pytest_twisted.ensureDeferred
async def test_spec_document_byte_for_byte(peers: Any, servers: Any, engine: str) -> None:
    _, url = servers.start()
    # Node Primus cannot load its uws engine on a current Node: compare with
    # its websockets document, which differs only in the name.
    reference = await peers.server({"transformer": engine if engine != "uws" else "websockets"})
    node = await peers.client()
    node.send({"op": "http", "client": "ours", "url": url + "/primus/spec"})
    node.send({"op": "http", "client": "node", "url": reference.url + "/primus/spec"})
    ours = (await node.wait_for("http", client="ours"))["args"]
    theirs = (await node.wait_for("http", client="node"))["args"]
    expected = (
        '{"pingInterval":30000,"pathname":"/primus","version":"8.0.9",'
        f'"parser":"json","transformer":"{engine}"}}'
    )
    assert theirs[2].replace('"websockets"', f'"{engine}"') == expected
    assert ours[0] == 200
    assert ours[2] == expected
    assert ours[1]["content-type"] == theirs[1]["content-type"] == "application/json"


@pytest_twisted.ensureDeferred
async def test_plain_get_under_the_pathname_is_426(peers: Any, servers: Any) -> None:
    _, url = servers.start(ping_interval=0)
    node = await peers.client()
    node.send({"op": "http", "url": url + "/primus"})
    status, headers, body = (await node.wait_for("http"))["args"]
    assert (status, body) == (426, "Upgrade Required")
    assert headers["content-type"] == "text/plain"


# -- what the spark knows about its client ---------------------------------


@pytest_twisted.ensureDeferred
async def test_query_headers_and_forwarded_address(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    node = await peers.client()
    node.connect(
        url + "/?single=1",
        {
            "manual": True,
            "transport": {
                "headers": {
                    "X-Custom": "custom value",
                    "X-Forwarded-For": "13.3.37.1,12.12.12.12",
                    "X-Forwarded-Port": "9083,1334",
                }
            },
        },
    )
    # The client collapses repeated keys in the URL; a plugin-style
    # outgoing::url listener can still send them (as Primus's plugin test does).
    await node.eval(
        "client.on('outgoing::url', function (o) { o.query = o.query + '&foo=bar&foo=baz+q'; });"
        "client.open(); return 1"
    )
    await node.wait_for("open")
    spark = recorder.sparks[0]
    assert spark.query["single"] == "1"
    assert spark.query["foo"] == ["bar", "baz q"]
    assert "_primuscb" in spark.query
    assert spark.headers["x-custom"] == "custom value"
    assert spark.headers["upgrade"].lower() == "websocket"
    assert spark.address.ip == "13.3.37.1"
    assert spark.address.port == 9083
    assert spark.address.secure is False


@pytest_twisted.ensureDeferred
async def test_address_without_proxy_headers(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    node = await opened(peers, url)
    spark = recorder.sparks[0]
    assert spark.address.ip == "127.0.0.1"
    server_port = int(url.rsplit(":", 1)[1])
    assert spark.address.port not in (0, server_port)
    assert node.running


# -- transforms and async connection listeners -----------------------------


@pytest_twisted.ensureDeferred
async def test_transforms_seen_by_the_real_client(peers: Any, servers: Any, reactor: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    primus.on("connection", echo)

    def incoming_sync(packet: Packet) -> Any:
        if packet.data == "drop in":
            return False
        if isinstance(packet.data, dict):
            packet.data["in_sync"] = True
        return None

    async def incoming_async(packet: Packet) -> Any:
        await sleep(reactor, 0.01)
        if packet.data == "drop in later":
            return False
        if isinstance(packet.data, dict):
            packet.data["in_async"] = True
        return None

    def outgoing_sync(packet: Packet) -> Any:
        if packet.data == "drop out":
            return False
        if isinstance(packet.data, dict):
            # A new dict: the echoed object is also in the server's record.
            packet.data = {**packet.data, "out_sync": True}
        return None

    def outgoing_async(packet: Packet) -> Any:
        def later() -> Any:
            if packet.data == "drop out later":
                return False
            if isinstance(packet.data, dict):
                packet.data = {**packet.data, "out_async": True}
            return None

        return deferLater(reactor, 0.01, later)

    primus.transform("incoming", incoming_sync)
    primus.transform("incoming", incoming_async)
    primus.transform("outgoing", outgoing_sync)
    primus.transform("outgoing", outgoing_async)
    node = await opened(peers, url)
    for message in ["drop in", {"n": 1}, "drop in later", {"n": 2}, "last"]:
        node.write(message)
    await node.wait_for("data", n=3)
    both = {"in_sync": True, "in_async": True, "out_sync": True, "out_async": True}
    assert [e["args"][0] for e in node.named("data")] == [
        {"n": 1, **both},
        {"n": 2, **both},
        "last",
    ]
    assert recorder.data == [
        {"n": 1, "in_sync": True, "in_async": True},
        {"n": 2, "in_sync": True, "in_async": True},
        "last",
    ]
    spark = recorder.sparks[0]
    spark.write("drop out")
    spark.write("drop out later")
    spark.write("end of test")
    await node.wait_for("data", n=4)
    await sleep(reactor, 0.1)
    assert [e["args"][0] for e in node.named("data")][3:] == ["end of test"]


@pytest_twisted.ensureDeferred
async def test_async_connection_listener_loses_no_data(
    peers: Any, servers: Any, reactor: Any
) -> None:
    primus, url = servers.start(ping_interval=0)
    log: list[Any] = []

    async def slow(spark: Any) -> None:
        log.append("connection started")
        await sleep(reactor, 0.3)
        log.append("connection done")
        spark.write("welcome")

    def record(spark: Any) -> None:
        log.append("second listener")
        spark.on("data", log.append)

    primus.on("connection", slow)
    primus.on("connection", record)
    node = await peers.client()
    node.connect(url)
    for word in ["hello", "in", "order"]:
        node.write(word)
    await node.wait_for("open")
    await node.wait_for("data")
    await wait_until(reactor, lambda: "order" in log, what="all data")
    assert log == [
        "connection started",
        "connection done",
        "second listener",
        "hello",
        "in",
        "order",
    ]
    assert node.named("data")[0]["args"][0] == "welcome"


# -- several servers on one site --------------------------------------------


@pytest_twisted.ensureDeferred
async def test_several_primus_instances_on_one_site(peers: Any, servers: Any) -> None:
    site = Site(Resource())
    first = servers.primus(site, ping_interval=0)
    second = servers.primus(site, pathname="/other", ping_interval=0)
    url = servers.listen(site)
    first.on("connection", lambda spark: spark.on("data", lambda d: spark.write(["first", d])))
    second.on("connection", lambda spark: spark.on("data", lambda d: spark.write(["second", d])))
    node = await opened(peers, url, client="one")
    await opened(peers, url, client="two", node=node, socket={"pathname": "/other"})
    node.write("x", client="one")
    node.write("y", client="two")
    assert (await node.wait_for("data", client="one"))["args"][0] == ["first", "x"]
    assert (await node.wait_for("data", client="two"))["args"][0] == ["second", "y"]
    assert first.connected == 1
    assert second.connected == 1


# -- a bare ws client speaking Primus framing by hand ----------------------


@pytest_twisted.ensureDeferred
async def test_raw_ws_client_speaks_primus_by_hand(peers: Any, servers: Any, reactor: Any) -> None:
    primus, url = servers.start(ping_interval=0.2)
    recorder = Recorder(primus)
    primus.on("connection", echo)
    node = await peers.client()
    ws_url = url.replace("http://", "ws://") + "/primus?foo=1&foo=2"
    node.send({"op": "raw_connect", "url": ws_url})
    await node.wait_for("raw:open")
    await wait_until(reactor, lambda: recorder.sparks, what="spark")
    spark = recorder.sparks[0]
    assert spark.query == {"foo": ["1", "2"]}

    def frames() -> list[Any]:
        return [e["args"] for e in node.named("raw:message") if not is_ping(e)]

    def is_ping(event: Any) -> bool:
        return str(event["args"][0]).startswith('"primus::ping::')

    node.send({"op": "raw_send", "data": '"primus::id::"'})
    node.send({"op": "raw_send", "data": '{"hello":"raw"}'})
    node.send({"op": "raw_send", "data": b"\x00\xff"})
    node.send({"op": "raw_send", "data": "not json"})
    await node.wait_for("raw:message", n=3, where=lambda e: not is_ping(e))
    assert frames()[:3] == [
        [f'"primus::id::{spark.id}"', False],
        ['{"hello":"raw"}', False],
        [b"\x00\xff", True],
    ]
    # A decode failure is reported and the connection stays open.
    await wait_until(reactor, lambda: recorder.names("error"), what="parser error")
    assert "Failed to decode incoming data" in recorder.names("error")[0][1]
    # Heartbeat by hand: the ping is a JSON string; the pong echoes the time.
    ping = await node.wait_for("raw:message", where=is_ping)
    text = ping["args"][0]
    assert text.startswith('"primus::ping::') and text.endswith('"')
    node.send({"op": "raw_send", "data": text.replace("ping", "pong")})
    await wait_until(reactor, lambda: recorder.names("heartbeat"), what="heartbeat")
    spark.end()
    closed = await node.wait_for("raw:close")
    assert closed["args"][0] == 1005
    assert frames()[-1] == ['"primus::server::close"', False]
    assert recorder.data == [{"hello": "raw"}, b"\x00\xff"]


# -- the client ending, listeners failing, volume, compression -------------


@pytest_twisted.ensureDeferred
async def test_client_end_ends_the_spark(peers: Any, servers: Any, reactor: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    node = await opened(peers, url)
    spark = recorder.sparks[0]
    node.send({"op": "end"})
    await node.wait_for("end")
    await wait_until(reactor, lambda: recorder.names("end"), what="spark end")
    assert [name for name, _ in recorder.events] == ["connection", "disconnection", "end"]
    assert primus.connected == 0
    assert spark.write("too late") is False
    assert after(lifecycle(node), "open") == ["readyStateChange:end", "close", "end"]


@pytest_twisted.ensureDeferred
async def test_failing_async_connection_listener_ends_the_client(
    peers: Any, servers: Any, reactor: Any
) -> None:
    primus, url = servers.start(ping_interval=0)
    errors: list[str] = []

    async def refuse(spark: Any) -> None:
        spark.on("error", lambda error: errors.append(str(error)))
        await sleep(reactor, 0.05)
        raise ValueError("not today")

    primus.on("connection", refuse)
    node = await peers.client()
    node.connect(url, {"reconnect": {"min": 50}})
    await node.wait_for("end")
    await sleep(reactor, 0.2)
    # primus::server::close was written: the client ends, no reconnect.
    assert after(lifecycle(node), "open") == ["readyStateChange:end", "close", "end"]
    assert errors == ["not today"]
    assert primus.connected == 0


@pytest_twisted.ensureDeferred
async def test_many_and_large_messages_keep_order(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    recorder = Recorder(primus)
    primus.on("connection", echo)
    node = await opened(peers, url)
    await node.eval("for (let i = 0; i < 500; i++) client.write(i); return 1")
    big = "x" * (1024 * 1024) + "€"
    node.write({"big": big})
    await node.wait_for("data", n=501, timeout=10)
    values = [event["args"][0] for event in node.named("data")]
    assert values[:500] == list(range(500))
    assert values[500] == {"big": big}
    assert recorder.data[:500] == list(range(500))


@pytest_twisted.ensureDeferred
async def test_compression_is_negotiated_only_when_enabled(peers: Any, servers: Any) -> None:
    from primus_tx.transformers.websockets.server import bounded_inflation

    if not bounded_inflation():
        # An Autobahn that cannot bound decompression: compression is refused.
        with pytest.raises(PrimusError, match="bounds decompression"):
            servers.start(ping_interval=0, compression=True)
        return
    compressed, compressed_url = servers.start(ping_interval=0, compression=True)
    plain, plain_url = servers.start(ping_interval=0)
    compressed.on("connection", echo)
    plain.on("connection", echo)
    node = await opened(peers, compressed_url, client="z")
    await opened(peers, plain_url, client="p", node=node)
    # The ws client always offers permessage-deflate.
    assert (await node.eval("return client.socket.extensions", client="z"))["args"] == [
        "permessage-deflate"
    ]
    assert (await node.eval("return client.socket.extensions", client="p"))["args"] == [""]
    text = "compress me " * 1000
    node.write(text, client="z")
    assert (await node.wait_for("data", client="z"))["args"][0] == text


@pytest_twisted.ensureDeferred
async def test_websocket_ping_frames_are_heartbeats(peers: Any, servers: Any, reactor: Any) -> None:
    # docs/protocol/primus.rst, "Heartbeat": the ws transformer maps a PING frame to
    # incoming::pong, which sets alive and emits "heartbeat".
    primus, url = servers.start(ping_interval=0.2)
    recorder = Recorder(primus)
    node = await peers.client()
    node.send({"op": "raw_connect", "url": url.replace("http://", "ws://") + "/primus"})
    await node.wait_for("raw:open")
    node.send({"op": "raw_ping", "every": 50})
    # Several sweeps; the client never sends primus::pong.
    await node.wait_for(
        "raw:message", n=4, where=lambda e: str(e["args"][0]).startswith('"primus::ping::')
    )
    assert node.named("raw:close") == []
    assert recorder.names("end") == []
    assert recorder.names("heartbeat"), "PING frames did not emit 'heartbeat'"
    node.send({"op": "raw_ping", "every": 0})


@pytest_twisted.ensureDeferred
async def test_requests_outside_the_pathname_reach_the_site(peers: Any, servers: Any) -> None:
    class Hello(Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            return b"original resource"

    root = Resource()
    root.putChild(b"hello", Hello())
    site = Site(root)
    primus = servers.primus(site, ping_interval=0)
    recorder = Recorder(primus)
    url = servers.listen(site)
    node = await peers.client()
    node.send({"op": "http", "url": url + "/hello"})
    status, _, body = (await node.wait_for("http"))["args"]
    assert (status, body) == (200, "original resource")
    # Primus claims paths by prefix, as Node Primus does.
    node.send(
        {"op": "raw_connect", "client": "r", "url": url.replace("http", "ws") + "/primusfoo/bar"}
    )
    await node.wait_for("raw:open", client="r")
    await wait_until(node._reactor, lambda: recorder.sparks, what="spark on /primusfoo/bar")


@pytest_twisted.ensureDeferred
async def test_faye_client_echoes_answers_heartbeats_and_ends(
    peers: Any, servers: Any, reactor: Any
) -> None:
    """
    Node Primus's own ``faye`` client (faye-websocket) against each engine:
    messages both ways, heartbeats answered, a server end without
    reconnect.
    """
    primus, url = servers.start(ping_interval=0.1)
    recorder = Recorder(primus)
    primus.on("connection", echo)
    node = await opened(peers, url, transformer="faye")
    node.write({"faye": [1, "two"]})
    assert (await node.wait_for("data"))["args"][0] == {"faye": [1, "two"]}
    await wait_until(reactor, lambda: recorder.names("heartbeat"), what="a pong")
    recorder.sparks[0].end()
    await node.wait_for("end")
    assert "reconnect scheduled" not in lifecycle(node)
