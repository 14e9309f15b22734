"""
A fake client transport and transformer: the socket's logic, driven by
hand, on a Clock, without I/O.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import succeed
from twisted.internet.task import Clock
from zope.interface import implementer

from primus_tx.client import IClientTransport, Socket
from primus_tx.interfaces import ITransformer

EVENTS = (
    "readyStateChange",
    "open",
    "data",
    "error",
    "end",
    "close",
    "destroy",
    "timeout",
    "online",
    "offline",
    "reconnect scheduled",
    "reconnect",
    "reconnected",
    "reconnect timeout",
    "reconnect failed",
)


@implementer(IClientTransport)
class FakeTransport:
    protocol = "ws"
    id = None

    def __init__(self, handler: Any, reactor: Any, options: dict[str, Any]) -> None:
        self.handler = handler
        self.reactor = reactor
        self.options = options
        self.sent: list[Any] = []
        self.closed = False
        self.url: Any = None
        self.headers: Any = None
        options["registry"].append(self)

    def open(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers

    def send(self, message: Any) -> None:
        assert not self.closed, "sent on a closed transport"
        self.sent.append(message)

    def close(self) -> Any:
        self.closed = True
        return succeed(None)

    # driving it
    def accept(self) -> None:
        self.handler.connectionMade()

    def receive(self, value: Any) -> None:
        self.handler.messageReceived(json.dumps(value))

    def receive_raw(self, raw: Any) -> None:
        self.handler.messageReceived(raw)

    def fail(self, error: Exception) -> None:
        self.handler.connectionFailed(error)
        self.handler.connectionLost(error)

    def drop(self) -> None:
        self.handler.connectionLost(None)


@implementer(ITransformer)
class FakeTransformer:
    name = "fake"

    def server(self, primus: Any) -> Any:
        raise NotImplementedError

    def client(self) -> Any:
        return FakeTransport

    def library(self) -> str:
        return ""


class Harness:
    """
    A socket on a Clock with the fake transport, and every event it emits.
    """

    def __init__(self, url: str = "http://example.com:8080", **options: Any) -> None:
        self.clock = Clock()
        self.transports: list[FakeTransport] = []
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        transport = dict(options.pop("transport", {}))
        transport["registry"] = self.transports
        options.setdefault("random", lambda: 0.5)
        self.socket = Socket(
            url,
            transformer=options.pop("transformer", FakeTransformer()),
            transport=transport,
            reactor=self.clock,
            **options,
        )
        for name in EVENTS:
            self.socket.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Any:
        def record(*args: Any) -> None:
            self.events.append((name, args))

        return record

    @property
    def transport(self) -> FakeTransport:
        return self.transports[-1]

    def names(self) -> list[str]:
        """
        The events so far (readyStateChange with its state), then forget them.
        """
        names = [
            f"readyStateChange:{args[0]}" if name == "readyStateChange" else name
            for name, args in self.events
        ]
        self.events.clear()
        return names

    def open(self) -> FakeTransport:
        self.clock.advance(0)
        transport = self.transport
        transport.accept()
        return transport

    def idle(self) -> bool:
        return not self.clock.getDelayedCalls()
