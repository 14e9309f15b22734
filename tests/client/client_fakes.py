"""
The socket's logic driven by hand, on a Clock, without I/O: the public fake
client transport of :mod:`primus_tx.testing`, and a harness recording every
event.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock

from primus_tx.client import Socket
from primus_tx.testing import FakeClientTransformer, FakeClientTransport

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


# The public fakes, under the names these tests have always used.
FakeTransport = FakeClientTransport
FakeTransformer = FakeClientTransformer


class Harness:
    """
    A socket on a Clock with the fake transport, and every event it emits.
    """

    def __init__(self, url: str = "http://example.com:8080", **options: Any) -> None:
        self.clock = Clock()
        self.transformer: FakeClientTransformer = options.pop(
            "transformer", None
        ) or FakeClientTransformer()
        self.transports = self.transformer.transports
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        options.setdefault("random", lambda: 0.5)
        self.socket = Socket(url, transformer=self.transformer, reactor=self.clock, **options)
        for name in EVENTS:
            self.socket.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Any:
        def record(*args: Any) -> None:
            self.events.append((name, args))

        return record

    @property
    def transport(self) -> FakeClientTransport:
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

    def open(self) -> FakeClientTransport:
        self.clock.advance(0)
        transport = self.transport
        transport.accept()
        return transport

    def idle(self) -> bool:
        return not self.clock.getDelayedCalls()
