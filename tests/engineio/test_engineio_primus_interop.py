"""
The official npm Primus 8 client, built with ``transformer: 'engine.io'``
(it bundles the official engine.io-client with Primus's settings:
``forceBase64``, ``timestampRequests``, no remembered upgrade), against our
server: polling then upgrade, polling only (``websockets: false``), the
Primus heartbeat inside Engine.IO message packets, ``id()``, and ending
from both sides.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import pytest_twisted
from eio_loopback import LiveEngine
from hostile_helpers import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nodepeer import NodePrimusClient


@pytest_twisted.async_yield_fixture()
async def live(reactor):
    server = LiveEngine(reactor, parser="json", pathname="/primus", ping_interval=0.4,
                        transport={"ping_interval": 0.3, "ping_timeout": 0.5})
    yield server
    await server.stop()


@pytest.mark.parametrize("websockets", [True, False])
@pytest_twisted.ensureDeferred
async def test_official_primus_client_with_engine_io(live, reactor, websockets):
    node = await NodePrimusClient.start(reactor)
    try:
        node.connect(live.base, {"websockets": websockets}, transformer="engine.io")
        await node.wait_for("open", timeout=5)
        message = {"a": [1, {"b": None}], "text": "h\u00e9llo \u2603"}
        node.send({"op": "write", "data": message})
        event = await node.wait_for("data", timeout=5)
        assert event["args"][0] == message
        node.send({"op": "id"})
        event = await node.wait_for("id", timeout=5)
        assert event["args"][0] == live.sparks[0].id
        assert set(live.server.sessions) == {live.sparks[0].id}
        expected = "websocket" if websockets else "polling"
        await wait_until(reactor, lambda: live.server.sessions[live.sparks[0].id].transport == expected,
                         3.0, f"the session to be on {expected}")
        # Primus's heartbeat rides in message packets: the client answers
        # (a spark that misses a pong is ended at the next sweep).
        await node.wait_for("incoming::ping", timeout=5, n=4)
        assert live.sparks[0].ready_state == live.sparks[0].OPEN
        live.sparks[0].end()
        await node.wait_for("end", timeout=5)
        await wait_until(reactor, lambda: not live.server.sessions, 3.0, "the session to close")
        assert live.primus.connections == {}
    finally:
        await node.stop()


@pytest_twisted.ensureDeferred
async def test_official_primus_client_ends(live, reactor):
    node = await NodePrimusClient.start(reactor)
    try:
        node.connect(live.base, {}, transformer="engine.io")
        await node.wait_for("open", timeout=5)
        node.send({"op": "end"})
        await wait_until(reactor, lambda: not live.primus.connections, 5.0, "the spark to end")
        await wait_until(reactor, lambda: not live.server.sessions, 3.0, "the session to close")
    finally:
        await node.stop()
