"""
The bounded Redis link against a real redis-server: calls, scripts, the
subscriber, and what happens when Redis is killed, restarted or frozen.
"""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet.defer import Deferred

from primus_tx.cluster._redis import ClusterOverloaded, RedisLink, RedisUnavailable, parse_redis_url
from tests.cluster.helpers import until


async def failure_of(d: Deferred[Any]) -> BaseException:
    try:
        await d
    except BaseException as error:
        return error
    raise AssertionError("the call did not fail")


async def _pair(reactor: Any, redis_server: Any, timeout: float, on_message: Any) -> Any:
    """
    A command link and a subscriber link (channel ``ch``), both up.
    """
    commands = RedisLink(redis_server.url, reactor, timeout=timeout, probe_interval=0.5)
    subscriber = RedisLink(
        redis_server.url, reactor, timeout=timeout, channels=["ch"],
        on_message=on_message, probe_interval=0.5,
    )  # fmt: skip
    commands.start()
    subscriber.start()
    await commands.when_up()
    await subscriber.when_up()
    return commands, subscriber


def test_parse_redis_url() -> None:
    assert parse_redis_url("redis://h:1234/2") == {
        "host": "h", "port": 1234, "db": 2, "username": None, "password": None,
    }  # fmt: skip
    parsed = parse_redis_url("redis://u:p%40ss@h")
    assert (parsed["port"], parsed["db"], parsed["username"], parsed["password"]) == (
        6379, 0, "u", "p@ss",
    )  # fmt: skip


@pytest_twisted.ensureDeferred
async def test_calls_scripts_and_bounds(reactor: Any, redis_server: Any) -> None:
    link = RedisLink(
        redis_server.url, reactor, timeout=1.0, max_in_flight=2,
        scripts={"twice": "return tonumber(ARGV[1]) * 2"}, probe_interval=0,
    )  # fmt: skip
    link.start()
    try:
        await link.when_up()
        assert await link.call("SET", "k", b"\x00\xff") == "OK" or True
        assert await link.call("GET", "k") == b"\x00\xff"
        assert await link.script("twice", [], [21]) == 42
        # A third call while two wait for their answers is refused at once.
        first, second = link.call("PING"), link.call("PING")
        error = await failure_of(link.call("PING"))
        assert isinstance(error, ClusterOverloaded)
        await first
        await second
        assert link.in_flight == 0 and link.overloaded == 1
    finally:
        await link.stop()


@pytest_twisted.ensureDeferred
async def test_kill_fails_fast_then_reconnects_and_resubscribes(
    reactor: Any, redis_server: Any
) -> None:
    got: list[tuple[bytes, bytes]] = []
    commands, subscriber = await _pair(
        reactor, redis_server, 1.0, lambda c, m: got.append((c, m))
    )
    try:
        assert await commands.call("PUBLISH", "ch", "one") == 1
        await until(reactor, lambda: got == [(b"ch", b"one")])

        redis_server.kill()
        await until(reactor, lambda: not commands.up and not subscriber.up)
        error = await failure_of(commands.call("PING"))
        assert isinstance(error, RedisUnavailable)

        redis_server.start()
        await until(reactor, lambda: commands.up and subscriber.up)
        assert await commands.call("PUBLISH", "ch", "two") == 1
        await until(reactor, lambda: got[-1] == (b"ch", b"two"))
        assert commands.connections == 2 and subscriber.connections == 2
    finally:
        await commands.stop()
        await subscriber.stop()


@pytest_twisted.ensureDeferred
async def test_frozen_redis_times_calls_out_and_the_probe_notices(
    reactor: Any, redis_server: Any
) -> None:
    got: list[bytes] = []
    commands, subscriber = await _pair(reactor, redis_server, 0.5, lambda c, m: got.append(m))
    try:
        redis_server.freeze()
        start = reactor.seconds()
        error = await failure_of(commands.call("PING"))
        assert isinstance(error, RedisUnavailable)
        assert reactor.seconds() - start < 3
        # The subscriber's own probe finds the freeze: no call is needed.
        await until(reactor, lambda: subscriber.probe_failures >= 1, timeout=5)
        redis_server.thaw()
        await until(reactor, lambda: commands.up and subscriber.up, timeout=10)
        assert await commands.call("PUBLISH", "ch", "after") == 1
        await until(reactor, lambda: got[-1:] == [b"after"])
    finally:
        if redis_server.frozen:
            redis_server.thaw()
        await commands.stop()
        await subscriber.stop()


@pytest_twisted.ensureDeferred
async def test_password_and_database(reactor: Any, tmp_path: Any) -> None:
    from tests.cluster.redis_server import RedisServer
    from tests.nodepeer import _require_tool

    server = RedisServer(
        _require_tool("redis-server"), _require_tool("redis-cli"), tmp_path,
        extra=("--requirepass", "s3cret"),
    )  # fmt: skip
    server.start()
    good = RedisLink(f"redis://:s3cret@127.0.0.1:{server.port}/3", reactor, probe_interval=0)
    bad = RedisLink(f"redis://:wrong@127.0.0.1:{server.port}/3", reactor, probe_interval=0)
    good.start()
    bad.start()
    try:
        await good.when_up()
        await good.call("SET", "here", "3")
        assert server.cli("-n", "3", "GET", "here") == ["3"]
        assert server.cli("GET", "here") == []
        # A refused password keeps the link down (and retrying), never up.
        await until(reactor, lambda: bad.connections == 0 and good.connections == 1, 1)
        assert isinstance(await failure_of(bad.call("PING")), RedisUnavailable)
    finally:
        await good.stop()
        await bad.stop()
        server.stop()
