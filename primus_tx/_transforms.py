"""
Message transforms: user functions that rewrite or drop messages on their
way in (after decoding) or out (before encoding).

A transform is ``fn(packet)``: it may change ``packet.data``, return
``False`` to drop the message, or return an awaitable (a Deferred or a
coroutine) whose result means the same.  Synchronous chains cost nothing
but the calls; a Deferred appears only when a transform returns one.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from primus_tx._events import as_deferred, is_awaitable

__all__ = ["DROPPED", "Packet", "run_transforms"]

Transform = Callable[["Packet"], Any]


class Packet:
    """
    The message a transform sees: ``data`` (rewritable), ``raw`` (the
    undecoded message, incoming only) and ``spark`` (the spark or client the
    message belongs to, Primus's ``this``).
    """

    __slots__ = ("data", "raw", "spark")

    def __init__(self, data: Any, raw: Any = None, spark: Any = None) -> None:
        self.data = data
        self.raw = raw
        self.spark = spark

    def __repr__(self) -> str:
        return f"Packet(data={self.data!r})"


class _Dropped:
    def __repr__(self) -> str:
        return "DROPPED"


DROPPED: Any = _Dropped()


def run_transforms(
    transforms: Sequence[Transform], packet: Packet, start: int = 0
) -> Any:
    """
    Run ``transforms`` over ``packet`` in order.

    :return: the packet when every transform ran synchronously, ``DROPPED``
        when one dropped it, or a Deferred firing with one of those.
        Exceptions raised by a transform propagate (or fail the Deferred).
    """
    for index in range(start, len(transforms)):
        result = transforms[index](packet)
        if result is False:
            return DROPPED
        if result is not None and is_awaitable(result):
            return as_deferred(result).addCallback(_resume, transforms, packet, index + 1)
    return packet


def _resume(result: Any, transforms: Sequence[Transform], packet: Packet, start: int) -> Any:
    if result is False:
        return DROPPED
    return run_transforms(transforms, packet, start)

