# -*- test-case-name: tests.browserchannel.test_browserchannel_server -*-
"""
A BrowserChannel session: the spark's IConnection, its numbered outgoing
arrays, its back channel and timers, outliving the requests that carry it.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Optional, Protocol

from twisted.internet.interfaces import IDelayedCall
from zope.interface import implementer

from primus_tx._http import PrimusRequest, is_gone, watch_gone
from primus_tx.interfaces import IConnection, IConnectionHandler, ITransformerHost
from primus_tx.transformers._shared import HIGH_WATER, LOW_WATER, check_water
from primus_tx.transformers.browserchannel._wire import (
    array_json,
    chunk,
    frame_arrays,
    utf16_length,
)

#: A streaming back channel is ended after this many characters, so that
#: the browser can drop its response text (the reference's rule).
STREAM_LIMIT = 10 * 1024

#: How far ahead of the next expected request id a request may run, and
#: how many maps past the next expected one may wait for the gap to fill.
#: Closure's client has one forward request in flight at a time, so its
#: request ids only overtake each other around a retry or the goodbye.
MAX_RID_AHEAD = 4
MAX_HELD_MAPS = 1000


class _Service(Protocol):
    """
    What a session uses of its server (``server.BrowserChannelServer``).
    """

    host: ITransformerHost
    reactor: Any
    keep_alive: float
    session_timeout: float
    headers: list[tuple[bytes, bytes]]

    def _forget(self, session: Session) -> None: ...


class OutOfOrder(ValueError):
    """
    A request id or map offset too far ahead of the ones still missing.
    """


class _Order:
    """
    Runs numbered callbacks in number order, from ``start``: a number that
    arrives early waits for the gap before it to fill; a number already
    seen runs again at once when ``replay`` (request ids: a retried
    request's maps are then dropped by offset) or is dropped (maps).
    """

    def __init__(self, start: int, replay: bool, limit: int, max_weight: int) -> None:
        self.next = start
        self._replay = replay
        self._limit = limit
        self._max_weight = max_weight
        self._weight = 0
        self._held: dict[int, tuple[Callable[[], None], int]] = {}

    def run(self, number: int, fn: Callable[[], None], weight: int = 0) -> None:
        """
        Run ``fn`` in its turn; ``weight`` is what holding it costs
        (characters), bounded in total by ``max_weight``.

        :raises OutOfOrder: when ``number`` is too far ahead, or holding it
            would pass the limits.
        """
        if number < self.next:
            if self._replay:
                fn()
            return
        if number == self.next and not self._held:
            self.next += 1
            fn()
            return
        if (
            number - self.next >= self._limit
            or len(self._held) >= self._limit
            or self._weight + weight > self._max_weight
        ):
            raise OutOfOrder(f"{number} is too far ahead of {self.next}")
        if number in self._held:
            return  # a retry of a request still waiting its turn
        self._held[number] = (fn, weight)
        self._weight += weight
        while self.next in self._held:
            call, held = self._held.pop(self.next)
            self._weight -= held
            self.next += 1
            call()

    def clear(self) -> None:
        self._held.clear()
        self._weight = 0


def _cancel(call: Optional[IDelayedCall]) -> None:
    if call is not None and call.active():
        call.cancel()


class _BackChannel:
    """
    One back-channel response: streaming (``CI=0``) keeps it open across
    flushes up to :data:`STREAM_LIMIT`; otherwise (``CI=1``, long polling,
    and the first bind POST) it ends after the first flush.
    """

    def __init__(self, request: PrimusRequest, streaming: bool) -> None:
        self.request = request
        self.streaming = streaming
        self.sent = 0

    def write(self, text: str) -> None:
        body = chunk(text)
        self.sent += len(body)
        if not is_gone(self.request):
            self.request.write(body.encode("utf-8"))

    def end(self) -> None:
        request = self.request
        if not request.finished and not is_gone(request):
            request.finish()


# A session's life: opening (no array sent yet), open, stopping (the stop
# array is queued; the session ends once it is written), closed.
_INIT, _OPEN, _STOPPING, _CLOSED = range(4)


@implementer(IConnection)
class Session:
    """
    One BrowserChannel session, and the spark's connection.

    Outgoing arrays keep their ids until the client acknowledges them
    (``AID``), because a back channel that breaks may have lost them: the
    next back channel resends everything unacknowledged.  So the session's
    buffered amount, which drives the spark's flow control, is what is not
    yet acknowledged.
    """

    def __init__(
        self, server: _Service, session_id: str, request: PrimusRequest, rid: int, max_held: int
    ) -> None:
        self.server = server
        self.id = session_id
        self.state = _INIT
        self.spark: Optional[IConnectionHandler] = None
        self.back_channel: Optional[_BackChannel] = None
        # What waits for an earlier request or map is bounded by count and
        # by size (``max_held`` characters of messages each).
        self._rids = _Order(rid, replay=True, limit=MAX_RID_AHEAD, max_weight=max_held)
        self._maps = _Order(0, replay=False, limit=MAX_HELD_MAPS, max_weight=max_held)
        self._arrays: list[tuple[int, str]] = []
        self._last_id = -1
        self._last_sent = -1
        self._buffered = 0
        self._writing_paused = False
        self._reading_paused = False
        self._inbox: list[str] = []
        self._held_answers: list[Callable[[], None]] = []
        self._keep_alive: Optional[IDelayedCall] = None
        self._timeout: Optional[IDelayedCall] = None
        self._refresh_timeout()
        self._queue(["c", session_id, None, 8])

    @property
    def open(self) -> bool:
        """
        Whether the session still carries messages (not stopping or ended).
        """
        return self.state in (_INIT, _OPEN)

    @property
    def closed(self) -> bool:
        """
        Whether the session has ended and been forgotten.
        """
        return self.state == _CLOSED

    # -- outgoing arrays -----------------------------------------------------

    def _queue(self, data: Any) -> None:
        self._last_id += 1
        payload = array_json(data)
        self._arrays.append((self._last_id, payload))
        self._buffered += len(payload)

    def acknowledge(self, aid: int) -> None:
        """
        The client has every array up to ``aid``.
        """
        arrays = self._arrays
        dropped = 0
        while dropped < len(arrays) and arrays[dropped][0] <= aid:
            self._buffered -= len(arrays[dropped][1])
            dropped += 1
        if dropped:
            del arrays[:dropped]
            self._check_water()

    def status(self) -> list[int]:
        """
        What a forward-channel POST is answered with: whether a back
        channel is attached, the last array id sent, and how many
        characters of sent arrays are not yet acknowledged.
        """
        unsent = self._last_id - self._last_sent
        sent = self._arrays[: len(self._arrays) - unsent] if unsent else self._arrays
        # The length of the JSON list of their payloads, without building it.
        outstanding = 1 + sum(utf16_length(payload) + 1 for _, payload in sent) if sent else 0
        return [1 if self.back_channel is not None else 0, self._last_sent, outstanding]

    def flush(self) -> None:
        back = self.back_channel
        if back is None:
            return
        unsent = self._last_id - self._last_sent
        if unsent > 0:
            arrays = self._arrays[len(self._arrays) - unsent :]
            back.write(frame_arrays(arrays))
            self._last_sent = self._last_id
            if self.state == _INIT:
                self.state = _OPEN
            if not back.streaming or back.sent > STREAM_LIMIT:
                self.clear_back_channel()
        if self.state == _STOPPING and self._last_sent == self._last_id:
            self._end()

    # -- the back channel ------------------------------------------------------

    def set_back_channel(self, request: PrimusRequest, streaming: bool) -> None:
        """
        Attach a back channel (replacing, and ending, the one before) and
        send it everything not yet acknowledged.
        """
        self.clear_back_channel(refresh=False)
        back = _BackChannel(request, streaming)
        self.back_channel = back
        watch_gone(request, lambda _: self.clear_back_channel(back))
        self._cancel_timeout()
        self._refresh_keep_alive()
        if self._arrays:
            self._last_sent = self._arrays[0][0] - 1
        self.flush()

    def clear_back_channel(self, only: Optional[_BackChannel] = None, refresh: bool = True) -> None:
        back = self.back_channel
        if back is None or (only is not None and back is not only):
            return
        self.back_channel = None
        self._cancel_keep_alive()
        back.end()
        if refresh and self.state != _CLOSED:
            self._refresh_timeout()

    # -- timers ---------------------------------------------------------------------

    def _refresh_keep_alive(self) -> None:
        self._cancel_keep_alive()
        self._keep_alive = self.server.reactor.callLater(self.server.keep_alive, self._noop)

    def _cancel_keep_alive(self) -> None:
        _cancel(self._keep_alive)
        self._keep_alive = None

    def _noop(self) -> None:
        self._keep_alive = None
        if self.back_channel is not None and self.state in (_INIT, _OPEN):
            self._queue(["noop"])
            self.flush()
            if self.back_channel is not None:
                self._refresh_keep_alive()

    def _refresh_timeout(self) -> None:
        self._cancel_timeout()
        self._timeout = self.server.reactor.callLater(self.server.session_timeout, self._timed_out)

    def _cancel_timeout(self) -> None:
        _cancel(self._timeout)
        self._timeout = None

    def _timed_out(self) -> None:
        self._timeout = None
        self.end("Timed out")

    # -- incoming ----------------------------------------------------------------------

    def forward(self, rid: int, data: Optional[tuple[int, list[Optional[str]]]]) -> None:
        """
        A forward-channel POST with request id ``rid``; its maps are
        delivered in offset order once every earlier request id has been
        seen.

        :raises OutOfOrder: for a request id or offset too far ahead.
        """
        weight = sum(len(message) for message in data[1] if message) if data else 0
        self._rids.run(rid, lambda: self._maps_arrived(data), weight)

    def _maps_arrived(self, data: Optional[tuple[int, list[Optional[str]]]]) -> None:
        if data is None:
            return
        ofs, messages = data
        for index, message in enumerate(messages):
            self._maps.run(ofs + index, partial(self._arrived, message), len(message or ""))

    def _arrived(self, message: Optional[str]) -> None:
        if message is None or self.state in (_STOPPING, _CLOSED):
            return
        if self._reading_paused:
            self._inbox.append(message)
            return
        spark = self.spark
        if spark is not None:
            spark.messageReceived(message)

    def answer_when_reading(self, answer: Callable[[], None]) -> None:
        """
        Answer a forward-channel POST now, or once the spark reads again
        (so a client that is not read from slows down).
        """
        if self._reading_paused:
            self._held_answers.append(answer)
        else:
            answer()

    def terminate(self, rid: int) -> None:
        """
        The client said goodbye (``TYPE=terminate``) at request id ``rid``.
        """
        self._rids.run(rid, lambda: self.end("Disconnected"))

    # -- IConnection ---------------------------------------------------------------

    def send(self, message: str | bytes) -> None:
        if self.state not in (_INIT, _OPEN):
            return
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        self._queue(message)
        self.flush()
        self._check_water()

    def sendPrepared(self, prepared: Any) -> None:
        self.send(prepared)

    def close(self, reconnect: bool = False) -> None:
        """
        Stop the session: the ``stop`` array follows what is already
        queued, and the session ends once it is written (or times out
        waiting for a back channel).  The client does not reconnect by
        itself after a stop; Primus's client decides from what it read.
        """
        if self.state not in (_INIT, _OPEN):
            return
        self._queue(["stop"])
        self.state = _STOPPING
        self._forget_spark()
        self.flush()

    def pauseReading(self) -> None:
        self._reading_paused = True

    def resumeReading(self) -> None:
        self._reading_paused = False
        while self._inbox and not self._reading_paused:
            message = self._inbox.pop(0)
            spark = self.spark
            if spark is not None:
                spark.messageReceived(message)
        while self._held_answers and not self._reading_paused:
            self._held_answers.pop(0)()

    def bufferedAmount(self) -> int:
        return self._buffered

    def abort(self) -> None:
        """
        A slow client past the server's ``max_buffered``: forget every
        array it has not acknowledged, so the memory is freed now;
        ``close()`` follows, and its ``stop`` is all the client still gets.
        """
        self._arrays = []
        self._buffered = 0
        self._last_sent = self._last_id

    def _check_water(self) -> None:
        if self._writing_paused or self._buffered > HIGH_WATER:
            self._writing_paused = check_water(
                self._writing_paused, self._buffered, HIGH_WATER, LOW_WATER, self.spark
            )

    # -- ending ----------------------------------------------------------------------------

    def _forget_spark(self) -> None:
        spark, self.spark = self.spark, None
        if spark is not None:
            spark.connectionLost(None)

    def _end(self) -> None:
        self.state = _CLOSED
        self._cancel_timeout()
        self._cancel_keep_alive()
        self.server._forget(self)
        back, self.back_channel = self.back_channel, None
        if back is not None:
            back.end()
        self._rids.clear()
        self._maps.clear()
        self._arrays = []
        self._buffered = 0
        self._inbox = []
        answers, self._held_answers = self._held_answers, []
        for answer in answers:
            answer()

    def end(self, why: str = "closed") -> None:
        """
        The session is over (timed out, terminated by the client, replaced
        by a reconnection, or the server closing): forget it, release its
        requests and timers, and tell the spark.
        """
        if self.state == _CLOSED:
            return
        self.why = why
        self._end()
        self._forget_spark()
