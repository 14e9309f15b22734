"""
The load generator against the real primus-tx servers on 127.0.0.1, one
protocol per transformer: if it mis-frames, a benchmark row measures
errors, or nothing.
"""

from __future__ import annotations

import os

import pytest

from benchmarks._procs import LoadGen, Server, node_available


def _require_node() -> None:
    # tests/conftest.py's require_tool rule: skip on a dev machine, fail in CI.
    if not node_available():
        message = "node and tests/js/node_modules are needed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI must install them)")
        pytest.skip(message)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "name",
    ["primus-tx-eio", "primus-tx-sockjs", "primus-tx-sockjs-raw", "primus-tx-eio-polling", "primus-tx-bc"],
)
def test_echo_heartbeat_broadcast(name: str) -> None:
    """
    Every echo comes back whole, Primus's heartbeat (every 0.2 s) is
    answered so nobody is dropped, and a broadcast reaches everyone.
    """
    _require_node()
    with Server(name, ping=0.2) as server, LoadGen(server, lambda text: None) as gen:
        assert gen.call(cmd="connect", n=3, timeout=10)["open"] == 3
        echo = gen.call(cmd="echo", conns=3, size=200, warmup=0.05, duration=0.2, timeout=10)
        assert echo["messages"] > 0
        assert echo["bad"] == 0
        assert gen.call(cmd="idle", seconds=0.8, timeout=10)["open"] == 3
        sent = gen.call(cmd="broadcast", id=5, trigger=True, size=64, wait=5, timeout=10)
        assert sent["received"] == sent["expected"] == 3
        assert gen.call(cmd="close", timeout=10)["closed"] == 3


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", ["primus-tx-rooms", "node-primus-rooms"])
def test_rooms_join_and_room_broadcasts(name: str) -> None:
    """
    S6's protocol: joins are answered, a room broadcast reaches exactly
    that room's members, a broadcast to every room reaches everyone once.
    """
    _require_node()
    with Server(name, ping=0) as server, LoadGen(server, lambda text: None) as gen:
        assert gen.call(cmd="connect", n=6, timeout=10)["open"] == 6
        assert gen.call(cmd="join", rooms=3, timeout=10)["joined"] == 6
        one = gen.call(cmd="broadcast", id=8, trigger=True, size=64, wait=5, timeout=10, room="r1")
        assert one["received"] == one["expected"] == 2
        every = gen.call(
            cmd="broadcast", id=9, trigger=True, size=64, wait=5, timeout=10,
            rooms=["r0", "r1", "r2"],
        )
        assert every["received"] == every["expected"] == 6
        assert gen.call(cmd="close", timeout=10)["closed"] == 6


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", ["primus-tx-msgpack", "primus-tx-binary"])
def test_binary_parsers_echo_and_heartbeat(name: str) -> None:
    """
    The binary parsers' rows: every echo comes back whole as a binary frame
    of the requested size, and Primus's heartbeat (a string in the parser's
    encoding) is answered so nobody is dropped.
    """
    _require_node()
    with Server(name, ping=0.2) as server, LoadGen(server, lambda text: None) as gen:
        assert gen.call(cmd="connect", n=3, timeout=10)["open"] == 3
        for size in (64, 1024):
            echo = gen.call(cmd="echo", conns=3, size=size, warmup=0.05, duration=0.2, timeout=10)
            assert echo["messages"] > 0
            assert echo["bad"] == 0
        assert gen.call(cmd="idle", seconds=0.8, timeout=10)["open"] == 3
        assert gen.call(cmd="close", timeout=10)["closed"] == 3
