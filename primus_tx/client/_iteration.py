"""
``async for data in socket``: the socket's messages as an asynchronous
iterator that loses nothing between iterations and ends with the socket.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Optional

from twisted.internet.defer import Deferred, succeed

from primus_tx._events import EventEmitter

__all__ = ["DataIterator"]


class DataIterator:
    """
    ``async for data in socket``: every ``data`` event from the moment the
    iterator was made, in order, until the socket ends.

    :param socket: the client socket (any emitter of ``data`` and ``end``).
    :param ended: whether it has already ended (nothing will come).
    """

    def __init__(self, socket: EventEmitter, ended: bool) -> None:
        self._socket = socket
        self._queue: deque[Any] = deque()
        self._waiter: Optional[Deferred[Any]] = None
        self._ended = ended
        if not self._ended:
            socket.on("data", self._data)
            socket.on("end", self._end)

    def __aiter__(self) -> DataIterator:
        return self

    def _data(self, data: Any) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.callback(data)
        else:
            self._queue.append(data)

    def _end(self) -> None:
        self._ended = True
        self._socket.off("data", self._data)
        self._socket.off("end", self._end)
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.errback(StopAsyncIteration())

    def __anext__(self) -> Deferred[Any]:
        if self._queue:
            return succeed(self._queue.popleft())
        if self._ended:
            d: Deferred[Any] = Deferred()
            d.errback(StopAsyncIteration())
            return d
        self._waiter = Deferred(lambda _: self._cancelled())
        return self._waiter

    def _cancelled(self) -> None:
        self._waiter = None
