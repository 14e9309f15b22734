"""
The official Primus 8 client (npm ``primus`` + ``ws``, in Node) against
primus-tx's server.
"""

from __future__ import annotations

from typing import Any

import pytest_twisted


def echo(spark: Any) -> None:
    spark.on("data", spark.write)


@pytest_twisted.ensureDeferred
async def test_open_and_echo(peers: Any, servers: Any) -> None:
    primus, url = servers.start(ping_interval=0)
    primus.on("connection", echo)
    client = await peers.client()
    client.connect(url)
    await client.wait_for("open")
    client.write({"a": [1, {"b": None}]})
    event = await client.wait_for("data")
    assert event["args"] == [{"a": [1, {"b": None}]}, '{"a":[1,{"b":null}]}']
