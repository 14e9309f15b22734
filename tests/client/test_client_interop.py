"""
The Python client against the real Node Primus 8 server (npm ``primus``
driven by tests/js/primus_server_driver.js through tests/nodepeer.py).
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from nodepeer import NodePrimusServer, node_path
from spec_orders import SERVER_ASKED_RECONNECT
from twisted.internet.defer import Deferred

from primus_tx.client import ConnectionFailed, Socket
from primus_tx.transformers.websockets.client import HandshakeError

pytestmark = pytest.mark.timeout(30)


def wait_event(reactor: Any, socket: Socket, event: str, timeout: float = 5) -> Deferred[Any]:
    d: Deferred[Any] = Deferred()

    def fired(*args: Any) -> None:
        if not d.called:
            d.callback(args)

    socket.once(event, fired)
    return d.addTimeout(timeout, reactor)


def record(socket: Socket, *names: str) -> list[str]:
    seen: list[str] = []
    for name in names:
        if name == "readyStateChange":
            socket.on(name, lambda state: seen.append(f"readyStateChange:{state}"))
        else:
            socket.on(name, lambda *a, name=name: seen.append(name))
    return seen


async def node_server(reactor: Any, config: dict[str, Any]) -> NodePrimusServer:
    return await NodePrimusServer.start(reactor, config, node=node_path())


@pytest_twisted.ensureDeferred
async def test_echo_and_id(reactor: Any) -> None:
    server = await node_server(reactor, {"pingInterval": False})
    socket = None
    try:
        socket = await Socket.connect(server.url + "/not/used?who=py", reactor=reactor)
        connection = await server.wait_for("connection")
        spark = connection["args"][0]
        assert spark["query"]["who"] == "py"
        assert "_primuscb" in spark["query"]

        raws: list[Any] = []
        socket.transform("incoming", lambda packet: raws.append(packet.raw))
        got = wait_event(reactor, socket, "data")
        socket.write({"text": "pong\u0420\u0423\u0421\u0421\u041a\u0418\u0419 €€€", "sep": "\u2028", "n": 0})
        (data,) = await got
        raw = raws[-1]
        assert data == {"text": "pong\u0420\u0423\u0421\u0421\u041a\u0418\u0419 €€€", "sep": "\u2028", "n": 0}
        assert "\\u2028" in raw  # the Node side escaped it too
        received = await server.wait_for("data")
        assert received["args"][0]["raw"] == '{"text":"pong\u0420\u0423\u0421\u0421\u041a\u0418\u0419 €€€","sep":"\\u2028","n":0}'

        assert await socket.id() == spark["id"]
        await socket.end()
        await server.wait_for("end")
    finally:
        if socket is not None:
            socket.destroy()
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_heartbeats_are_answered(reactor: Any) -> None:
    server = await node_server(reactor, {"pingInterval": 100})
    socket = None
    try:
        socket = await Socket.connect(server.url, reactor=reactor, ping_timeout=0.3)
        await server.wait_for("heartbeat", n=3)
        assert server.named("end") == []
        assert socket.ready_state == Socket.OPEN
        await socket.end()
    finally:
        if socket is not None:
            socket.destroy()
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_server_end_without_reconnect(reactor: Any) -> None:
    server = await node_server(reactor, {"pingInterval": False})
    socket = None
    try:
        socket = await Socket.connect(server.url, reactor=reactor)
        seen = record(socket, "readyStateChange", "data", "close", "end", "reconnect scheduled")
        spark = (await server.wait_for("connection"))["args"][0]
        ended = wait_event(reactor, socket, "end")
        server.send({"op": "end", "id": spark["id"], "data": "bye"})
        await ended
        assert seen == ["data", "readyStateChange:end", "close", "end"]
    finally:
        if socket is not None:
            socket.destroy()
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_server_end_with_reconnect(reactor: Any) -> None:
    server = await node_server(reactor, {"pingInterval": False})
    socket = None
    try:
        socket = await Socket.connect(server.url, reactor=reactor, reconnect={"min": 0.05})
        seen = record(
            socket,
            "readyStateChange",
            "close",
            "end",
            "reconnect scheduled",
            "reconnect",
            "reconnected",
            "open",
        )
        spark = (await server.wait_for("connection"))["args"][0]
        opened = wait_event(reactor, socket, "open")
        server.send({"op": "end", "id": spark["id"], "reconnect": True})
        await opened
        assert seen == SERVER_ASKED_RECONNECT
        second = (await server.wait_for("connection", n=2))["args"][0]
        assert second["id"] != spark["id"]
        await socket.end()
    finally:
        if socket is not None:
            socket.destroy()
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_server_restart_reconnects_and_delivers_buffered_writes(reactor: Any) -> None:
    # A real restart: the Node process dies and a new one listens on the port.
    # (The driver's stop/listen pair cannot be used: once its HTTP server
    # closed, Node Primus's ws server answers every upgrade with 503.)
    server = await node_server(reactor, {"pingInterval": False})
    port = server.port
    restarted = None
    socket = None
    try:
        socket = await Socket.connect(
            server.url,
            reactor=reactor,
            reconnect={"min": 0.1, "max": 0.2, "retries": 100},
            random=lambda: 0.0,
        )
        await server.wait_for("connection")
        closed = wait_event(reactor, socket, "close")
        await server.stop()
        await closed
        for n in range(3):
            socket.write({"n": n})
        await wait_event(reactor, socket, "reconnect scheduled")
        opened = wait_event(reactor, socket, "open", timeout=10)
        restarted = await node_server(reactor, {"pingInterval": False, "port": port})
        await opened
        await restarted.wait_for("data", n=3)
        assert [e["args"][0]["data"] for e in restarted.named("data")] == [
            {"n": 0},
            {"n": 1},
            {"n": 2},
        ]
        await socket.end()
    finally:
        if socket is not None:
            socket.destroy()
        await server.stop()
        if restarted is not None:
            await restarted.stop()


@pytest_twisted.ensureDeferred
async def test_declined_authorization_ends_without_a_retry_loop(reactor: Any) -> None:
    server = await node_server(
        reactor,
        {
            "pingInterval": False,
            "authorization": {
                "deny": {"status": 401, "message": "I failed", "authenticate": 'Basic realm="primus"'}
            },
        },
    )
    socket = None
    try:
        socket = Socket(server.url, reactor=reactor, authorization=True)
        seen = record(socket, "error", "close", "end", "reconnect scheduled")
        errors: list[Any] = []
        socket.on("error", errors.append)
        await wait_event(reactor, socket, "end")
        assert seen == ["error", "close", "end"]
        assert isinstance(errors[0], HandshakeError)
        assert errors[0].status == 401
        assert errors[0].headers["www-authenticate"] == 'Basic realm="primus"'
        assert errors[0].body == b'{"error":"I failed"}'
        assert server.named("connection") == []
    finally:
        if socket is not None:
            socket.destroy()
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_connect_reports_the_refusal(reactor: Any) -> None:
    server = await node_server(
        reactor, {"pingInterval": False, "authorization": {"deny": {"status": 403, "message": "Go away"}}}
    )
    try:
        with pytest.raises(ConnectionFailed) as caught:
            await Socket.connect(server.url, reactor=reactor, strategy="disconnect")
        assert caught.value.reason.status == 403
    finally:
        await server.stop()
