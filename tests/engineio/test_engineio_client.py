"""
The engine.io transformer's Python client transport, with a primus-tx
``Socket``: against our own server on loopback (polling only, upgrade,
binary, ending from both sides) and against a Node Primus 8 server using
the engine.io transformer.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import pytest_twisted
from eio_loopback import LiveEngine
from hostile_helpers import wait_until
from twisted.internet.defer import Deferred

from primus_tx.client import Socket

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nodepeer import HEARD_BEFORE_END, NodePrimusServer, end_after_writes


def _events(socket: Socket) -> dict:
    seen: dict = {"data": [], "open": 0, "end": 0, "errors": []}
    socket.on("data", seen["data"].append)
    socket.on("open", lambda: seen.__setitem__("open", seen["open"] + 1))
    socket.on("end", lambda: seen.__setitem__("end", seen["end"] + 1))
    socket.on("error", seen["errors"].append)
    return seen


async def _closed(socket: Socket) -> None:
    await socket.end()


@pytest_twisted.async_yield_fixture()
async def live(reactor):
    server = LiveEngine(reactor, parser="json", pathname="/primus", ping_interval=5,
                        transport={"ping_interval": 0.3, "ping_timeout": 0.5})
    yield server
    await server.stop()


@pytest.mark.parametrize("websockets", [False, True])
@pytest_twisted.ensureDeferred
async def test_socket_over_engine_io(live, reactor, websockets):
    socket = Socket(live.base, transformer="engine.io", reactor=reactor, transport={"websockets": websockets})
    seen = _events(socket)
    socket.write({"hello": "world"})
    await wait_until(reactor, lambda: seen["data"], 3.0, "the echo")
    assert seen["data"] == [{"hello": "world"}]
    assert live.sparks[0].id == socket._transport.id
    assert await socket.id() == live.sparks[0].id
    expected = "websocket" if websockets else "polling"
    await wait_until(reactor, lambda: socket._transport.transport_name == expected
                     and live.server.sessions[live.sparks[0].id].transport == expected, 3.0, "the transport")
    for n in range(20):
        socket.write(n)
    await wait_until(reactor, lambda: len(seen["data"]) == 21, 3.0, "20 echoes")
    assert seen["data"][1:] == list(range(20))
    # Several heartbeats pass (engine.io pings every 0.3 s) without trouble.
    await wait_until(reactor, lambda: False or len(seen["data"]) == 21, 0.1, "")
    await _closed(socket)
    await wait_until(reactor, lambda: not live.server.sessions, 3.0, "the session to close")
    assert live.primus.connections == {}
    assert seen["errors"] == []


@pytest_twisted.ensureDeferred
async def test_spark_end_ends_the_client(live, reactor):
    socket = Socket(live.base, transformer="engine.io", reactor=reactor, transport={"websockets": False})
    seen = _events(socket)
    await wait_until(reactor, lambda: live.sparks, 3.0, "the spark")
    live.sparks[0].end("bye")
    await wait_until(reactor, lambda: seen["end"], 3.0, "the client to end")
    assert seen["data"] == ["bye"]
    assert live.server.sessions == {}


@pytest_twisted.ensureDeferred
async def test_refused_handshake_is_a_connection_failure(reactor):
    server = LiveEngine(reactor, parser="json", pathname="/primus")
    try:
        server.primus.authorize(lambda request: (_ for _ in ()).throw(ValueError("no")))
        socket = Socket(server.base, transformer="engine.io", reactor=reactor, strategy=False)
        errors: list = []
        ended: Deferred = Deferred()
        socket.on("error", errors.append)
        socket.on("end", lambda: ended.callback(None))
        await ended
        assert errors and "401" in str(errors[0])
        assert server.server.sessions == {}
    finally:
        await server.stop()


@pytest.mark.parametrize("websockets", [False, True])
@pytest_twisted.ensureDeferred
async def test_socket_against_node_primus_engine_io(reactor, websockets):
    server = await NodePrimusServer.start(reactor, {"transformer": "engine.io", "echo": True})
    try:
        socket = Socket(f"http://127.0.0.1:{server.port}", transformer="engine.io", reactor=reactor,
                        transport={"websockets": websockets})
        seen = _events(socket)
        socket.write({"n": 1})
        socket.write("text")
        await wait_until(reactor, lambda: len(seen["data"]) == 2, 5.0, "the echoes")
        assert seen["data"] == [{"n": 1}, "text"]
        event = await server.wait_for("connection", timeout=5)
        assert event["args"][0]["id"] == await socket.id()
        if websockets:
            await wait_until(reactor, lambda: socket._transport.transport_name == "websocket", 5.0, "the upgrade")
        await socket.end()
        await server.wait_for("disconnection", timeout=5)
    finally:
        await server.stop()


async def _open_on(reactor, socket, websockets):
    """
    Wait until ``socket`` is open on the transport it settles on.
    """
    opened: Deferred = Deferred()
    socket.once("open", lambda: opened.callback(None))
    await opened
    if websockets:
        await wait_until(reactor, lambda: socket._transport.transport_name == "websocket", 5.0, "the upgrade")


async def _end_with_data(live, reactor, socket: Socket) -> None:
    """
    Write three messages and end with a fourth: the spark hears all four,
    in order, before it ends.
    """
    heard: list = []
    live.sparks[0].on("data", heard.append)
    live.sparks[0].on("end", lambda *_: heard.append("end"))
    for n in range(3):
        socket.write(n)
    await socket.end({"last": "words"})
    await wait_until(reactor, lambda: "end" in heard, 5.0, "the spark to end")
    assert heard == [0, 1, 2, {"last": "words"}, "end"]


@pytest.mark.parametrize("websockets", [False, True])
@pytest_twisted.ensureDeferred
async def test_end_with_data_delivers_it_first(live, reactor, websockets):
    # Primus's contract: end(data) writes, then closes; the spark hears
    # every write, in order, before it ends, even with a POST in flight.
    socket = Socket(live.base, transformer="engine.io", reactor=reactor, transport={"websockets": websockets})
    await _open_on(reactor, socket, websockets)
    await _end_with_data(live, reactor, socket)
    await wait_until(reactor, lambda: not live.server.sessions, 3.0, "the session to close")


@pytest_twisted.ensureDeferred
async def test_end_with_data_survives_a_close_timer_due_at_once(live, reactor):
    """
    Autobahn's close-handshake timer goes through txaio's batched timers,
    which round the due time down to a whole second: at 0.999 past a
    second, a 1 s timeout is due at once, and its abort (a TCP reset)
    took the last messages with it before the server read them.  The
    timeout primus-tx gives Autobahn leaves at least a second.
    """
    socket = Socket(live.base, transformer="engine.io", reactor=reactor, transport={"websockets": True})
    await _open_on(reactor, socket, True)
    timer = socket._transport._ws.factory._batched_timer
    timer._get_seconds = lambda: math.floor(reactor.seconds()) + 0.999
    await _end_with_data(live, reactor, socket)


@pytest.mark.parametrize("websockets", [False, True])
@pytest_twisted.ensureDeferred
async def test_end_with_data_against_node_primus_engine_io(reactor, websockets):
    server = await NodePrimusServer.start(reactor, {"transformer": "engine.io", "echo": False})
    try:
        socket = Socket(f"http://127.0.0.1:{server.port}", transformer="engine.io", reactor=reactor,
                        transport={"websockets": websockets})
        await _open_on(reactor, socket, websockets)
        spark = (await server.wait_for("connection", timeout=5))["args"][0]["id"]
        assert await end_after_writes(server, socket, spark) == HEARD_BEFORE_END
    finally:
        await server.stop()
