"""
The reconnect back-off, with the rules of Primus's ``recovery`` module.

The first attempt waits exactly ``min``; attempt ``n`` waits
``min((random() + 1) * min * factor ** (n - 1), max)``; after ``retries``
attempts the recovery fails.  Each attempt must succeed within
``timeout`` seconds.  ``random`` and the reactor are injected so the
schedule is reproducible in tests.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

from twisted.internet.interfaces import IDelayedCall

from primus_tx._errors import PrimusError
from primus_tx._events import EventEmitter

__all__ = ["Attempt", "Recovery", "ReconnectFailed", "ReconnectTimeout"]


class ReconnectTimeout(PrimusError):
    """
    A reconnect attempt did not open within the reconnect timeout.
    """


class ReconnectFailed(PrimusError):
    """
    Every reconnect attempt failed: the socket has ended.
    """


class Attempt:
    """
    The state of one recovery, handed to the ``reconnect *`` listeners
    (Primus's ``opts`` object; durations in seconds).

    :ivar attempt: the attempt number, from 1.
    :ivar scheduled: seconds this attempt waited before starting.
    :ivar duration: seconds since the recovery started.
    :ivar backoff: whether the attempt is waiting for its timer.
    """

    __slots__ = (
        "attempt",
        "backoff",
        "duration",
        "factor",
        "max",
        "min",
        "retries",
        "scheduled",
        "start",
        "timeout",
    )

    def __init__(
        self, min: float, max: float, retries: int, factor: float, timeout: float, start: float
    ) -> None:
        self.min = min
        self.max = max
        self.retries = retries
        self.factor = factor
        self.timeout = timeout
        self.start = start
        self.duration = 0.0
        self.attempt = 0
        self.backoff = False
        self.scheduled = 0.0

    def __repr__(self) -> str:
        return (
            f"<Attempt {self.attempt}/{self.retries} scheduled={self.scheduled}s "
            f"duration={self.duration:.3f}s>"
        )


def _number(name: str, value: Any, default: float, integer: bool = False) -> Any:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise PrimusError(f"reconnect[{name!r}] must be a non-negative number, not {value!r}")
    if integer and value != math.inf:
        return int(value)
    return value


class Recovery(EventEmitter):
    """
    Schedules reconnect attempts and reports them with the events
    ``reconnect scheduled(attempt)``, ``reconnect(attempt, done)``,
    ``reconnect timeout(error, attempt)``, ``reconnected(attempt)`` and
    ``reconnect failed(error, attempt)``.

    Whoever listens to ``reconnect`` starts a connection and calls
    :meth:`reconnected` (with an error when the attempt failed).
    """

    def __init__(
        self,
        reactor: Any,
        random: Callable[[], float],
        min: Optional[float] = None,
        max: Optional[float] = None,
        retries: Optional[int] = None,
        factor: Optional[float] = None,
        timeout: Optional[float] = None,
    ) -> None:
        self._reactor = reactor
        self._random = random
        self.min = _number("min", min, 0.5)
        self.max = _number("max", max, math.inf)
        self.retries = _number("retries", retries, 10, integer=True)
        self.factor = _number("factor", factor, 2)
        self.timeout = _number("timeout", timeout, 30.0)
        self.attempt: Optional[Attempt] = None
        self._fn: Optional[Callable[[Optional[Exception]], None]] = None
        self._timers: dict[str, IDelayedCall] = {}

    def reconnecting(self) -> bool:
        """
        Whether a recovery is under way.
        """
        return self.attempt is not None

    def reconnect(self) -> None:
        """
        Start (or continue) the recovery; ignored while an attempt waits for
        its timer.
        """
        self._backoff(self.attempt)

    def reconnected(self, error: Optional[Exception] = None) -> None:
        """
        The current attempt opened (``error`` is ``None``) or failed.
        """
        fn = self._fn
        if fn is not None:
            fn(error)

    def reset(self) -> None:
        """
        Forget the recovery and cancel its timers.
        """
        self._fn = None
        self.attempt = None
        self._clear()

    # -- internals ------------------------------------------------------------

    def _clear(self) -> None:
        timers, self._timers = self._timers, {}
        for call in timers.values():
            if call.active():
                call.cancel()

    def _backoff(self, opts: Optional[Attempt]) -> None:
        if opts is None:
            opts = Attempt(
                self.min, self.max, self.retries, self.factor, self.timeout, self._reactor.seconds()
            )
        if opts.backoff:
            return
        if opts.attempt >= opts.retries:
            self._finish(ReconnectFailed("Unable to recover"), opts)
            return
        opts.backoff = True
        opts.attempt += 1
        self.attempt = opts
        if opts.attempt == 1:
            opts.scheduled = opts.min
        else:
            delay = (self._random() + 1) * opts.min * opts.factor ** (opts.attempt - 1)
            opts.scheduled = min(round(delay * 1000) / 1000, opts.max)
        self._timers["reconnect"] = self._reactor.callLater(opts.scheduled, self._start, opts)
        self.emit("reconnect scheduled", opts)

    def _start(self, opts: Attempt) -> None:
        self._timers.pop("reconnect", None)
        opts.duration = self._reactor.seconds() - opts.start
        opts.backoff = False
        self._clear()
        done = False

        def connected(error: Optional[Exception] = None) -> None:
            nonlocal done
            if done:
                return
            done = True
            self.reset()
            if error is not None:
                self._backoff(opts)
            else:
                self._finish(None, opts)

        self._fn = connected
        # The timeout is armed before "reconnect" is emitted, so an attempt
        # that fails synchronously cancels it instead of leaving it behind.
        self._timers["timeout"] = self._reactor.callLater(opts.timeout, self._timed_out, opts, connected)
        self.emit("reconnect", opts, connected)

    def _timed_out(self, opts: Attempt, connected: Callable[[Optional[Exception]], None]) -> None:
        self._timers.pop("timeout", None)
        error = ReconnectTimeout("Failed to reconnect in a timely manner")
        opts.duration = self._reactor.seconds() - opts.start
        self.emit("reconnect timeout", error, opts)
        connected(error)

    def _finish(self, error: Optional[Exception], opts: Attempt) -> None:
        opts.duration = self._reactor.seconds() - opts.start
        if error is not None:
            self.emit("reconnect failed", error, opts)
        else:
            self.emit("reconnected", opts)
