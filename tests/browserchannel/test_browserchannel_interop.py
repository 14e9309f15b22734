"""
Interoperability with the real peers: the unmodified npm ``browserchannel``
client (``BCSocket`` in Node) and the official Primus client built with
transformer ``browserchannel``, against a primus-tx server.
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

pytestmark = pytest.mark.timeout(60)

JS = Path(__file__).parent.parent / "js"
MESSAGES = ["a", "b\u2028\u00e9\u0000 \ud7ff \U0001f600", '{"json": [1, 2]}', "x" * 20000, "%&=+ ?#"]


@pytest_twisted.async_yield_fixture()
async def server(reactor: Any) -> Any:
    site = Site(Resource())
    primus = Primus(site, transformer="browserchannel", ping_interval=0)
    events: list[Any] = []

    def connection(spark: Any) -> None:
        events.append(("connection", spark))
        spark.on("data", lambda data: (events.append(("data", data)), spark.write(data)))
        spark.on("end", lambda: events.append(("end", spark.id)))

    primus.on("connection", connection)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield f"http://127.0.0.1:{port.getHost().port}", primus, events
    await primus.destroy()
    await port.stopListening()


async def bcsocket(reactor: Any, url: str, options: dict[str, Any], messages: list[Any]) -> Any:
    node = node_path()
    out, err, code = await getProcessOutputAndValue(
        node,
        [str(JS / "bcsocket_driver.js"), url, json.dumps(options), json.dumps(messages)],
        path=str(JS),
        reactor=reactor,
    )
    assert code == 0, err.decode("utf-8", "replace")
    lines = out.decode("utf-8").strip().split("\n")
    assert lines and lines[-1].startswith("{"), (out, err)
    return json.loads(lines[-1])


@pytest_twisted.ensureDeferred
async def test_bcsocket_echo(reactor: Any, server: Any) -> None:
    """
    BCSocket sends while connecting (its maps travel with the bind
    request), receives every echo in order over the streaming back
    channel, and its close terminates the session.
    """
    base, primus, events = server
    encoded = [json.dumps(message) for message in MESSAGES]
    result = await bcsocket(reactor, base + "/primus", {"extraParams": {"who": "bc"}}, encoded)
    assert [json.loads(r) for r in result["received"]] == MESSAGES
    assert result["events"] == ["open", "close:Closed"]
    assert [data for kind, data in events if kind == "data"] == MESSAGES
    spark = events[0][1]
    assert spark.query["who"] == "bc" and spark.query["VER"] == "8"
    assert spark.id and spark.address.ip == "127.0.0.1"
    assert [kind for kind, _ in events][-1] == "end"
    assert not primus._server.sessions


@pytest_twisted.ensureDeferred
async def test_bcsocket_json_maps_and_reconnect(reactor: Any, server: Any) -> None:
    """
    A JSON map (``send`` of an object) reaches the spark as its JSON text;
    a reopened socket names its old session (``OSID``), which ends.
    """
    base, primus, events = server
    result = await bcsocket(reactor, base + "/primus", {"reopen": True}, [{"k": [1, "\u00e9"]}])
    assert result["events"] == ["open", "close:Closed", "open", "close:Closed"]
    assert [json.loads(r) for r in result["received"]] == [{"k": [1, "\u00e9"]}] * 2
    sparks = [spark for kind, spark in events if kind == "connection"]
    assert len(sparks) == 2
    assert sparks[1].query["OSID"] == sparks[0].id
    assert not primus._server.sessions


@pytest_twisted.ensureDeferred
async def test_bcsocket_server_stop(reactor: Any, server: Any) -> None:
    """
    Ending the spark sends ``stop``: BCSocket reports "Stopped by server"
    and does not reconnect, even when asked to.
    """
    base, primus, _ = server
    primus.on("connection", lambda spark: spark.end("bye"))
    result = await bcsocket(reactor, base + "/primus", {"reconnect": True, "expect": 1, "close": False}, [])
    assert result["received"] == ['"bye"', '"primus::server::close"']
    assert result["errors"] == [["Stopped by server", 7]]
    assert result["events"] == ["open", "close:Stopped by server"]
    assert not primus._server.sessions


@pytest_twisted.ensureDeferred
async def test_official_primus_client(reactor: Any) -> None:
    """
    The npm Primus client with transformer ``browserchannel``: data both
    ways, Primus's heartbeat inside BrowserChannel arrays, ``id``, and a
    server-side end the client does not reconnect after.
    """
    site = Site(Resource())
    primus = Primus(site, transformer="browserchannel", ping_interval=0.5)
    sparks: list[Any] = []

    def connection(spark: Any) -> None:
        sparks.append(spark)
        spark.on("data", spark.write)

    primus.on("connection", connection)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    url = f"http://127.0.0.1:{port.getHost().port}/primus?who=node"
    node = await NodePrimusClient.start(reactor, node=node_path())
    try:
        await node.open_client(url, {}, transformer="browserchannel")
        assert sparks[0].query["who"] == "node"
        node.write({"hello": ["w\u00f6rld", 1]})
        event = await node.wait_for("data")
        assert event["args"][0] == {"hello": ["w\u00f6rld", 1]}
        await node.wait_for("incoming::ping", 3)
        node.send({"op": "id"})
        ids = await node.wait_for("id")
        assert ids["args"] == [sparks[0].id]
        sparks[0].end()
        await node.wait_for("end", 5)
    finally:
        await node.stop()
        await primus.destroy()
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_official_primus_client_scenarios(reactor: Any, server: Any) -> None:
    """
    The npm Primus client with transformer ``browserchannel``, further:
    unicode and a message past one streaming response, a server-asked
    reconnect (a ``stop`` without ``primus::server::close``), and the
    client's own ``end()``, which ends the spark at once.
    """
    base, primus, events = server
    node = await NodePrimusClient.start(reactor, node=node_path())
    try:
        await node.open_client(base + "/primus?who=node", {"reconnect": {"min": 50, "max": 100}},
                               transformer="browserchannel")
        first = next(spark for kind, spark in events if kind == "connection")
        assert first.query["who"] == "node" and first.query["VER"] == "8"
        assert "content-type" in first.headers
        values = ["\u00e9\u2028\U0001f600", "y" * 30000, {"n": [1, None, True]}]
        for value in values:
            node.write(value)
        for n, value in enumerate(values, 1):
            event = await node.wait_for("data", n=n)
            assert event["args"][0] == value
        first.end(reconnect=True)
        await node.wait_for("reconnected", 10)
        sparks = [spark for kind, spark in events if kind == "connection"]
        assert len(sparks) == 2 and sparks[1].id != first.id
        assert list(primus._server.sessions) == [sparks[1].id]
        node.send({"op": "end"})
        await node.wait_for("end", 5)
        for _ in range(200):
            if not primus._server.sessions:
                break
            await _settle(reactor)
        assert not primus._server.sessions
        assert ("end", sparks[1].id) in events
    finally:
        await node.stop()


async def _settle(reactor: Any) -> None:
    from twisted.internet.task import deferLater

    await deferLater(reactor, 0.02, lambda: None)


@pytest_twisted.ensureDeferred
async def test_bcsocket_long_polls_behind_a_buffering_proxy(
    reactor: Any, server: Any, monkeypatch: Any
) -> None:
    """
    When the test channel's two phases arrive together (what a buffering
    proxy does; here the server's cap on waiting test channels is set to
    none), Closure's client long-polls (``CI=1``): every echo still comes
    back, in order.
    """
    from primus_tx.transformers.browserchannel import _session
    from primus_tx.transformers.browserchannel import server as bc_server

    monkeypatch.setattr(bc_server, "MAX_TEST_CHANNELS", 0)
    kinds: list[bool] = []
    attach = _session.Session.set_back_channel

    def recording(self: Any, request: Any, streaming: bool) -> None:
        kinds.append(streaming)
        attach(self, request, streaming)

    monkeypatch.setattr(_session.Session, "set_back_channel", recording)
    base, primus, _ = server
    # Messages the server writes later than the bind's answer need a back
    # channel: three, a little apart.
    primus.on(
        "connection",
        lambda spark: [reactor.callLater(0.2 * n, spark.write, f"later {n}") for n in (1, 2, 3)],
    )
    encoded = [json.dumps(message) for message in MESSAGES]
    result = await bcsocket(reactor, base + "/primus", {"expect": len(MESSAGES) + 3}, encoded)
    received = [json.loads(r) for r in result["received"]]
    assert received[: len(MESSAGES)] == MESSAGES
    assert received[len(MESSAGES) :] == ["later 1", "later 2", "later 3"]
    # the bind POST's own answer, then long polls only
    assert kinds[0] is False and len(kinds) > 2 and not any(kinds)
    assert not primus._server.sessions
