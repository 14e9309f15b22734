# -*- test-case-name: tests.test_lane -*-
"""
The ordered transform lane: messages pass through a list of transforms
one after another, and an asynchronous transform holds back the messages
behind it, so they come out in the order they went in.

One lane class serves the four directions that have transforms (a spark's
incoming and outgoing messages, a client socket's incoming and outgoing
ones), so the spark and the client keep order by construction rather than
by four copies of the same bookkeeping.  An owner makes its lanes only once
it has transforms: a connection without any pays nothing per message.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Optional, Sequence

from twisted.python.failure import Failure

from primus_tx._transforms import DROPPED, Packet, Transform, run_transforms

__all__ = ["Lane"]


class Lane:
    """
    One direction's transforms, run in order for each message.

    :param transforms: the owner's list of transforms (shared, not copied:
        a transform added later applies to later messages).
    :param owner: the spark or socket the messages belong to
        (``packet.spark``).
    :param deliver: called with the transformed data of each message that
        was not dropped, in the order the messages were pushed.
    :param fail: called with the exception of a transform that raised or
        failed; that message is dropped, the ones behind it go on.
    :param running: called before each held-back message is transformed;
        when it returns ``False`` (the owner has closed) the rest are
        dropped.  ``None`` runs them all.
    """

    __slots__ = ("_backlog", "_deliver", "_fail", "_owner", "_running", "_transforms")

    def __init__(
        self,
        transforms: Sequence[Transform],
        owner: Any,
        deliver: Callable[[Any], object],
        fail: Callable[[Exception], object],
        running: Optional[Callable[[], bool]] = None,
    ) -> None:
        self._transforms = transforms
        self._owner = owner
        self._deliver = deliver
        self._fail = fail
        self._running = running
        # Messages waiting behind an asynchronous transform, or None.
        self._backlog: Optional[deque[tuple[Any, Any]]] = None

    @property
    def waiting(self) -> int:
        """
        How many messages wait behind an asynchronous transform.
        """
        return len(self._backlog) if self._backlog is not None else 0

    def push(self, data: Any, raw: Any = None) -> None:
        """
        Transform ``data`` (``raw`` is the undecoded message, incoming only)
        and deliver it, now or once the messages before it are through.
        """
        if self._backlog is not None:
            self._backlog.append((data, raw))
            return
        self._run(data, raw)

    def _run(self, data: Any, raw: Any) -> None:
        try:
            result = run_transforms(self._transforms, Packet(data, raw, self._owner))
        except Exception as error:
            self._fail(error)
            return
        if result is DROPPED:
            return
        if isinstance(result, Packet):
            self._deliver(result.data)
            return
        # Asynchronous: later messages wait behind this one.
        self._backlog = deque()
        result.addCallbacks(self._transformed, self._failed)

    def _transformed(self, result: Any) -> None:
        if result is not DROPPED:
            self._deliver(result.data)
        self._drain()

    def _failed(self, failure: Failure) -> None:
        self._fail(failure.value)  # type: ignore[arg-type]
        self._drain()

    def _drain(self) -> None:
        backlog, self._backlog = self._backlog, None
        running = self._running
        while backlog:
            if running is not None and not running():
                return
            data, raw = backlog.popleft()
            self._run(data, raw)
            if self._backlog is not None:
                # Another asynchronous transform: the rest wait behind it.
                self._backlog.extend(backlog)
                return
