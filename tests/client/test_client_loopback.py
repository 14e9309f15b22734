"""
The Python client against our own server (primus_tx.Primus on a
twisted.web Site on 127.0.0.1:0), over real WebSocket connections.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import AuthorizationError, Primus
from primus_tx.client import ConnectionFailed, Socket
from primus_tx.transformers.websockets.client import HandshakeError

pytestmark = pytest.mark.timeout(20)


class Server:
    """
    A Primus on a real port; ``sparks`` collects connections, ``received``
    the data each spark got.
    """

    def __init__(self, reactor: Any, **options: Any) -> None:
        self.reactor = reactor
        self.site = Site(Resource())
        self.primus = Primus(self.site, reactor=reactor, **options)
        self.port = reactor.listenTCP(0, self.site, interface="127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port.getHost().port}"
        self.sparks: list[Any] = []
        self.received: list[Any] = []
        self._waiting: list[tuple[int, Deferred[Any]]] = []
        self.primus.on("connection", self._connection)

    def _connection(self, spark: Any) -> None:
        self.sparks.append(spark)
        spark.on("data", self._data(spark))
        self._wake()

    def _data(self, spark: Any) -> Any:
        def on_data(data: Any) -> None:
            self.received.append(data)
            if isinstance(data, dict) and "echo" in data:
                spark.write(data["echo"])

        return on_data

    def _wake(self) -> None:
        for count, d in list(self._waiting):
            if len(self.sparks) >= count and not d.called:
                self._waiting.remove((count, d))
                d.callback(self.sparks[count - 1])

    def spark(self, count: int = 1) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self._waiting.append((count, d))
        self._wake()
        return d.addTimeout(5, self.reactor)

    async def close(self) -> None:
        await self.primus.destroy()
        await self.port.stopListening()


def wait_event(reactor: Any, socket: Socket, event: str, timeout: float = 5) -> Deferred[Any]:
    d: Deferred[Any] = Deferred()

    def fired(*args: Any) -> None:
        if not d.called:
            d.callback(args)

    socket.once(event, fired)
    return d.addTimeout(timeout, reactor)


@pytest.mark.parametrize("transformer", ["websockets", "uws", "faye"])
@pytest_twisted.ensureDeferred
async def test_echo_binary_id_and_clean_end(reactor: Any, transformer: str) -> None:
    server = Server(reactor, ping_interval=0, transformer=transformer)
    socket = None
    try:
        socket = await Socket.connect(
            server.url + "/ignored?room=1", reactor=reactor, transformer=transformer
        )
        spark = await server.spark()
        assert spark.query["room"] == "1"
        assert "_primuscb" in spark.query
        assert spark.request.path == b"/primus"

        got = wait_event(reactor, socket, "data")
        socket.write({"echo": {"text": "héllo \u2028", "n": [1, 2.5, None]}})
        assert (await got)[0] == {"text": "héllo \u2028", "n": [1, 2.5, None]}

        got = wait_event(reactor, socket, "data")
        spark.write(b"\x00\xffbinary")
        assert (await got)[0] == b"\x00\xffbinary"

        assert await socket.id() == spark.id

        ended = Deferred()
        spark.on("end", lambda: ended.callback(None))
        await socket.end()
        await ended.addTimeout(5, reactor)
        assert server.primus.connected == 0
    finally:
        if socket is not None:
            socket.destroy()
        await server.close()


@pytest_twisted.ensureDeferred
async def test_buffered_writes_and_async_iteration(reactor: Any) -> None:
    server = Server(reactor, ping_interval=0)
    socket = Socket(server.url, reactor=reactor)
    try:
        for n in range(5):
            socket.write({"echo": n})
        received = []
        async for data in socket:
            received.append(data)
            if len(received) == 5:
                await socket.end()
        assert received == [0, 1, 2, 3, 4]
    finally:
        socket.destroy()
        await server.close()


@pytest_twisted.ensureDeferred
async def test_server_end_ends_without_reconnect(reactor: Any) -> None:
    server = Server(reactor, ping_interval=0)
    socket = await Socket.connect(server.url, reactor=reactor)
    events: list[str] = []
    for name in ("close", "end", "reconnect scheduled", "data"):
        socket.on(name, lambda *a, name=name: events.append(name))
    try:
        spark = await server.spark()
        ended = wait_event(reactor, socket, "end")
        spark.end("bye")
        await ended
        assert events == ["data", "close", "end"]
        assert not [c for c in reactor.getDelayedCalls() if _ours(c, socket)]
    finally:
        socket.destroy()
        await server.close()


def _ours(call: Any, socket: Socket) -> bool:
    owner = getattr(call.func, "__self__", None)
    return owner is socket or owner is socket.recovery


@pytest_twisted.ensureDeferred
async def test_server_end_with_reconnect_reconnects(reactor: Any) -> None:
    server = Server(reactor, ping_interval=0)
    socket = await Socket.connect(server.url, reactor=reactor, reconnect={"min": 0.05})
    try:
        first = await server.spark()
        reopened = wait_event(reactor, socket, "open")
        reconnected = wait_event(reactor, socket, "reconnected")
        first.end(reconnect=True)
        socket.write({"echo": "queued"})
        await reconnected
        await reopened
        second = await server.spark(2)
        assert second.id != first.id
        got = wait_event(reactor, socket, "data")
        socket.write({"echo": "again"})
        assert (await got)[0] in ("queued", "again")
        await socket.end()
    finally:
        socket.destroy()
        await server.close()


@pytest_twisted.ensureDeferred
async def test_heartbeats_are_answered(reactor: Any) -> None:
    server = Server(reactor, ping_interval=0.1)
    socket = await Socket.connect(server.url, reactor=reactor, ping_timeout=0.3)
    try:
        spark = await server.spark()
        beats = 0
        done: Deferred[None] = Deferred()

        def beat() -> None:
            nonlocal beats
            beats += 1
            if beats == 3 and not done.called:
                done.callback(None)

        spark.on("heartbeat", beat)
        await done.addTimeout(5, reactor)
        assert spark.ready_state == spark.OPEN
        assert socket.ready_state == Socket.OPEN
        await socket.end()
    finally:
        socket.destroy()
        await server.close()


@pytest_twisted.ensureDeferred
async def test_declined_authorization_ends_without_retrying(reactor: Any) -> None:
    server = Server(reactor, ping_interval=0)

    def deny(request: Any) -> None:
        raise AuthorizationError("I failed", status=401, authenticate='Basic realm="primus"')

    server.primus.authorize(deny)
    errors: list[Any] = []
    scheduled: list[Any] = []
    socket = Socket(server.url, reactor=reactor, authorization=True)
    socket.on("error", errors.append)
    socket.on("reconnect scheduled", scheduled.append)
    try:
        await wait_event(reactor, socket, "end")
        assert scheduled == []
        assert isinstance(errors[0], HandshakeError)
        assert errors[0].status == 401
        assert errors[0].headers["www-authenticate"] == 'Basic realm="primus"'
        assert b'"I failed"' in errors[0].body
        assert server.sparks == []
    finally:
        socket.destroy()
        await server.close()


@pytest_twisted.ensureDeferred
async def test_connect_fails_with_the_refusal(reactor: Any) -> None:
    server = Server(reactor, ping_interval=0)
    server.primus.authorize(lambda request: (_ for _ in ()).throw(AuthorizationError("no", 403)))
    try:
        with pytest.raises(ConnectionFailed) as caught:
            await Socket.connect(server.url, reactor=reactor, strategy=False)
        assert isinstance(caught.value.reason, HandshakeError)
        assert caught.value.reason.status == 403
    finally:
        await server.close()


@pytest_twisted.ensureDeferred
async def test_userinfo_is_basic_authorization_and_headers_are_sent(reactor: Any) -> None:
    server = Server(reactor, ping_interval=0)
    seen: list[Any] = []

    def check(request: Any) -> None:
        seen.append(
            (request.getHeader("authorization"), request.getHeader("x-extra"))
        )

    server.primus.authorize(check)
    host = server.url.split("//")[1]
    socket = await Socket.connect(
        f"http://usr:pass@{host}", reactor=reactor, transport={"headers": {"X-Extra": "yes"}}
    )
    try:
        assert seen == [("Basic dXNyOnBhc3M=", "yes")]
        await socket.end()
    finally:
        socket.destroy()
        await server.close()


@pytest_twisted.ensureDeferred
async def test_primus_socket_class(reactor: Any) -> None:
    server = Server(reactor, ping_interval=0, pathname="/rt")
    try:
        cls = server.primus.Socket
        socket = await cls.connect(server.url, reactor=reactor)
        got = wait_event(reactor, socket, "data")
        socket.write({"echo": 42})
        assert (await got)[0] == 42
        await socket.end()
    finally:
        await server.close()
