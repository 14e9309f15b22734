"""
Fixtures for the interop tests: real Node peers and real primus-tx servers
on 127.0.0.1, all cleaned up after each test whatever happened in it.
"""

from __future__ import annotations

from typing import Any, Optional

import pytest_twisted
from nodepeer import NodePeer, NodePrimusClient, NodePrimusServer, node_path
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import Primus


class Peers:
    """
    Starts Node peers for one test and stops every one of them afterwards.
    """

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._peers: list[NodePeer] = []
        #: The transformer the official clients are built with.
        self.transformer = "websockets"

    async def client(self) -> NodePrimusClient:
        peer = await NodePrimusClient.start(self._reactor, node=node_path())
        peer.transformer = self.transformer
        self._peers.append(peer)
        return peer

    async def server(self, config: Optional[dict[str, Any]] = None) -> NodePrimusServer:
        peer = await NodePrimusServer.start(self._reactor, config, node=node_path())
        self._peers.append(peer)
        return peer

    async def close(self) -> None:
        for peer in self._peers:
            await peer.stop()
        self._peers = []


class Servers:
    """
    primus-tx servers attached to twisted.web sites listening on 127.0.0.1
    port 0; destroyed and closed after the test.
    """

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._ports: list[Any] = []
        self._primuses: list[Primus] = []
        #: The transformer a Primus gets when the test names none.
        self.transformer = "websockets"

    def listen(self, site: Site) -> str:
        """
        Listen with ``site``; returns its base URL.
        """
        port = self._reactor.listenTCP(0, site, interface="127.0.0.1")
        self._ports.append(port)
        return f"http://127.0.0.1:{port.getHost().port}"

    def primus(self, site: Optional[Site] = None, **options: Any) -> Primus:
        """
        A Primus attached to ``site`` (a fresh one when omitted), with the
        test reactor.
        """
        if site is None:
            site = Site(Resource())
        options.setdefault("transformer", self.transformer)
        primus = Primus(site, reactor=self._reactor, **options)
        self._primuses.append(primus)
        return primus

    def start(self, **options: Any) -> tuple[Primus, str]:
        """
        A Primus on its own listening site: ``(primus, base_url)``.
        """
        site = Site(Resource())
        primus = self.primus(site, **options)
        return primus, self.listen(site)

    async def close(self) -> None:
        for primus in self._primuses:
            try:
                await primus.destroy()
            except Exception:  # a test may have destroyed it already
                pass
        for port in self._ports:
            await port.stopListening()
        self._primuses = []
        self._ports = []


@pytest_twisted.async_yield_fixture()
async def peers(reactor: Any) -> Any:
    """
    A :class:`Peers` whose Node processes are all stopped after the test.
    """
    node_path()  # skip (or fail in CI) before the test when node is missing
    made = Peers(reactor)
    try:
        yield made
    finally:
        await made.close()


@pytest_twisted.async_yield_fixture()
async def servers(reactor: Any) -> Any:
    """
    A :class:`Servers` whose Primus instances and ports are closed after the
    test.
    """
    made = Servers(reactor)
    try:
        yield made
    finally:
        await made.close()
