"""
Interop with the unmodified official Engine.IO clients: ``engine.io-client``
(npm, in Node) and ``python-engineio`` (PyPI, in a thread), over polling
only, WebSocket only, and polling then upgrade, with text and binary
messages echoed by our server.
"""

from __future__ import annotations

import json
import sys
from base64 import b64decode
from pathlib import Path

import pytest
import pytest_twisted
from eio_loopback import LiveEngine
from hostile_helpers import wait_until
from twisted.internet.threads import deferToThread
from twisted.internet.utils import getProcessOutputAndValue

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nodepeer import JS_DIR, node_path

MODES = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": ["polling", "websocket"],
}
MESSAGES = ["hello", "h\u00e9llo \u2603", {"$binary": "AQIDBA=="}, "x" * 3000, {"$binary": "AP8="}]


@pytest_twisted.async_yield_fixture()
async def live(reactor):
    server = LiveEngine(reactor)
    yield server
    await server.stop()


def _events(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest_twisted.ensureDeferred
async def test_official_engine_io_client(live, mode):
    node = node_path()
    config = {"url": live.base, "transports": MODES[mode], "messages": MESSAGES}
    out, err, code = await getProcessOutputAndValue(
        node, [str(JS_DIR / "engineio_client_peer.js"), json.dumps(config)], env={"PATH": "/usr/bin:/bin"}, path=str(JS_DIR)
    )
    events = _events(out)
    assert code == 0, (events, err)
    names = [e["event"] for e in events]
    assert names[0] == "open"
    if mode == "upgrade":
        assert "upgrade" in names
    assert [e["args"][0] for e in events if e["event"] == "message"] == MESSAGES
    expected_transport = "polling" if mode == "polling" else "websocket"
    assert [e["args"][0] for e in events if e["event"] == "done"] == [expected_transport]
    received = [m if isinstance(m, str) else b64decode(m["$binary"]) for m in MESSAGES]
    assert live.data == received
    assert live.sparks[0].id == events[0]["args"][0]
    await wait_until(live.reactor, lambda: not live.server.sessions, 3.0, "the session to close")
    assert live.primus.connections == {}


def _python_engineio(url: str, transports: list[str], messages: list) -> dict:
    import threading

    import engineio

    client = engineio.Client(request_timeout=5)
    received: list = []
    done = threading.Event()

    @client.on("message")
    def on_message(data):
        received.append(data)
        if len(received) == len(messages):
            done.set()

    client.connect(url, transports=transports, engineio_path="engine.io")
    try:
        transport = client.transport()
        sid = client.sid
        for message in messages:
            client.send(message)
        done.wait(5)
    finally:
        client.disconnect()
    return {"received": received, "transport": transport, "sid": sid}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest_twisted.ensureDeferred
async def test_python_engineio_client(live, mode):
    messages = ["hello", "", "h\u00e9llo \u2603", b"\x01\x02\x03\x04", b"\x00\xff"]
    outcome = await deferToThread(_python_engineio, live.base, MODES[mode], messages)
    assert outcome["received"] == messages
    assert outcome["transport"] == ("polling" if mode == "polling" else "websocket")
    assert live.data == messages
    assert live.sparks[0].id == outcome["sid"]
    await wait_until(live.reactor, lambda: not live.server.sessions, 3.0, "the session to close")
