# -*- test-case-name: tests.plugins.test_emitter -*-
"""
The ``emitter`` plugin: named events with acknowledgements, on
primus-emitter 3.1.1's wire, so browsers using the npm plugin and Node
servers running it talk to primus-tx unchanged.

Server::

    primus = Primus(site, plugin="emitter")

    def connection(spark):
        spark.on("greet", lambda name: f"hello {name}")   # the ack's reply
        spark.send("news", {"title": "..."})
        d = spark.send("ask", 21, ack=True)                 # Deferred[list]

    primus.send("tick", 1)        # every spark; the packet is encoded once

Python client: ``socket.send(...)`` and ``socket.on(...)`` the same way.

Unlike Node, an ack waits at most ``ack_timeout`` seconds (then the
Deferred fails with :class:`AckTimeout`), at most ``max_pending`` acks are
awaited per connection (more fail at once with :class:`AckLimitError`) and
every awaited ack fails with :class:`ConnectionEnded` when the connection
ends; none of this changes the bytes on the wire.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from twisted.internet.defer import Deferred
from zope.interface import implementer

from primus_tx._errors import PrimusError
from primus_tx.interfaces import IPrimusPlugin
from primus_tx.plugins import PluginBase, extend_spark, reactor_of
from primus_tx.plugins._acks import (
    AckError,
    AckLimitError,
    AckTimeout,
    ConnectionEnded,
    PendingTable,
)
from primus_tx.plugins.emitter._protocol import ACK, EVENT, Emitter, event_packet

__all__ = [
    "ACK",
    "EVENT",
    "AckError",
    "AckLimitError",
    "AckTimeout",
    "ConnectionEnded",
    "EmitterPlugin",
    "EmitterSpark",
    "plugin",
]

#: Default seconds an ack is awaited.
ACK_TIMEOUT = 30.0
#: Default number of acks a connection may await at once.
MAX_PENDING = 1024


def _check(ack_timeout: Any, max_pending: Any) -> None:
    if ack_timeout is not None and (
        isinstance(ack_timeout, bool) or not isinstance(ack_timeout, (int, float)) or ack_timeout < 0
    ):
        raise PrimusError(f"ack_timeout must be seconds (or None), not {ack_timeout!r}")
    if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
        raise PrimusError(f"max_pending must be a positive number of acks, not {max_pending!r}")


class EmitterSpark:
    """
    What the emitter mixes into ``primus.Spark``.
    """

    _emitter_timeout: Optional[float] = ACK_TIMEOUT
    _emitter_limit: int = MAX_PENDING

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        conn: Any = self
        self.emitter = Emitter(
            self,
            PendingTable(
                reactor_of(conn.primus), self._emitter_timeout, self._emitter_limit, "ack"
            ),
        )
        conn.on("data", self.emitter.received)
        conn.on("end", self._emitter_ended)

    def send(
        self, event: str, *args: Any, ack: bool = False, timeout: Optional[float] = None
    ) -> Union[bool, Deferred[list[Any]]]:
        """
        Send ``event`` with ``args`` to the client.

        :param ack: ask the client to acknowledge; the result is then a
            Deferred firing with the reply's arguments (a list).
        :param timeout: seconds to wait for the ack (default: the plugin's
            ``ack_timeout``).
        :return: without ``ack``, what ``write`` returns.
        """
        return self.emitter.send(event, args, ack, timeout)

    def _emitter_ended(self) -> None:
        self.emitter.pending.close(f"Spark {getattr(self, 'id', '?')} ended")


def _broadcast(primus: Any, event: str, *args: Any, **kwargs: Any) -> Any:
    if kwargs:
        raise PrimusError(
            "primus.send broadcasts without acks; use spark.send(..., ack=True) per spark"
        )
    primus.write(event_packet(event, args))
    return primus


@implementer(IPrimusPlugin)
class EmitterPlugin(PluginBase):
    """
    The emitter plugin; ``EmitterPlugin(ack_timeout=5)`` configures one
    (pass it as ``plugin={"emitter": EmitterPlugin(...)}``).

    :param ack_timeout: seconds an ack is awaited by default (``None``
        waits forever, as Node does).
    :param max_pending: acks one connection may await at once.
    """

    name = "emitter"
    js_file = "emitter.js"

    def __init__(
        self, ack_timeout: Optional[float] = ACK_TIMEOUT, max_pending: int = MAX_PENDING
    ) -> None:
        _check(ack_timeout, max_pending)
        self.ack_timeout = ack_timeout
        self.max_pending = max_pending

    def server(self, primus: Any, options: Any = None) -> None:
        """
        Give the server's sparks ``send`` and the server ``send``.
        """
        cls = extend_spark(primus, EmitterSpark)
        cls._emitter_timeout = self.ack_timeout
        cls._emitter_limit = self.max_pending

        def send(event: str, *args: Any, **kwargs: Any) -> Any:
            """
            Send ``event`` with ``args`` to every spark (encoded once).
            """
            return _broadcast(primus, event, *args, **kwargs)

        primus.send = send

    def client(self, socket: Any, options: Any = None) -> None:
        """
        Give a Python client socket ``send`` and its emitter.
        """
        pending = PendingTable(reactor_of(socket), self.ack_timeout, self.max_pending, "ack")
        emitter = Emitter(socket, pending)
        socket.emitter = emitter

        def send(
            event: str, *args: Any, ack: bool = False, timeout: Optional[float] = None
        ) -> Union[bool, Deferred[list[Any]]]:
            """
            Send ``event`` with ``args`` to the server (see
            :meth:`EmitterSpark.send`).
            """
            return emitter.send(event, args, ack, timeout)

        socket.send = send
        socket.on("data", emitter.received)
        socket.on("end", lambda *_: pending.close("The socket ended"))
        socket.on("open", lambda *_: pending.reopen())


#: The plugin as found by name (``plugin="emitter"``).
plugin = EmitterPlugin()
