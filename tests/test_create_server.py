"""
``create_server``: a Primus with a site of its own, listening on endpoint
descriptions — TCP, TLS and UNIX sockets — and the Python client reaching
it over each.
"""

from __future__ import annotations

import socket as stdlib_socket
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from tls_helpers import write_pem
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.internet.ssl import Certificate, optionsForClientTLS

from primus_tx import Primus, create_server
from primus_tx.client import Socket

pytestmark = pytest.mark.timeout(30)


def echo(spark: Any) -> None:
    spark.on("data", spark.write)


async def round_trip(reactor: Any, url: str, **options: Any) -> Any:
    client = await Socket.connect(url, reactor=reactor, **options)
    answered: Deferred[Any] = Deferred()
    client.once("data", answered.callback)
    client.write({"ping": "€"})
    try:
        return await answered.addTimeout(5, reactor)
    finally:
        await client.end()


@pytest_twisted.ensureDeferred
async def test_tcp(reactor: Any) -> None:
    """
    ``create_server`` listens, attaches the connection listener, and
    ``destroy()`` closes the port it opened.
    """
    primus = await create_server(echo, listen="tcp:0:interface=127.0.0.1", reactor=reactor)
    assert isinstance(primus, Primus)
    port = primus._ports[0].getHost().port
    assert await round_trip(reactor, f"http://127.0.0.1:{port}") == {"ping": "€"}
    await primus.destroy()
    with pytest.raises(ConnectionRefusedError):
        stdlib_socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest_twisted.ensureDeferred
async def test_tls_and_several_endpoints(reactor: Any, tmp_path: Path) -> None:
    """
    An ``ssl:`` endpoint serves ``wss``; one server listens on several
    endpoints at once, and sparks say which connections were secure.
    """
    key_path, cert_path = write_pem(tmp_path)
    secure_flags: list[bool] = []

    def connection(spark: Any) -> None:
        secure_flags.append(spark.address.secure)
        echo(spark)

    primus = await create_server(
        connection,
        listen=[
            "tcp:0:interface=127.0.0.1",
            f"ssl:0:interface=127.0.0.1:privateKey={key_path}:certKey={cert_path}",
        ],
        reactor=reactor,
    )
    try:
        plain, tls = (p.getHost().port for p in primus._ports)
        trust = Certificate.loadPEM(cert_path.read_bytes())
        creator = optionsForClientTLS("localhost", trustRoot=trust)
        assert await round_trip(reactor, f"https://localhost:{tls}", transport={"tls": creator}) == {
            "ping": "€"
        }
        assert await round_trip(reactor, f"ws://127.0.0.1:{plain}") == {"ping": "€"}
        assert secure_flags == [True, False]
    finally:
        await primus.destroy()


@pytest_twisted.ensureDeferred
async def test_unix_socket(reactor: Any, tmp_path: Path) -> None:
    """
    A ``unix:`` endpoint works too; its sparks report Primus's
    localhost address since a UNIX socket has no IP.
    """
    path = tmp_path / "primus.sock"
    addresses: list[Any] = []

    def connection(spark: Any) -> None:
        addresses.append(spark.address)
        echo(spark)

    primus = await create_server(connection, listen=f"unix:{path}", reactor=reactor)
    try:
        from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
        from twisted.internet.endpoints import UNIXClientEndpoint

        got: Deferred[Any] = Deferred()

        class Raw(WebSocketClientProtocol):
            def onOpen(self) -> None:
                self.sendMessage(b'"over unix"', False)

            def onMessage(self, payload: bytes, is_binary: bool) -> None:
                if not payload.startswith(b'"primus::') and not got.called:
                    got.callback(payload)
                    self.sendClose()

        factory = WebSocketClientFactory("ws://localhost/primus")
        factory.protocol = Raw
        await UNIXClientEndpoint(reactor, str(path)).connect(factory)
        assert await got.addTimeout(5, reactor) == b'"over unix"'
        assert addresses[0].ip == "127.0.0.1"
    finally:
        await primus.destroy()


@pytest_twisted.ensureDeferred
async def test_bind_failure_fails_and_cleans_up(reactor: Any) -> None:
    """
    A port that cannot be bound fails the Deferred; nothing is left
    listening or scheduled.
    """
    blocker = stdlib_socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    busy = blocker.getsockname()[1]
    try:
        before = set(reactor.getDelayedCalls())
        with pytest.raises(CannotListenError):
            await create_server(listen=f"tcp:{busy}:interface=127.0.0.1", reactor=reactor)
        leftover = [
            call
            for call in set(reactor.getDelayedCalls()) - before
            if "primus_tx" in repr(getattr(call, "func", ""))
        ]
        assert leftover == []
    finally:
        blocker.close()


def test_bad_endpoint_description_is_a_clear_error() -> None:
    """
    A listen string that is not an endpoint description fails at once with
    Twisted's explanation.
    """
    from twisted.internet.task import Clock

    failure = create_server(listen="carrier-pigeon:8080", reactor=Clock())
    errors: list[Any] = []
    failure.addErrback(errors.append)
    assert errors and "carrier-pigeon" in str(errors[0].value)


@pytest_twisted.ensureDeferred
async def test_create_server_listens_with_a_backlog_of_511():
    from twisted.internet.testing import MemoryReactorClock

    from primus_tx._listen import with_backlog

    reactor = MemoryReactorClock()
    primus = await create_server(listen=["tcp:0", "tcp:0:backlog=9"], reactor=reactor, ping_interval=0)
    try:
        assert [server[2] for server in reactor.tcpServers] == [511, 9]
    finally:
        await primus.destroy()
    assert with_backlog("unix:/tmp/x.sock") == "unix:/tmp/x.sock:backlog=511"
    assert with_backlog("8080") == "8080:backlog=511"
    assert with_backlog("systemd:domain=INET:index=0") == "systemd:domain=INET:index=0"
    assert with_backlog("ssl:443:privateKey=k.pem:backlog=100") == "ssl:443:privateKey=k.pem:backlog=100"
