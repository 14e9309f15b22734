"""
Interoperability with the real peers: the unmodified npm ``sockjs-client``
over websocket, xhr-streaming, xhr-polling and eventsource against our
SockJS services, and the official Primus client built with transformer
``sockjs`` against a primus-tx server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from nodepeer import NodePrimusClient, node_path
from twisted.internet.utils import getProcessOutputAndValue
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import Primus
from tests.sockjs.sockjs_protocol_server import build_site

pytestmark = pytest.mark.timeout(40)

JS = Path(__file__).parent.parent / "js"
MESSAGES = ["a", "b\u2028\u00e9\u0000 \ud7ff", '{"json": [1, 2]}', "x" * 5000]


@pytest_twisted.async_yield_fixture()
async def services(reactor: Any) -> Any:
    site, servers = build_site()
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield f"http://127.0.0.1:{port.getHost().port}", servers
    for primus in servers:
        await primus.destroy()
    await port.stopListening()


async def sockjs_client(reactor: Any, url: str, transport: str, messages: list[str]) -> Any:
    node = node_path()
    out, err, code = await getProcessOutputAndValue(
        node,
        [str(JS / "sockjs_client_driver.js"), url, transport, json.dumps(messages)],
        path=str(JS),
        reactor=reactor,
    )
    assert code == 0, err.decode("utf-8", "replace")
    assert out.strip(), (out, err)
    lines = out.decode("utf-8").strip().split("\n")
    assert lines and lines[-1].startswith("{"), (out, err)
    return json.loads(lines[-1])


@pytest.mark.parametrize("transport", ["websocket", "xhr-streaming", "xhr-polling", "eventsource"])
@pytest_twisted.ensureDeferred
async def test_sockjs_client_echo(reactor: Any, services: Any, transport: str) -> None:
    base, servers = services
    result = await sockjs_client(reactor, base + "/echo", transport, MESSAGES)
    assert result["transport"] == transport
    assert result["received"] == MESSAGES
    assert result["close"] == [1000, "done"]
    # the sessions are gone once the clients are
    assert all(not primus._server.sessions or transport != "websocket" for primus in servers)


@pytest.mark.parametrize("transport", ["websocket", "xhr-polling", "eventsource"])
@pytest_twisted.ensureDeferred
async def test_sockjs_client_close_service(reactor: Any, services: Any, transport: str) -> None:
    base, _ = services
    result = await sockjs_client(reactor, base + "/close", transport, [])
    assert result["events"] == ["open", "close"]
    assert result["close"] == [3000, "Go away!"]


@pytest_twisted.ensureDeferred
async def test_sockjs_client_disabled_websocket_and_cookies(reactor: Any, services: Any) -> None:
    base, _ = services
    result = await sockjs_client(reactor, base + "/disabled_websocket_echo", "xhr-streaming", ["a"])
    assert result["received"] == ["a"]
    result = await sockjs_client(reactor, base + "/cookie_needed_echo", "xhr-polling", ["a"])
    assert result["received"] == ["a"]


@pytest.mark.parametrize("avoid", [False, True])
@pytest_twisted.ensureDeferred
async def test_official_primus_client(reactor: Any, avoid: bool) -> None:
    site = Site(Resource())
    primus = Primus(site, transformer="sockjs", ping_interval=0.5)
    sparks: list[Any] = []

    def connection(spark: Any) -> None:
        sparks.append(spark)
        spark.on("data", spark.write)

    primus.on("connection", connection)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    url = f"http://127.0.0.1:{port.getHost().port}/primus?who=node"
    node = await NodePrimusClient.start(reactor, node=node_path())
    try:
        await node.open_client(url, {"transport": {}} if not avoid else {},
                               transformer="sockjs",
                               socket={"transport": {}} if not avoid else {})
        assert sparks[0].query["who"] == "node"
        node.write({"hello": ["w\u00f6rld", 1]})
        event = await node.wait_for("data")
        assert event["args"][0] == {"hello": ["w\u00f6rld", 1]}
        # Primus's heartbeat runs inside SockJS messages
        heartbeats: list[Any] = []
        sparks[0].on("heartbeat", lambda: heartbeats.append(1))
        await node.wait_for("incoming::ping", 3)
        node.send({"op": "id"})
        ids = await node.wait_for("id")
        assert ids["args"] == [sparks[0].id]
        # the server ends the spark: the client ends, without reconnecting
        sparks[0].end()
        await node.wait_for("end", 5)
    finally:
        await node.stop()
        await primus.destroy()
        await port.stopListening()
