"""
The emitter's protocol for one connection, shared by the server half (one
per spark) and the Python client half (one per socket).

The wire is primus-emitter 3.1.1's::

    {"type": 0, "data": [event, arg, ...]}             an event
    {"type": 0, "data": [event, arg, ...], "id": 7}    an event asking for an ack
    {"id": 7, "type": 1, "data": [reply, ...]}         the ack

Ack ids count from 1 per connection and direction.  What we accept is
what primus-emitter accepts (a list ``data``; an ``id`` that is absent,
falsy or a number), minus what crashes or confuses it: anything that is not
an object is plain data, an event name that is not a string is ignored, and
an ack nobody awaits is logged and dropped.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from primus_tx._errors import PrimusError
from primus_tx.plugins._acks import PendingTable, answer, emit_locally

__all__ = ["ACK", "EVENT", "Emitter", "event_packet"]

EVENT = 0
ACK = 1

log = Logger(namespace="primus_tx.plugins.emitter")

_NUMBER = (int, float)


def event_packet(event: str, args: tuple[Any, ...]) -> dict[str, Any]:
    """
    The packet of an event without an ack (what broadcasts send).
    """
    if not isinstance(event, str):
        raise PrimusError(f"An event name must be a string, not {event!r}")
    return {"type": EVENT, "data": [event, *args]}


def reply_args(result: Any) -> list[Any]:
    """
    A handler's return value as the ack's arguments: ``None`` is no
    argument, a tuple is several, anything else is one.
    """
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]


class Emitter:
    """
    One connection's events and acks.

    :param conn: the spark or client socket: its ``write``, ``reserved``
        and event listeners are used.
    :param pending: the table of awaited acks.
    """

    __slots__ = ("_ids", "conn", "pending")

    def __init__(self, conn: Any, pending: PendingTable) -> None:
        self.conn = conn
        self.pending = pending
        self._ids = 1

    # -- sending -------------------------------------------------------------

    def send(
        self, event: str, args: tuple[Any, ...], ack: bool, timeout: Optional[float]
    ) -> Union[bool, Deferred[list[Any]]]:
        """
        Send ``event`` with ``args``.  Without ``ack`` it returns what
        ``write`` returns; with it, a Deferred firing with the peer's reply
        arguments (a list).
        """
        packet = event_packet(event, args)
        if event.startswith(("newListener", "removeListener")):
            # primus-emitter never sends these (Node's own emitter events).
            return False
        if not ack:
            return bool(self.conn.write(packet))
        refused = self.pending.check()
        if refused is not None:
            return refused
        ack_id = self._ids
        self._ids += 1
        packet["id"] = ack_id
        waiting = self.pending.add(ack_id, timeout)
        self.conn.write(packet)
        return waiting

    # -- receiving ------------------------------------------------------------

    def received(self, packet: Any, *_: Any) -> None:
        """
        A ``data`` listener: act on emitter packets, leave the rest alone.
        """
        if type(packet) is not dict:
            return
        data = packet.get("data")
        if type(data) is not list:
            return
        ack_id = packet.get("id")
        if ack_id and type(ack_id) not in _NUMBER:
            return
        kind = packet.get("type")
        if type(kind) not in _NUMBER:
            return
        if kind == EVENT:
            self._event(data, ack_id)
        elif kind == ACK:
            if not self.pending.resolve(ack_id, list(data)):
                log.warn(
                    "Ignored an ack for {ack_id!r}, which nobody awaits on {conn!r}",
                    ack_id=ack_id,
                    conn=self.conn,
                )

    def _event(self, data: list[Any], ack_id: Any) -> None:
        if not data:
            return
        event = data[0]
        if type(event) is not str or self.conn.reserved(event):
            return
        args = data[1:]
        if not ack_id:
            emit_locally(self.conn, event, args)
            return
        answer(self.conn, event, args, self._reply, ack_id)

    def _reply(self, result: Any, ack_id: Any) -> None:
        self.conn.write({"id": ack_id, "type": ACK, "data": reply_args(result)})
