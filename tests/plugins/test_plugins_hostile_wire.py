"""
Every plugin of this group loaded at once on a real server, attacked with
raw WebSocket frames a well-behaved client library would never send: the
connection survives each one, nothing reaches the log as a failure, a
well-behaved client is served throughout, and the metrics count what
happened.
"""

from __future__ import annotations

import json
from typing import Any

import pytest_twisted
from hostile_helpers import hostile_server, wait_until
from prometheus_client import CollectorRegistry

from primus_tx.plugins.metrics import MetricsPlugin
from primus_tx.plugins.multiplex import MultiplexPlugin

HOSTILE = [
    None,
    0,
    "",
    [],
    [1],
    [0, "a", "news"],
    [2, "a", "news"],
    [1, None, "news"],
    [1, "a", "__proto__"],
    [1, "x" * 10_000, "news"],
    {"substream": None},
    {"substream": "chat", "args": "substream::end"},
    {"substream": {"a": 1}, "args": 1},
    {"emit": []},
    {"emit": [None]},
    {"emit": ["end"]},
    {"emit": ["constructor", 1]},
    {"type": 0, "data": []},
    {"type": 0, "data": ["__proto__"], "id": "7"},
    {"type": True, "data": ["x"]},
    "primus::pong::abc",
    "primus::pong::-1",
    "primus::pong::" + "9" * 400,
    "substream::end",
]


def plugins(registry: CollectorRegistry) -> dict[str, Any]:
    return {
        "mirage": "primus_tx.plugins.mirage:plugin",
        "fortress-maximus": "primus_tx.plugins.fortress:plugin",
        "substream": "primus_tx.plugins.substream:plugin",
        "multiplex": MultiplexPlugin(max_channels=4),
        "sessions": "primus_tx.plugins.sessions:plugin",
        "metrics": MetricsPlugin(registry=registry),
    }


@pytest_twisted.ensureDeferred
async def test_hostile_frames_with_every_plugin(reactor: Any) -> None:
    registry = CollectorRegistry()
    async with hostile_server(reactor, plugin=plugins(registry), ping_interval=0) as h:
        h.primus.channel("news")  # type: ignore[attr-defined]
        good = await h.ws()
        bad = await h.ws()
        bad_spark = h.spark_of(-1)
        bad_spark.substream("chat")  # type: ignore[attr-defined]
        for value in HOSTILE:
            bad.send_text(json.dumps(value))
        for n in range(10):  # more subscriptions than the cap allows
            bad.send_text(json.dumps([1, f"id{n}", "news"]))
        await h.echo_round_trip(bad, "after the junk")
        await h.echo_round_trip(good, "unharmed")
        assert bad_spark.ready_state == bad_spark.OPEN
        assert not bad.close_received and not bad.lost
        assert h.errors_of(bad_spark) == []
        assert h.primus.channel("news").connected == 4  # type: ignore[attr-defined]
        counts: Any = h.primus.metrics  # type: ignore[attr-defined]
        await wait_until(reactor, lambda: counts.messages_in >= len(HOSTILE) + 12, 2.0, "counts")
        assert counts.decode_errors == 0 and counts.connections == 2
        good.close()
        bad.close()
        for session in list(h.site.sessions.values()):
            session.expire()
