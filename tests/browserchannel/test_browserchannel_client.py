"""
The Python client's ``browserchannel`` transport: against our own server
on loopback (streaming and long-polling back channels), and against a
Node Primus server using the npm ``browserchannel`` module.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from nodepeer import NodePrimusServer, node_path
from twisted.internet.defer import Deferred
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import Primus
from primus_tx.client import ConnectionFailed, Socket
from primus_tx.transformers.browserchannel.client import encode_maps

pytestmark = pytest.mark.timeout(40)


def wait_event(reactor: Any, emitter: Any, event: str, timeout: float = 5) -> Deferred[Any]:
    d: Deferred[Any] = Deferred()

    def fired(*args: Any) -> None:
        if not d.called:
            d.callback(args)

    emitter.once(event, fired)
    return d.addTimeout(timeout, reactor)


async def settle(reactor: Any, seconds: float = 0.02) -> None:
    d: Deferred[None] = Deferred()
    reactor.callLater(seconds, d.callback, None)
    await d


def test_encode_maps() -> None:
    assert encode_maps(0, []) == b"count=0"
    assert encode_maps(3, ["a b", "\u00e9&="]) == b"count=2&ofs=3&req0__S=a%20b&req1__S=%C3%A9%26%3D"


@pytest_twisted.async_yield_fixture()
async def echo(reactor: Any) -> Any:
    site = Site(Resource())
    primus = Primus(site, transformer="browserchannel", ping_interval=0)
    sparks: list[Any] = []

    def connection(spark: Any) -> None:
        sparks.append(spark)
        spark.on("data", spark.write)

    primus.on("connection", connection)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield f"http://127.0.0.1:{port.getHost().port}", primus, sparks
    await primus.destroy()
    await port.stopListening()


@pytest.mark.parametrize("long_polling", [False, True])
@pytest_twisted.ensureDeferred
async def test_echo(reactor: Any, echo: Any, long_polling: bool) -> None:
    url, primus, sparks = echo
    socket = await Socket.connect(url + "/primus?who=py", transformer="browserchannel",
                                  reactor=reactor, transport={"long_polling": long_polling})
    try:
        assert sparks[0].query["who"] == "py"
        assert sparks[0].address.ip == "127.0.0.1"
        assert socket.socket.id == sparks[0].id
        assert await socket.id() == sparks[0].id
        got = wait_event(reactor, socket, "data")
        socket.write({"text": "h\u00e9llo \u2028 \U0001f600", "n": [1, 2]})
        (data,) = await got
        assert data == {"text": "h\u00e9llo \u2028 \U0001f600", "n": [1, 2]}
        # many messages, in order, across several back-channel responses
        seen: list[Any] = []
        socket.on("data", seen.append)
        for i in range(200):
            socket.write("x" * 100 + str(i))
        while len(seen) < 200:
            await settle(reactor)
        assert seen == ["x" * 100 + str(i) for i in range(200)]
        # the server ends the spark: the client ends too, no reconnect
        done = wait_event(reactor, socket, "end", timeout=5)
        sparks[0].end()
        await done
        while primus._server.sessions:
            await settle(reactor)
    finally:
        await socket.end()


@pytest_twisted.ensureDeferred
async def test_client_end_terminates_the_session(reactor: Any, echo: Any) -> None:
    url, primus, sparks = echo
    socket = await Socket.connect(url + "/primus", transformer="browserchannel", reactor=reactor)
    ended = Deferred()
    sparks[0].on("end", lambda: ended.callback(None))
    await socket.end()
    await ended.addTimeout(5, reactor)
    assert not primus._server.sessions


@pytest_twisted.ensureDeferred
async def test_end_with_data_delivers_it_first(reactor: Any, echo: Any) -> None:
    url, primus, sparks = echo
    socket = await Socket.connect(url + "/primus", transformer="browserchannel", reactor=reactor)
    received: list[Any] = []
    sparks[0].on("data", received.append)
    await socket.end({"last": "words"})
    while primus._server.sessions:
        await settle(reactor)
    assert received == [{"last": "words"}]


@pytest_twisted.ensureDeferred
async def test_reconnects_after_a_server_side_reconnect_end(reactor: Any, echo: Any) -> None:
    url, primus, sparks = echo
    socket = await Socket.connect(url + "/primus", transformer="browserchannel", reactor=reactor,
                                  reconnect={"min": 0.05, "max": 0.1})
    try:
        # ("open" follows "reconnected": wait for the end of the sequence)
        reopened = wait_event(reactor, socket, "open", timeout=10)
        sparks[0].end(reconnect=True)
        await reopened
        assert len(sparks) == 2 and sparks[1].id != sparks[0].id
        assert list(primus._server.sessions) == [sparks[1].id]
    finally:
        await socket.end()


@pytest_twisted.ensureDeferred
async def test_a_dropped_back_channel_is_reopened_without_an_error(reactor: Any, echo: Any) -> None:
    url, primus, sparks = echo
    socket = await Socket.connect(url + "/primus", transformer="browserchannel", reactor=reactor,
                                  reconnect={"min": 0.05, "max": 0.1})
    errors: list[Any] = []
    socket.on("error", errors.append)
    try:
        session = primus._server.sessions[sparks[0].id]
        while session.back_channel is None:
            await settle(reactor)
        first = session.back_channel
        # the network drops the back channel's connection (a proxy): the
        # session lives on, and the client opens another back channel
        first.request.channel.transport.abortConnection()
        while session.back_channel in (None, first):
            await settle(reactor)
        got = wait_event(reactor, socket, "data")
        sparks[0].write("still here")
        assert await got == ("still here",)
        assert len(sparks) == 1 and errors == []
        # a stop without primus::server::close (the server asks for a
        # reconnect) reopens the socket, without an error
        reopened = wait_event(reactor, socket, "open", timeout=10)
        sparks[0].end(reconnect=True)
        await reopened
        assert len(sparks) == 2 and errors == []
        session = primus._server.sessions[sparks[1].id]
        while session.back_channel is None:
            await settle(reactor)
        assert session.back_channel is not None
    finally:
        await socket.end()


@pytest_twisted.ensureDeferred
async def test_unknown_server_fails(reactor: Any) -> None:
    site = Site(Resource())
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    try:
        socket = Socket(f"http://127.0.0.1:{port.getHost().port}/primus", transformer="browserchannel",
                        reactor=reactor, strategy=False, manual=True)
        failed = wait_event(reactor, socket, "error")
        socket.open()
        (error,) = await failed
        assert isinstance(error, ConnectionFailed)
        assert "404" in str(error)
        await socket.end()
    finally:
        await port.stopListening()


@pytest.mark.parametrize("long_polling", [False, True])
@pytest_twisted.ensureDeferred
async def test_against_node_primus_browserchannel(reactor: Any, long_polling: bool) -> None:
    server = await NodePrimusServer.start(
        reactor, {"transformer": "browserchannel", "pingInterval": False, "echo": True}, node=node_path()
    )
    socket = None
    try:
        socket = await Socket.connect(server.url + "?who=py", transformer="browserchannel",
                                      reactor=reactor, transport={"long_polling": long_polling})
        connection = await server.wait_for("connection")
        assert connection["args"][0]["query"]["who"] == "py"
        assert await socket.id() == connection["args"][0]["id"]
        got = wait_event(reactor, socket, "data")
        socket.write({"a": "\u00e9\u2028\U0001f600"})
        (data,) = await got
        assert data == {"a": "\u00e9\u2028\U0001f600"}
        seen: list[Any] = []
        socket.on("data", seen.append)
        for i in range(30):
            socket.write(i)
        while len(seen) < 30:
            await settle(reactor)
        assert seen == list(range(30))
        ended = wait_event(reactor, socket, "end")
        server.send({"op": "end", "id": connection["args"][0]["id"]})
        await ended
    finally:
        if socket is not None:
            await socket.end()
        await server.stop()
