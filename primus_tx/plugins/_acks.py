"""
Waiting for answers: the bounded, timed table of outstanding requests that
the emitter (acks) and the responder (responses) keep per connection.

Every entry has a Deferred and an ``IDelayedCall`` on the connection's
reactor; whichever of the answer, the timeout or the end of the connection
comes first settles the entry and cancels the other, so nothing is left
behind when a connection ends.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from primus_tx._errors import PrimusError
from primus_tx._events import EventEmitter, as_deferred, is_awaitable

__all__ = [
    "AckError",
    "AckLimitError",
    "AckTimeout",
    "ConnectionEnded",
    "PendingTable",
    "answer",
    "emit_locally",
]

log = Logger(namespace="primus_tx.plugins")


class AckError(PrimusError):
    """
    The peer's answer (an ack or a response) will never come.
    """


class AckTimeout(AckError):
    """
    The peer did not answer within the timeout.
    """


class AckLimitError(AckError):
    """
    Too many answers are already awaited on this connection (see the
    plugin's ``max_pending`` option); the message was not sent.
    """


class ConnectionEnded(AckError):
    """
    The connection ended before the peer answered.
    """


class PendingTable:
    """
    The answers one connection awaits, by id.

    :param reactor: the clock for timeouts.
    :param timeout: default seconds to wait (``None`` or 0: forever).
    :param limit: how many answers may be awaited at once.
    :param what: what is awaited, for error messages (``"ack"``).
    """

    __slots__ = ("_closed", "_entries", "_limit", "_reactor", "_timeout", "_what")

    def __init__(self, reactor: Any, timeout: Optional[float], limit: int, what: str) -> None:
        self._reactor = reactor
        self._timeout = timeout
        self._limit = limit
        self._what = what
        self._entries: dict[Any, tuple[Deferred[Any], Optional[IDelayedCall]]] = {}
        self._closed: Optional[str] = None

    def __len__(self) -> int:
        return len(self._entries)

    def check(self) -> Optional[Deferred[Any]]:
        """
        ``None`` when one more answer may be awaited, else a failed Deferred
        saying why not (the connection ended, or the limit is reached).
        """
        if self._closed is not None:
            return fail(ConnectionEnded(self._closed))
        if len(self._entries) >= self._limit:
            return fail(
                AckLimitError(
                    f"{len(self._entries)} {self._what}s are already awaited on this "
                    f"connection (the limit is {self._limit})"
                )
            )
        return None

    def add(self, key: Any, timeout: Optional[float] = None) -> Deferred[Any]:
        """
        Await the answer ``key``; call :meth:`check` first.

        :param timeout: seconds, overriding the table's default.
        """
        seconds = self._timeout if timeout is None else timeout
        d: Deferred[Any] = Deferred(lambda _: self._forget(key))
        call = self._reactor.callLater(seconds, self._expire, key, seconds) if seconds else None
        self._entries[key] = (d, call)
        return d

    def resolve(self, key: Any, value: Any) -> bool:
        """
        The answer ``key`` arrived: fire its Deferred with ``value``.

        :return: ``False`` for an id nobody awaits (unknown, answered
            already, timed out or spoofed).
        """
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        d, call = entry
        if call is not None and call.active():
            call.cancel()
        d.callback(value)
        return True

    def close(self, reason: str) -> None:
        """
        The connection ended: fail every awaited answer with
        :class:`ConnectionEnded`, and refuse new ones until :meth:`reopen`.
        """
        self._closed = reason
        entries, self._entries = self._entries, {}
        for d, call in entries.values():
            if call is not None and call.active():
                call.cancel()
            d.errback(ConnectionEnded(reason))

    def reopen(self) -> None:
        """
        Accept new entries again (a client socket that was opened again).
        """
        self._closed = None

    def _expire(self, key: Any, seconds: float) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            entry[0].errback(AckTimeout(f"No {self._what} for {key!r} within {seconds:g} s"))

    def _forget(self, key: Any) -> None:
        """
        The caller cancelled its Deferred: stop waiting.
        """
        entry = self._entries.pop(key, None)
        if entry is not None and entry[1] is not None and entry[1].active():
            entry[1].cancel()


def emit_locally(conn: Any, event: str, args: Sequence[Any]) -> None:
    """
    Emit an event that came from the peer on ``conn`` itself, bypassing a
    plugin's ``emit`` override (the ``emit`` plugin sends custom events to
    the peer), and without letting a listener's exception unwind into the
    transport.
    """
    try:
        EventEmitter.emit(conn, event, *args)
    except Exception:
        log.failure("{event!r} listener of {conn!r} raised", event=event, conn=conn)


def answer(
    conn: Any, event: str, args: Sequence[Any], reply: Callable[[Any, Any], None], key: Any
) -> None:
    """
    Call the listeners of ``event`` on ``conn`` for a peer that waits for an
    answer: the first listener that returns something other than ``None``
    gives it (waited for when it is a Deferred or a coroutine), and
    ``reply(answer, key)`` sends it; ``None`` when no listener returned
    anything.  A listener that raises is logged and the next one is asked;
    an answer that fails is logged and nothing is sent (the peer's own
    timeout, if it has one, tells it).
    """
    events = conn._events
    listeners = events.get(event, ()) if events else ()
    result: Any = None
    for listener in listeners:
        try:
            value = listener(*args)
        except Exception:
            log.failure("{event!r} listener of {conn!r} raised", event=event, conn=conn)
            continue
        if result is None and value is not None:
            result = value
        elif value is not None and is_awaitable(value):
            as_deferred(value).addErrback(_failed, conn, event)
    if result is not None and is_awaitable(result):
        as_deferred(result).addCallbacks(
            reply, _failed, callbackArgs=(key,), errbackArgs=(conn, event)
        )
    else:
        reply(result, key)


def _failed(failure: Failure, conn: Any, event: str) -> None:
    log.failure(
        "{event!r} listener of {conn!r} failed; no answer is sent", failure, event=event, conn=conn
    )
