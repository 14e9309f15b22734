"""
Helpers of the cluster tests: nodes (a Primus with the cluster plugin on a
loopback port) and clients that record what they receive.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import deferLater

from primus_tx import create_server
from primus_tx.client import Socket

PASSWORD = "correct horse battery staple"


async def until(reactor: Any, condition: Any, timeout: float = 10.0, step: float = 0.05) -> None:
    """
    Wait until ``condition()`` is true; fail after ``timeout`` seconds.
    """
    waited = 0.0
    while not condition():
        if waited >= timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await deferLater(reactor, step, lambda: None)
        waited += step


async def start_node(reactor: Any, redis_url: str, plugin: Any = "cluster", **cluster: Any) -> Any:
    """
    A primus-tx node with the cluster plugin (and the other ``plugin``
    names given), listening on 127.0.0.1, and registered in Redis.
    """
    settings = {
        "redis": redis_url,
        "password": PASSWORD,
        "interval": 1.5,
        "timeout": 0.5,
        "probe_interval": 0.5,
    }
    settings.update(cluster)
    primus = await create_server(
        listen="tcp:0:interface=127.0.0.1",
        reactor=reactor,
        plugin=plugin,
        cluster=settings,
        ping_interval=0,
    )
    await until(reactor, lambda: primus.cluster.stats["registrations"] >= 1)
    return primus


def url_of(primus: Any) -> str:
    return f"http://127.0.0.1:{primus._ports[0].getHost().port}"


class Client:
    """
    A Python client that keeps what it receives.
    """

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.received: list[Any] = []
        socket.on("data", self.received.append)

    @classmethod
    async def connect(cls, reactor: Any, primus: Any, **options: Any) -> Client:
        socket = await Socket.connect(url_of(primus), reactor=reactor, **options)
        client = cls(socket)
        client.id = await socket.id()
        await until(reactor, lambda: primus.spark(client.id) is not None)
        return client

    async def close(self) -> None:
        await self.socket.end()


async def shut(clients: list[Client], *nodes: Any) -> None:
    """
    Close the clients, then destroy the nodes.
    """
    for client in clients:
        await client.close()
    for node in nodes:
        await node.destroy()
