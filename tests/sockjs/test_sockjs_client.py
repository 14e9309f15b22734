"""
The Python client's ``sockjs`` transport: against our own server on
loopback over each transport, and against a Node Primus server using the
npm ``sockjs`` module.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from nodepeer import HEARD_BEFORE_END, NodePrimusServer, end_after_writes, node_path
from twisted.internet.defer import Deferred
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import Primus
from primus_tx.client import ConnectionFailed, Socket
from primus_tx.transformers.sockjs.client import SockJSError, parse_frame

pytestmark = pytest.mark.timeout(30)


def wait_event(reactor: Any, emitter: Any, event: str, timeout: float = 5) -> Deferred[Any]:
    d: Deferred[Any] = Deferred()

    def fired(*args: Any) -> None:
        if not d.called:
            d.callback(args)

    emitter.once(event, fired)
    return d.addTimeout(timeout, reactor)


def test_parse_frame() -> None:
    assert parse_frame("o") == ("o", None)
    assert parse_frame("h") == ("h", None)
    assert parse_frame('a["x","y"]') == ("a", ["x", "y"])
    assert parse_frame('m"x"') == ("a", ["x"])
    assert parse_frame('c[3000,"Go away!"]') == ("c", [3000, "Go away!"])
    for bad in ("", "x", "a{", 'a{"a":1}'):
        with pytest.raises(ValueError):
            parse_frame(bad)


@pytest_twisted.async_yield_fixture()
async def echo(reactor: Any) -> Any:
    site = Site(Resource())
    primus = Primus(site, transformer="sockjs", ping_interval=0)
    sparks: list[Any] = []

    def connection(spark: Any) -> None:
        sparks.append(spark)
        spark.on("data", spark.write)

    primus.on("connection", connection)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield f"http://127.0.0.1:{port.getHost().port}", primus, sparks
    await primus.destroy()
    assert primus._server is None
    await port.stopListening()


@pytest.mark.parametrize(
    "transport",
    [
        {"transports": ["websocket"]},
        {"transports": ["xhr-streaming"]},
        {"transports": ["xhr-polling"]},
        {"websockets": False},
    ],
)
@pytest_twisted.ensureDeferred
async def test_echo_over_each_transport(reactor: Any, echo: Any, transport: Any) -> None:
    url, _primus, sparks = echo
    socket = await Socket.connect(url + "/primus?who=py", transformer="sockjs",
                                  reactor=reactor, transport=transport)
    try:
        assert sparks[0].query["who"] == "py"
        assert sparks[0].address.ip == "127.0.0.1"
        kind = "websocket" if transport.get("transports") == ["websocket"] else "http"
        if kind == "websocket":
            assert sparks[0].request.path.endswith(b"/websocket")
        else:
            assert sparks[0].socket.__class__.__name__ == "Session"
        got = wait_event(reactor, socket, "data")
        socket.write({"text": "h\u00e9llo \u2028 \U0001f600", "n": [1, 2]})
        (data,) = await got
        assert data == {"text": "h\u00e9llo \u2028 \U0001f600", "n": [1, 2]}
        # many messages, in order
        seen: list[Any] = []
        done = wait_event(reactor, socket, "end", timeout=5)
        socket.on("data", seen.append)
        for i in range(50):
            socket.write(i)
        while len(seen) < 50:
            d: Deferred[None] = Deferred()
            reactor.callLater(0.02, d.callback, None)
            await d
        assert seen == list(range(50))
        # the server ends the spark: the client ends too, no reconnect
        sparks[0].end()
        await done
    finally:
        await socket.end()


@pytest_twisted.async_yield_fixture()
async def lasting(reactor: Any) -> Any:
    """
    A server that writes nothing and keeps a session without a receiver
    for a minute: a spark that ends sooner was ended by the client's
    abort (or WebSocket close), not by the disconnect delay.
    """
    site = Site(Resource())
    primus = Primus(site, transformer="sockjs", ping_interval=0, transport={"disconnect_delay": 60})
    sparks: list[Any] = []
    primus.on("connection", sparks.append)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield f"http://127.0.0.1:{port.getHost().port}", sparks
    await primus.destroy()
    await port.stopListening()


@pytest.mark.parametrize("transports", [["websocket"], ["xhr-streaming"], ["xhr-polling"]])
@pytest_twisted.ensureDeferred
async def test_end_with_data_delivers_it_first(reactor: Any, lasting: Any, transports: list[str]) -> None:
    # Primus's contract: end(data) writes the data, then closes; the
    # spark hears every write, in order, before it ends, even with an
    # xhr_send still in flight, and ends at once.
    url, sparks = lasting
    socket = await Socket.connect(url + "/primus", transformer="sockjs", reactor=reactor,
                                  transport={"transports": transports})
    heard: list[Any] = []
    sparks[0].on("data", heard.append)
    sparks[0].on("end", lambda *_: heard.append("end"))
    ended = wait_event(reactor, sparks[0], "end", timeout=10)
    for n in range(3):
        socket.write(n)
    await socket.end({"last": "words"})
    await ended
    assert heard == [0, 1, 2, {"last": "words"}, "end"]


@pytest_twisted.ensureDeferred
async def test_unknown_server_fails(reactor: Any) -> None:
    site = Site(Resource())
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    try:
        socket = Socket(f"http://127.0.0.1:{port.getHost().port}/primus", transformer="sockjs",
                        reactor=reactor, strategy=False, manual=True)
        failed = wait_event(reactor, socket, "error")
        socket.open()
        (error,) = await failed
        assert isinstance(error, ConnectionFailed)
        assert "404" in str(error)
        await socket.end()
    finally:
        await port.stopListening()


def test_error_close_codes() -> None:
    error = SockJSError(3000, "Go away!")
    assert error.code == 3000 and error.close_reason == "Go away!"
    assert isinstance(error, ConnectionFailed)


@pytest.mark.parametrize("transports", [["websocket"], ["xhr-streaming"], ["xhr-polling"]])
@pytest_twisted.ensureDeferred
async def test_against_node_primus_sockjs(reactor: Any, transports: list[str]) -> None:
    server = await NodePrimusServer.start(
        reactor, {"transformer": "sockjs", "pingInterval": False, "echo": True}, node=node_path()
    )
    socket = None
    try:
        socket = await Socket.connect(server.url + "?who=py", transformer="sockjs",
                                      reactor=reactor, transport={"transports": transports})
        connection = await server.wait_for("connection")
        assert connection["args"][0]["query"]["who"] == "py"
        got = wait_event(reactor, socket, "data")
        socket.write({"a": "\u00e9\u2028"})
        (data,) = await got
        assert data == {"a": "\u00e9\u2028"}
        ended = wait_event(reactor, socket, "end")
        server.send({"op": "end", "id": connection["args"][0]["id"]})
        await ended
    finally:
        if socket is not None:
            await socket.end()
        await server.stop()


@pytest.mark.parametrize("transports", [["websocket"], ["xhr-streaming"], ["xhr-polling"]])
@pytest_twisted.ensureDeferred
async def test_end_with_data_against_node_primus_sockjs(reactor: Any, transports: list[str]) -> None:
    server = await NodePrimusServer.start(
        reactor, {"transformer": "sockjs", "pingInterval": False, "echo": False}, node=node_path()
    )
    try:
        socket = await Socket.connect(server.url, transformer="sockjs", reactor=reactor,
                                      transport={"transports": transports})
        spark = (await server.wait_for("connection"))["args"][0]["id"]
        assert await end_after_writes(server, socket, spark) == HEARD_BEFORE_END
    finally:
        await server.stop()
