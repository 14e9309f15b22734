"""
EventEmitter and the series helpers every Primus object builds on.
"""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.trial.unittest import SynchronousTestCase

from primus_tx._events import EventEmitter, as_deferred, call_in_series, is_awaitable

_sync = SynchronousTestCase()


def test_on_emit_in_registration_order() -> None:
    emitter = EventEmitter()
    calls: list[Any] = []
    emitter.on("x", lambda *a: calls.append(("first", a)))
    emitter.on("x", lambda *a: calls.append(("second", a)))
    assert emitter.emit("x", 1, 2) is True
    assert calls == [("first", (1, 2)), ("second", (1, 2))]


def test_emit_without_listeners_is_false() -> None:
    emitter = EventEmitter()
    assert emitter.emit("nothing") is False
    emitter.on("other", lambda: None)
    assert emitter.emit("nothing") is False


def test_on_returns_the_emitter_for_chaining() -> None:
    emitter = EventEmitter()
    assert emitter.on("a", lambda: None) is emitter
    assert emitter.once("a", lambda: None) is emitter
    assert emitter.off("a") is emitter


def test_once_runs_once() -> None:
    emitter = EventEmitter()
    calls: list[int] = []
    emitter.once("x", calls.append)
    emitter.emit("x", 1)
    emitter.emit("x", 2)
    assert calls == [1]
    assert emitter.listener_count("x") == 0


def test_off_removes_one_listener() -> None:
    emitter = EventEmitter()
    calls: list[str] = []

    def a() -> None:
        calls.append("a")

    def b() -> None:
        calls.append("b")

    emitter.on("x", a).on("x", b)
    emitter.off("x", a)
    emitter.emit("x")
    assert calls == ["b"]
    assert emitter.listeners("x") == [b]


def test_off_removes_a_once_listener_by_its_function() -> None:
    emitter = EventEmitter()
    calls: list[int] = []
    record = calls.append  # one bound method object, so ``off`` can find it
    emitter.once("x", record)
    emitter.off("x", record)
    assert emitter.listener_count("x") == 0
    emitter.emit("x", 1)
    assert calls == []


def test_off_without_listener_removes_all_of_the_event() -> None:
    emitter = EventEmitter()
    emitter.on("x", lambda: None).on("x", lambda: None).on("y", lambda: None)
    emitter.off("x")
    assert emitter.listener_count("x") == 0
    assert emitter.listener_count("y") == 1


def test_off_unknown_is_harmless() -> None:
    emitter = EventEmitter()
    emitter.off("x", lambda: None)
    emitter.on("x", print)
    emitter.off("x", lambda: None)
    assert emitter.listeners("x") == [print]


def test_same_listener_twice_runs_twice_and_off_removes_one() -> None:
    emitter = EventEmitter()
    calls: list[int] = []
    record = calls.append
    emitter.on("x", record).on("x", record)
    emitter.emit("x", 1)
    emitter.off("x", record)
    emitter.emit("x", 2)
    assert calls == [1, 1, 2]


def test_remove_all_listeners() -> None:
    emitter = EventEmitter()
    emitter.on("x", print).on("y", print)
    emitter.remove_all_listeners("x")
    assert emitter.listener_count("x") == 0
    assert emitter.listener_count("y") == 1
    emitter.remove_all_listeners()
    assert emitter.listener_count("y") == 0
    assert emitter.emit("y") is False


def test_listener_removed_during_emit_still_runs_in_that_emit() -> None:
    emitter = EventEmitter()
    calls: list[str] = []

    def second() -> None:
        calls.append("second")

    def first() -> None:
        calls.append("first")
        emitter.off("x", second)

    emitter.on("x", first).on("x", second)
    emitter.emit("x")
    assert calls == ["first", "second"]
    emitter.emit("x")
    assert calls == ["first", "second", "first"]


def test_listener_added_during_emit_runs_next_time() -> None:
    emitter = EventEmitter()
    calls: list[str] = []

    def late() -> None:
        calls.append("late")

    def first() -> None:
        calls.append("first")
        emitter.on("x", late)

    emitter.once("x", first)
    emitter.emit("x")
    assert calls == ["first"]
    emitter.emit("x")
    assert calls == ["first", "late"]


def test_once_listener_that_reemits_is_not_called_again() -> None:
    emitter = EventEmitter()
    calls: list[int] = []

    def listener(n: int) -> None:
        calls.append(n)
        emitter.emit("x", n + 1)

    emitter.once("x", listener)
    emitter.emit("x", 0)
    assert calls == [0]


def test_listener_count_and_listeners_unwrap_once() -> None:
    emitter = EventEmitter()

    def a() -> None: ...

    def b() -> None: ...

    emitter.on("x", a).once("x", b)
    assert emitter.listener_count("x") == 2
    assert emitter.listeners("x") == [a, b]
    assert emitter.listeners("missing") == []
    assert EventEmitter().listener_count("x") == 0


def test_exception_in_listener_propagates_from_emit() -> None:
    emitter = EventEmitter()
    emitter.on("x", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        emitter.emit("x")


# -- is_awaitable / as_deferred ----------------------------------------------


def test_is_awaitable() -> None:
    async def coro() -> int:
        return 1

    c = coro()
    assert is_awaitable(Deferred())
    assert is_awaitable(c)
    assert not is_awaitable(None)
    assert not is_awaitable(1)
    assert not is_awaitable(False)
    c.close()


def test_as_deferred_of_deferred_is_identity() -> None:
    d: Deferred[int] = Deferred()
    assert as_deferred(d) is d


def test_as_deferred_of_coroutine() -> None:
    async def coro() -> int:
        return await succeed(5)

    assert _sync.successResultOf(as_deferred(coro())) == 5


def test_as_deferred_of_other_awaitable() -> None:
    class Awaitable:
        def __await__(self) -> Any:
            return succeed(7).__await__()

    assert _sync.successResultOf(as_deferred(Awaitable())) == 7


# -- call_in_series ------------------------------------------------------------


def test_call_in_series_all_sync_returns_none() -> None:
    calls: list[Any] = []
    result = call_in_series([lambda x: calls.append(("a", x)), lambda x: calls.append(("b", x))], 1)
    assert result is None
    assert calls == [("a", 1), ("b", 1)]


def test_call_in_series_waits_for_a_deferred_before_the_next() -> None:
    calls: list[str] = []
    gate: Deferred[None] = Deferred()

    def slow(_: Any) -> Deferred[None]:
        calls.append("slow")
        return gate

    result = call_in_series([slow, lambda _: calls.append("after")], "arg")
    assert isinstance(result, Deferred)
    assert calls == ["slow"]
    _sync.assertNoResult(result)
    gate.callback(None)
    assert calls == ["slow", "after"]
    assert _sync.successResultOf(result) is None


def test_call_in_series_waits_for_a_coroutine() -> None:
    calls: list[str] = []
    gate: Deferred[None] = Deferred()

    async def slow(_: Any) -> None:
        calls.append("start")
        await gate
        calls.append("end")

    result = call_in_series([slow, lambda _: calls.append("next")], None)
    assert calls == ["start"]
    gate.callback(None)
    assert calls == ["start", "end", "next"]
    assert result is not None
    _sync.successResultOf(result)


def test_call_in_series_several_async_in_a_row() -> None:
    calls: list[int] = []
    gates: list[Deferred[Any]] = [Deferred(), Deferred()]

    def make(n: int) -> Any:
        def listener(_: Any) -> Any:
            calls.append(n)
            return gates[n]

        return listener

    result = call_in_series([make(0), make(1), lambda _: calls.append(2)], None)
    assert calls == [0]
    gates[0].callback(None)
    assert calls == [0, 1]
    gates[1].callback(None)
    assert calls == [0, 1, 2]
    assert result is not None
    _sync.successResultOf(result)


def test_call_in_series_sync_failure_raises_and_stops() -> None:
    calls: list[str] = []

    def boom(_: Any) -> None:
        raise ValueError("nope")

    with pytest.raises(ValueError):
        call_in_series([boom, lambda _: calls.append("never")], None)
    assert calls == []


def test_call_in_series_async_failure_fails_and_stops() -> None:
    calls: list[str] = []
    result = call_in_series([lambda _: fail(KeyError("k")), lambda _: calls.append("never")], None)
    assert result is not None
    _sync.failureResultOf(result, KeyError)
    assert calls == []


def test_call_in_series_coroutine_failure() -> None:
    async def boom(_: Any) -> None:
        raise RuntimeError("coro")

    result = call_in_series([boom], None)
    assert result is not None
    assert str(_sync.failureResultOf(result, RuntimeError).value) == "coro"


def test_call_in_series_with_no_listeners() -> None:
    assert call_in_series([], 1) is None
