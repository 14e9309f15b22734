# -*- test-case-name: tests.plugins.test_emit_responder -*-
"""
The ``responder`` plugin: request/response on primus-responder 1.0.4's
wire, in both directions::

    {"plugin": "primus-responder", "requestId": "<uuid4>", "data": ...}
    {"plugin": "primus-responder", "responseId": "<same>", "data": ...}

``spark.write_and_wait(data)`` (``socket.write_and_wait`` on the Python
client) returns a Deferred firing with the response; the ``"request"``
event's first listener that returns something other than ``None`` gives
the response (a Deferred or a coroutine is waited for; ``None`` answers
without a ``data`` key, as ``done()`` does in Node).

As with Node, any object whose ``plugin`` is ``"primus-responder"`` is
consumed, even a malformed one, and never reaches ``data``.  Unlike Node
(which has no timeout), a response is awaited at most ``timeout`` seconds,
at most ``max_pending`` responses per connection, and all fail when the
connection ends; a response for an id nobody awaits is logged and dropped.
"""

from __future__ import annotations

import uuid
from typing import Any, Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger
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
    answer,
)

__all__ = [
    "NAME",
    "AckError",
    "AckLimitError",
    "AckTimeout",
    "ConnectionEnded",
    "Responder",
    "ResponderPlugin",
    "ResponderSpark",
    "plugin",
]

#: The ``plugin`` value of every envelope.
NAME = "primus-responder"
#: Default seconds a response is awaited.
TIMEOUT = 30.0
#: Default number of responses one connection may await.
MAX_PENDING = 1024

log = Logger(namespace="primus_tx.plugins.responder")

_IDS = (str, int, float)


class Responder:
    """
    One connection's requests and responses.
    """

    __slots__ = ("conn", "pending")

    def __init__(self, conn: Any, pending: PendingTable) -> None:
        self.conn = conn
        self.pending = pending

    def write_and_wait(self, data: Any, timeout: Optional[float]) -> Deferred[Any]:
        refused = self.pending.check()
        if refused is not None:
            return refused
        request_id = str(uuid.uuid4())
        waiting = self.pending.add(request_id, timeout)
        self.conn.write({"plugin": NAME, "requestId": request_id, "data": data})
        return waiting

    def consume(self, data: Any) -> bool:
        """
        Act on a responder envelope; ``False`` when ``data`` is not one.
        """
        if type(data) is not dict or data.get("plugin") != NAME:
            return False
        request_id = data.get("requestId")
        if request_id:
            if type(request_id) in _IDS and type(request_id) is not bool:
                answer(self.conn, "request", (data.get("data"),), self._respond, request_id)
            return True
        response_id = data.get("responseId")
        if response_id and type(response_id) in _IDS:
            if self.pending.resolve(response_id, data.get("data")):
                return True
        if response_id:
            log.warn(
                "Ignored a response for {id!r}, which nobody awaits on {conn!r}",
                id=response_id,
                conn=self.conn,
            )
        return True

    def _respond(self, result: Any, request_id: Any) -> None:
        envelope: dict[str, Any] = {"plugin": NAME, "responseId": request_id}
        if result is not None:
            envelope["data"] = result
        self.conn.write(envelope)


class ResponderSpark:
    """
    What the responder mixes into ``primus.Spark``.
    """

    _responder_timeout: Optional[float] = TIMEOUT
    _responder_limit: int = MAX_PENDING

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        conn: Any = self
        self.responder = Responder(
            self,
            PendingTable(
                reactor_of(conn.primus), self._responder_timeout, self._responder_limit,
                "response",
            ),
        )
        conn.on("end", self._responder_ended)

    def write_and_wait(self, data: Any, timeout: Optional[float] = None) -> Deferred[Any]:
        """
        Send ``data`` as a request; the Deferred fires with the client's
        response, or fails with :class:`AckTimeout` after ``timeout``
        seconds (default: the plugin's) or :class:`ConnectionEnded`.
        """
        return self.responder.write_and_wait(data, timeout)

    def emit(self, event: str, *args: Any) -> bool:
        if event == "data" and args and self.responder.consume(args[0]):
            return True
        return bool(super().emit(event, *args))  # type: ignore[misc]

    def _responder_ended(self) -> None:
        self.responder.pending.close(f"Spark {getattr(self, 'id', '?')} ended")


@implementer(IPrimusPlugin)
class ResponderPlugin(PluginBase):
    """
    The responder plugin; ``ResponderPlugin(timeout=5)`` configures one.

    :param timeout: seconds a response is awaited by default (``None``:
        forever, as Node does).
    :param max_pending: responses one connection may await at once.
    """

    name = "responder"
    js_file = "responder.js"

    def __init__(self, timeout: Optional[float] = TIMEOUT, max_pending: int = MAX_PENDING) -> None:
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0
        ):
            raise PrimusError(f"timeout must be seconds (or None), not {timeout!r}")
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            raise PrimusError(f"max_pending must be a positive number, not {max_pending!r}")
        self.timeout = timeout
        self.max_pending = max_pending

    def server(self, primus: Any, options: Any = None) -> None:
        """
        Give the server's sparks ``write_and_wait`` and the ``request`` event.
        """
        cls = extend_spark(primus, ResponderSpark)
        cls._responder_timeout = self.timeout
        cls._responder_limit = self.max_pending

    def client(self, socket: Any, options: Any = None) -> None:
        """
        Give a Python client socket ``write_and_wait`` and the ``request``
        event.
        """
        pending = PendingTable(reactor_of(socket), self.timeout, self.max_pending, "response")
        responder = Responder(socket, pending)
        socket.responder = responder
        local = socket.emit

        def emit(event: str, *args: Any) -> bool:
            if event == "data" and args and responder.consume(args[0]):
                return True
            return bool(local(event, *args))

        def write_and_wait(data: Any, timeout: Optional[float] = None) -> Deferred[Any]:
            """
            Send ``data`` as a request and wait for the server's response.
            """
            return responder.write_and_wait(data, timeout)

        socket.emit = emit
        socket.write_and_wait = write_and_wait
        socket.on("end", lambda *_: pending.close("The socket ended"))
        socket.on("open", lambda *_: pending.reopen())


#: The plugin as found by name (``plugin="responder"``).
plugin = ResponderPlugin()
