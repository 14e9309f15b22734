"""
The hostile tests are only as good as the checks ``hostile_server`` makes
on the way out; these tests prove those checks fail when they should.
"""

from __future__ import annotations

import pytest
import pytest_twisted
from hostile_helpers import hostile_server, wait_until


@pytest_twisted.ensureDeferred
async def test_a_traceback_in_application_code_is_caught(reactor):
    """
    A ``"data"`` listener that raises is reported by Primus through
    twisted.logger with the failure; the harness must refuse that.
    """

    def boom(data):
        raise ZeroDivisionError("listener bug")

    with pytest.raises(AssertionError, match="unexpected errors reached the log"):
        async with hostile_server(reactor) as h:
            h.primus.on("connection", lambda spark: spark.on("data", boom))
            client = await h.ws()
            client.send_text('"trigger"')
            await wait_until(reactor, lambda: h.data, 2.0, "the message")
            await h.echo_round_trip(client)


@pytest_twisted.ensureDeferred
async def test_an_expected_failure_type_can_be_allowed(reactor):
    def boom(data):
        raise ZeroDivisionError("listener bug")

    async with hostile_server(reactor, allowed_failures=(ZeroDivisionError,)) as h:
        h.primus.on("connection", lambda spark: spark.on("data", boom))
        client = await h.ws()
        client.send_text('"trigger"')
        await wait_until(reactor, lambda: h.data, 2.0, "the message")
        # The listener's failure is also reported through the "log" event.
        await wait_until(
            reactor,
            lambda: any(isinstance(e, ZeroDivisionError) for e in h.logged_errors()),
            2.0,
            "the log event",
        )


@pytest_twisted.ensureDeferred
async def test_a_primus_timer_left_after_destroy_is_caught(reactor):
    with pytest.raises(AssertionError, match="Primus left DelayedCalls"):
        async with hostile_server(reactor) as h:
            h.primus.reactor.callLater(30, h.primus._sweep)


@pytest_twisted.ensureDeferred
async def test_a_spark_left_connected_is_caught(reactor):
    """
    A connection the harness does not know about (so cannot abort) keeps
    its spark: the exit check must notice.
    """
    from hostile_helpers import connect_ws

    stray = None
    try:
        with pytest.raises(AssertionError, match="every spark to end"):
            async with hostile_server(reactor) as h:
                stray = await connect_ws(reactor, h.port_number)
                await wait_until(reactor, lambda: h.primus.connected == 1, 2.0, "the spark")
    finally:
        if stray is not None:
            stray.abort()
            await stray.wait_lost(reactor)
