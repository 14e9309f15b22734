"""
Waiting in the plugin interop tests: for an event of a primus-tx emitter,
or for a condition, on the real reactor and with a timeout.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater


def next_event(reactor: Any, emitter: Any, event: str, timeout: float = 5) -> Deferred[Any]:
    """
    A Deferred firing with the arguments of ``emitter``'s next ``event``.
    """
    d: Deferred[Any] = Deferred()

    def fired(*args: Any) -> None:
        if not d.called:
            d.callback(args)

    emitter.once(event, fired)
    return d.addTimeout(timeout, reactor)


async def until(reactor: Any, check: Callable[[], Any], timeout: float = 5.0) -> None:
    """
    Wait until ``check()`` is true.
    """
    waited = 0.0
    while not check():
        if waited > timeout:
            raise AssertionError(f"timed out waiting for {check}")
        await deferLater(reactor, 0.02, lambda: None)
        waited += 0.02
