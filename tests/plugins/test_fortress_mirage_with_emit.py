"""
fortress-maximus and mirage with the built-in emit and emitter plugins:
validated events reach the listeners those plugins call, refused ones never
do, whatever order the plugins were added in; mirage's event travels in the
wire of the emit plugin the server runs, and clients with that plugin hear
it as a ``mirage`` event.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from client_fakes import Harness
from fakes import connect, make_primus

from primus_tx import Primus


def server(plugins: str) -> tuple[Primus, list[Any]]:
    primus, clock = make_primus(ping_interval=0, plugin=plugins)
    clock.advance(0)
    refused: list[Any] = []
    primus.on("invalid", lambda error, args: refused.append(str(error)))
    return primus, refused


def receive(spark: Any, value: Any) -> None:
    spark.messageReceived(json.dumps(value))


@pytest.mark.parametrize("order", ["fortress-maximus, emit", "emit, fortress-maximus"])
def test_fortress_guards_the_emit_plugin_s_listeners(order: str) -> None:
    primus, refused = server(order)
    primus.validate("chat", lambda spark, text: isinstance(text, str))  # type: ignore[attr-defined]
    spark, _ = connect(primus)
    heard: list[Any] = []
    spark.on("chat", heard.append)
    data: list[Any] = []
    spark.on("data", data.append)
    receive(spark, {"emit": ["chat", "hello"]})
    receive(spark, {"emit": ["chat", 42]})
    receive(spark, {"emit": ["chat"]})
    receive(spark, "plain")
    assert heard == ["hello"]
    assert refused == ["chat did not validate", "Missing arguments for chat"]
    assert data == ["plain"]  # envelopes never reach data with the emit plugin


def test_fortress_guards_the_emitter_plugin_s_listeners_and_acks_pass() -> None:
    primus, refused = server("fortress-maximus, emitter")
    primus.validate("add", lambda spark, a, b: all(isinstance(n, int) for n in (a, b)))  # type: ignore[attr-defined]
    spark, conn = connect(primus)
    spark.on("add", lambda a, b: a + b)
    receive(spark, {"type": 0, "data": ["add", 19, 23], "id": 1})
    receive(spark, {"type": 0, "data": ["add", "19", 23], "id": 2})
    assert conn.decoded == [{"id": 1, "type": 1, "data": [42]}]
    assert refused == ["add did not validate"]
    # The server's own ack requests are answered by the client: type 1 passes.
    answer = spark.send("ask", ack=True)
    receive(spark, {"id": 1, "type": 1, "data": ["yes"]})
    assert answer.result == ["yes"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "plugins, sent",
    [
        ("mirage, emit", {"emit": ["mirage", "kept"]}),
        ("mirage, emitter", {"type": 0, "data": ["mirage", "kept"]}),
        ("mirage, emit, emitter", {"emit": ["mirage", "kept"]}),
    ],
)
def test_mirage_speaks_the_server_s_emit_plugin(plugins: str, sent: Any) -> None:
    primus, _ = server(plugins)
    spark, conn = connect(primus, query={"_mirage": "kept"})
    assert spark.id == "kept"
    assert conn.decoded == [sent]


@pytest.mark.parametrize("wire", ["emit", "emitter"])
def test_a_client_with_an_emit_plugin_hears_mirage_once(wire: str) -> None:
    harness = Harness(plugin=f"mirage, {wire}")
    socket: Any = harness.socket
    transport = harness.open()
    heard: list[str] = []
    socket.on("mirage", heard.append)
    envelope: Any = {"emit": ["mirage", "given"]} if wire == "emit" else {"type": 0, "data": ["mirage", "given"]}
    transport.receive(envelope)
    assert heard == ["given"]
    assert socket.mirage == "given"
    # Other events still reach the emit plugin's listeners.
    news: list[Any] = []
    socket.on("news", news.append)
    transport.receive({"emit": ["news", 1]} if wire == "emit" else {"type": 0, "data": ["news", 1]})
    assert news == [1]
