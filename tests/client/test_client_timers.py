"""
Every timing rule of the client on a Clock: connect timeout, heartbeat,
strategies and the back-off of docs/protocol/primus.rst, "Reconnect back-off" — and no timer left
behind after end() or destroy().
"""

from __future__ import annotations

from typing import Any

from client_fakes import FakeTransformer, Harness
from twisted.internet.defer import ensureDeferred
from twisted.trial.unittest import SynchronousTestCase

from primus_tx import Primus
from primus_tx.client import (
    CLOSED,
    OPEN,
    OPENING,
    ConnectionFailed,
    ReconnectFailed,
    ReconnectTimeout,
    Socket,
    create_socket,
)

sync = SynchronousTestCase()


def record_attempts(h: Harness) -> list[tuple[int, float]]:
    """
    (attempt, scheduled) of every ``reconnect scheduled``, captured when
    emitted (the attempt object is updated in place, as Primus's is).
    """
    seen: list[tuple[int, float]] = []
    h.socket.on("reconnect scheduled", lambda opts: seen.append((opts.attempt, opts.scheduled)))
    return seen


# -- connect timeout -------------------------------------------------------------


def test_connect_timeout_without_timeout_strategy_ends() -> None:
    h = Harness(timeout=1.0, strategy="disconnect")
    h.clock.advance(0)
    h.names()
    h.clock.advance(0.999)
    assert h.names() == []
    h.clock.advance(0.001)
    assert h.names() == ["timeout", "readyStateChange:end", "close", "end"]
    assert h.transport.closed
    assert h.idle()


def test_connect_timeout_then_reconnect() -> None:
    h = Harness(timeout=1.0, reconnect={"min": 0.25})
    h.clock.advance(0)
    first = h.transport
    h.names()
    h.clock.advance(1.0)
    assert h.names() == ["timeout", "reconnect scheduled"]
    assert first.closed
    h.clock.advance(0.25)
    assert h.names() == ["reconnect"]
    assert len(h.transports) == 2
    h.transport.accept()
    assert h.names() == ["reconnected", "readyStateChange:open", "open"]
    h.socket.end()
    assert h.idle()


def test_connect_timeout_only_for_the_first_open() -> None:
    h = Harness(timeout=1.0, reconnect={"min": 0.5, "timeout": 100})
    t = h.open()
    t.drop()
    h.clock.advance(0.5)  # the reconnect attempt starts and hangs
    h.names()
    h.clock.advance(50)
    assert "timeout" not in h.names()
    h.socket.end()
    assert h.idle()


def test_timeout_false_disables_it() -> None:
    h = Harness(timeout=False)
    h.clock.advance(0)
    assert h.clock.getDelayedCalls() == []
    h.socket.end()


# -- reconnecting ----------------------------------------------------------------


def test_server_disconnect_reconnects_with_primus_order() -> None:
    h = Harness(reconnect={"min": 0.5})
    scheduled = record_attempts(h)
    t = h.open()
    h.names()
    t.drop()
    assert h.names() == ["readyStateChange:end", "close", "reconnect scheduled"]
    assert h.socket.ready_state == CLOSED
    h.socket.write("queued")  # buffered while reconnecting
    h.clock.advance(0.5)
    assert h.names() == ["readyStateChange:opening", "reconnect"]
    h.transport.accept()
    assert h.names() == ["reconnected", "readyStateChange:open", "open"]
    assert h.transport.sent == ['"queued"']
    assert h.socket.recovery.attempt is None
    # A second outage starts from attempt 1 again.
    h.transport.drop()
    assert scheduled == [(1, 0.5), (1, 0.5)]
    h.socket.end()
    assert h.idle()


def test_backoff_schedule_is_exact() -> None:
    h = Harness(reconnect={"min": 0.5, "factor": 2, "retries": 4, "max": 3.5}, random=lambda: 0.25)
    scheduled = record_attempts(h)
    h.open().drop()
    errors: list[Any] = []
    h.socket.on("error", errors.append)
    for _ in range(4):
        h.clock.advance(h.socket.recovery.attempt.scheduled)
        h.transport.fail(ConnectionRefusedError("refused"))
    # attempt 1 = min; n >= 2: min((random + 1) * min * factor**(n-1), max)
    assert scheduled == [(1, 0.5), (2, 1.25), (3, 2.5), (4, 3.5)]
    assert errors == []  # no error events while reconnecting
    assert h.names()[-2:] == ["end", "reconnect failed"]
    assert h.socket.ready_state == CLOSED
    assert h.idle()


def test_reconnect_failed_arguments_and_failed_connect() -> None:
    h = Harness(reconnect={"min": 0.1, "retries": 1})
    failures: list[Any] = []
    h.socket.on("reconnect failed", lambda err, opts: failures.append((err, opts.attempt)))
    h.clock.advance(0)
    h.transport.fail(ConnectionRefusedError("refused"))  # first connect fails: strategy timeout
    h.clock.advance(0.1)
    h.transport.fail(ConnectionRefusedError("refused again"))
    assert len(failures) == 1
    assert isinstance(failures[0][0], ReconnectFailed)
    assert str(failures[0][0]) == "Unable to recover"
    assert failures[0][1] == 1
    assert h.idle()


def test_reconnect_timeout_schedules_the_next_attempt() -> None:
    h = Harness(reconnect={"min": 0.5, "timeout": 2.0, "retries": 2})
    h.open().drop()
    h.clock.advance(0.5)
    hung = h.transport
    h.names()
    h.clock.advance(2.0)
    assert h.names() == ["reconnect timeout", "reconnect scheduled"]
    assert hung.closed
    h.clock.advance(h.socket.recovery.attempt.scheduled)
    h.clock.advance(2.0)
    assert h.names()[-2:] == ["end", "reconnect failed"]
    assert h.idle()


def test_reconnect_timeout_error_type() -> None:
    h = Harness(reconnect={"min": 0.5, "timeout": 1.0})
    errors: list[Any] = []
    h.socket.on("reconnect timeout", lambda err, opts: errors.append(err))
    h.open().drop()
    h.clock.advance(0.5)
    h.clock.advance(1.0)
    assert isinstance(errors[0], ReconnectTimeout)
    h.socket.end()
    assert h.idle()


def test_end_in_reconnect_scheduled_stops_reconnecting() -> None:
    h = Harness()
    h.socket.on("reconnect scheduled", lambda opts: h.socket.end())
    t = h.open()
    h.names()
    t.drop()
    assert h.names() == ["readyStateChange:end", "close", "reconnect scheduled", "end"]
    assert h.idle()
    h.clock.advance(100)
    assert len(h.transports) == 1


def test_end_during_a_reconnect_attempt_cancels_everything() -> None:
    h = Harness(reconnect={"min": 0.5})
    h.open().drop()
    h.clock.advance(0.5)
    attempt = h.transport
    h.names()
    h.socket.end()
    assert h.names() == ["readyStateChange:end", "close", "end"]
    assert attempt.closed
    assert h.idle()


def test_strategy_false_never_reconnects() -> None:
    h = Harness(strategy=False)
    t = h.open()
    h.names()
    t.drop()
    assert h.names() == ["readyStateChange:end", "close", "end"]
    assert h.idle()


def test_first_connect_error_without_timeout_strategy_ends() -> None:
    h = Harness(strategy="disconnect")
    errors: list[Any] = []
    h.socket.on("error", errors.append)
    h.clock.advance(0)
    h.names()
    h.transport.fail(ConnectionRefusedError("nope"))
    assert isinstance(errors[0], ConnectionRefusedError)
    assert h.names() == ["error", "readyStateChange:end", "close", "end"]
    assert h.idle()


# -- heartbeat ------------------------------------------------------------------------------


def test_pings_are_answered_and_keep_the_connection() -> None:
    h = Harness(ping_timeout=45.0)
    t = h.open()
    for _ in range(3):
        h.clock.advance(30)
        t.receive("primus::ping::1700000000000")
    assert t.sent == ['"primus::pong::1700000000000"'] * 3
    assert h.socket.ready_state == OPEN
    h.socket.end()
    assert h.idle()


def test_data_does_not_count_as_a_heartbeat() -> None:
    h = Harness(ping_timeout=10.0, reconnect={"min": 1.0})
    t = h.open()
    h.names()
    h.clock.advance(9)
    t.receive("data")
    h.clock.advance(1)
    assert h.names() == [
        "data",
        "offline",
        "readyStateChange:end",
        "close",
        "reconnect scheduled",
    ]
    assert t.closed
    h.clock.advance(1)
    h.transport.accept()
    assert h.names() == [
        "readyStateChange:opening",
        "reconnect",
        "reconnected",
        "online",
        "readyStateChange:open",
        "open",
    ]
    h.socket.end()
    assert h.idle()


def test_ping_timeout_with_strategy_without_disconnect_ends() -> None:
    h = Harness(ping_timeout=5.0, strategy="online")
    h.open()
    h.names()
    h.clock.advance(5)
    assert h.names() == ["offline", "readyStateChange:end", "close", "end"]
    assert h.idle()


# -- connect() and async iteration ----------------------------------------------------------


def test_connect_fires_with_the_open_socket() -> None:
    h = Harness(manual=True)
    clock = h.clock
    transformer = FakeTransformer()

    d = Socket.connect(
        "http://example.com",
        transformer=transformer,
        reactor=clock,
    )
    sync.assertNoResult(d)
    clock.advance(0)
    transformer.transport.accept()
    socket = sync.successResultOf(d)
    assert socket.ready_state == OPEN
    socket.end()
    assert not clock.getDelayedCalls()


def test_connect_fails_clearly_when_no_strategy_applies() -> None:
    from twisted.internet.task import Clock

    clock = Clock()
    transformer = FakeTransformer()
    d = Socket.connect(
        "http://example.com",
        transformer=transformer,
        reactor=clock,
        strategy=False,
    )
    clock.advance(0)
    transformer.transport.fail(ConnectionRefusedError("refused"))
    failure = sync.failureResultOf(d, ConnectionFailed)
    assert "refused" in str(failure.value)
    assert isinstance(failure.value.reason, ConnectionRefusedError)
    assert not clock.getDelayedCalls()


def test_connect_fails_after_the_retries() -> None:
    from twisted.internet.task import Clock

    clock = Clock()
    transformer = FakeTransformer()
    d = Socket.connect(
        "http://example.com",
        transformer=transformer,
        reactor=clock,
        reconnect={"retries": 2, "min": 0.1},
        random=lambda: 0.0,
    )
    clock.advance(0)
    for _ in range(3):
        transformer.transport.fail(ConnectionRefusedError("refused"))
        clock.advance(1)
    sync.failureResultOf(d, ConnectionFailed)
    assert len(transformer.transports) == 3
    assert not clock.getDelayedCalls()


def test_cancelling_connect_destroys_the_socket() -> None:
    from twisted.internet.task import Clock

    clock = Clock()
    transformer = FakeTransformer()
    d = Socket.connect(
        "http://example.com",
        transformer=transformer,
        reactor=clock,
    )
    clock.advance(0)
    d.cancel()
    sync.failureResultOf(d)
    assert transformer.transport.closed
    assert not clock.getDelayedCalls()


def test_async_iteration_loses_nothing_and_stops_at_end() -> None:
    h = Harness()
    t = h.open()
    received: list[Any] = []

    async def consume() -> None:
        async for data in h.socket:
            received.append(data)
            if data == 1:
                # Two messages arrive while the consumer is between iterations.
                t.receive(2)
                t.receive(3)

    done = ensureDeferred(consume())
    t.receive(1)
    t.receive(4)
    sync.assertNoResult(done)
    h.socket.end()
    sync.successResultOf(done)
    assert received == [1, 2, 3, 4]


def test_async_iteration_over_an_ended_socket_stops_at_once() -> None:
    h = Harness()
    h.open()
    h.socket.end()

    async def consume() -> list[Any]:
        return [data async for data in h.socket]

    assert sync.successResultOf(ensureDeferred(consume())) == []


# -- classes configured like a server ------------------------------------------------------


def test_create_socket_defaults() -> None:

    cls = create_socket(transformer=FakeTransformer(), pathname="/rt", parser="json")
    assert issubclass(cls, Socket)
    h = Harness(transformer=cls._defaults["transformer"], manual=True)
    assert h.socket.ping_timeout == 45.0  # the plain Socket's default
    from twisted.internet.task import Clock

    s = cls("http://example.com", reactor=Clock(), manual=True)
    assert s.pathname == "/rt"
    assert s.ping_timeout is False  # createSocket builds without a heartbeat
    assert s.parser.name == "json"


def test_primus_socket_is_configured_like_the_server() -> None:
    from twisted.internet.task import Clock

    clock = Clock()
    primus = Primus(None, pathname="/live", ping_interval=10, reactor=clock)
    try:
        cls = primus.Socket
        s = cls("http://example.com", reactor=clock, manual=True)
        assert s.pathname == "/live"
        assert s.ping_timeout == 15.0
        assert s.transformer is primus.transformer
        assert Primus.create_socket(pathname="/x")("http://h", reactor=clock, manual=True).pathname == "/x"
    finally:
        sync.successResultOf(primus.destroy())
    assert OPENING == 1
