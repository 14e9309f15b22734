"""
A small, fast event emitter with Primus's semantics.

Primus objects (server, spark, client) are Node ``EventEmitter`` instances;
their event names are part of the protocol users code against, so we keep
them verbatim.  Listeners are stored as tuples that are rebuilt on
``on``/``off`` so that ``emit`` — on the hot path for every message — never
copies a list and never allocates.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Iterable, Optional

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure

__all__ = ["EventEmitter", "as_deferred", "call_in_series", "is_awaitable"]

Listener = Callable[..., Any]

_log = Logger()


class _Once:
    """
    Wraps a listener registered with ``once`` so ``off`` can find it.
    """

    __slots__ = ("emitter", "event", "listener")

    def __init__(self, emitter: EventEmitter, event: str, listener: Listener) -> None:
        self.emitter = emitter
        self.event = event
        self.listener = listener

    def __call__(self, *args: Any) -> Any:
        self.emitter.off(self.event, self)
        return self.listener(*args)


class EventEmitter:
    """
    ``on``/``once``/``off``/``emit`` with Node's ordering rules: listeners
    run in registration order, and a listener added or removed during an
    emit does not change the listeners that emit calls.

    A listener may be a coroutine function: ``emit`` starts it and does not
    wait for it (a failure is logged).  Events that wait for their
    listeners, such as the server's ``"connection"``, say so.
    """

    _events: Optional[dict[str, tuple[Listener, ...]]] = None

    def on(self, event: str, listener: Listener) -> EventEmitter:
        """
        Call ``listener`` every time ``event`` is emitted.
        """
        events = self._events
        if events is None:
            events = self._events = {}
        events[event] = events.get(event, ()) + (listener,)
        return self

    add_listener = on

    def once(self, event: str, listener: Listener) -> EventEmitter:
        """
        Call ``listener`` the next time ``event`` is emitted, and then forget it.
        """
        return self.on(event, _Once(self, event, listener))

    def off(self, event: str, listener: Optional[Listener] = None) -> EventEmitter:
        """
        Remove ``listener`` from ``event`` (all of the event's listeners when
        ``listener`` is omitted).
        """
        events = self._events
        if not events or event not in events:
            return self
        if listener is None:
            del events[event]
            return self
        current = events[event]
        for index, candidate in enumerate(current):
            if candidate is listener or (
                isinstance(candidate, _Once) and candidate.listener is listener
            ):
                remaining = current[:index] + current[index + 1 :]
                if remaining:
                    events[event] = remaining
                else:
                    del events[event]
                break
        return self

    remove_listener = off

    def remove_all_listeners(self, event: Optional[str] = None) -> EventEmitter:
        """
        Forget every listener of ``event``, or of every event.
        """
        if event is None:
            self._events = None
        elif self._events:
            self._events.pop(event, None)
        return self

    def listeners(self, event: str) -> list[Listener]:
        """
        The listeners of ``event``, in the order they run.
        """
        if not self._events:
            return []
        return [
            fn.listener if isinstance(fn, _Once) else fn for fn in self._events.get(event, ())
        ]

    def listener_count(self, event: str) -> int:
        """
        How many listeners ``event`` has.
        """
        if not self._events:
            return 0
        return len(self._events.get(event, ()))

    def emit(self, event: str, *args: Any) -> bool:
        """
        Call every listener of ``event`` with ``args``; ``True`` if there were any.
        """
        events = self._events
        if not events:
            return False
        listeners = events.get(event)
        if not listeners:
            return False
        for listener in listeners:
            result = listener(*args)
            # An ``async def`` listener: run it rather than drop the
            # coroutine unawaited.  (``bool`` is what ``spark.write``
            # returns; skip the check for it on the hot path.)
            if result is not None and result.__class__ is not bool and is_awaitable(result):
                as_deferred(result).addErrback(_listener_failed, self, event)
        return True


def _listener_failed(failure: Failure, emitter: EventEmitter, event: str) -> None:
    _log.failure("async {event!r} listener of {emitter!r} failed", failure, event=event, emitter=emitter)


def is_awaitable(value: Any) -> bool:
    """
    Whether a value returned by user code has to be waited for.
    """
    return isinstance(value, Deferred) or inspect.isawaitable(value)


async def _await(value: Any) -> Any:
    return await value


def as_deferred(value: Any) -> Deferred[Any]:
    """
    Turn a Deferred, a coroutine or any other awaitable into a Deferred.
    """
    if isinstance(value, Deferred):
        return value
    if inspect.iscoroutine(value):
        return ensureDeferred(value)
    return ensureDeferred(_await(value))


def call_in_series(listeners: Iterable[Listener], *args: Any) -> Optional[Deferred[None]]:
    """
    Call ``listeners`` one after the other, waiting for each one that returns
    an awaitable before calling the next.

    Returns ``None`` when every listener finished synchronously (the common
    case, which then costs no Deferred), else a Deferred that fires when the
    last one has finished, or fails with the first failure.
    """
    iterator = iter(listeners)
    for listener in iterator:
        result = listener(*args)
        if is_awaitable(result):
            return as_deferred(result).addCallback(_continue_series, iterator, args)
    return None


def _continue_series(_: Any, iterator: Any, args: tuple[Any, ...]) -> Any:
    return call_in_series(iterator, *args)
