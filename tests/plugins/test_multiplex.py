"""
The multiplex plugin on fakes: primus-multiplex 3.2.1's wire (as captured
on Node), the hardening (declared channels only, a cap per connection, ids
scoped per connection, hostile arrays), and the Python client half.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from client_fakes import Harness
from fakes import connect, make_primus

from primus_tx import Primus, PrimusError
from primus_tx.plugins.multiplex import ChannelSpark, MultiplexPlugin


def server(**plugin: Any) -> Primus:
    primus, clock = make_primus(
        ping_interval=0, plugin={"multiplex": MultiplexPlugin(**plugin)} if plugin else "multiplex"
    )
    clock.advance(0)
    return primus


def receive(spark: Any, value: Any) -> None:
    spark.messageReceived(json.dumps(value))


def test_the_captured_session() -> None:
    primus = server()
    news: Any = primus.channel("news")  # type: ignore[attr-defined]
    got: list[Any] = []

    def connection(spark: ChannelSpark) -> None:
        got.append(("connection", spark.id))
        spark.write({"welcome": "news"})
        spark.on("data", lambda data: got.append(("data", data)))
        spark.on("end", lambda: got.append(("end", spark.id)))

    news.on("connection", connection)
    spark, conn = connect(primus)
    receive(spark, [1, "n0rckhj1rac", "news"])
    receive(spark, [0, "n0rckhj1rac", "news", "hello news"])
    receive(spark, [2, "n0rckhj1rac", "news"])
    assert got == [
        ("connection", "n0rckhj1rac"),
        ("data", "hello news"),
        ("end", "n0rckhj1rac"),
    ]
    assert conn.sent == [
        '[0,"n0rckhj1rac","news",{"welcome":"news"}]',
        '[2,"n0rckhj1rac","news"]',  # the unsubscribe echoed, once
    ]
    assert news.connected == 0


def test_subscribe_and_unsubscribe_events_on_the_connection() -> None:
    primus = server()
    news: Any = primus.channel("news")  # type: ignore[attr-defined]
    spark, _ = connect(primus)
    events: list[Any] = []
    spark.on("subscribe", lambda channel, cs: events.append(("subscribe", channel.name, cs.id)))
    spark.on("unsubscribe", lambda channel, cs: events.append(("unsubscribe", channel.name, cs.id)))
    receive(spark, [1, "a", "news"])
    receive(spark, [1, "a", "news"])  # twice: one channel spark
    assert news.connected == 1
    receive(spark, [2, "a", "news"])
    assert events == [("subscribe", "news", "a"), ("unsubscribe", "news", "a")]


def test_falsy_payloads() -> None:
    primus = server()
    news: Any = primus.channel("news")  # type: ignore[attr-defined]
    got: list[Any] = []
    sparks: list[Any] = []
    news.on("connection", lambda cs: (sparks.append(cs), cs.on("data", got.append)))
    spark, conn = connect(primus)
    receive(spark, [1, "a", "news"])
    receive(spark, [0, "a", "news"])  # Node's writing of 0: no payload at all
    receive(spark, [0, "a", "news", 0])
    receive(spark, [0, "a", "news", None])
    assert got == [None, 0, None]
    sparks[0].write(0)
    sparks[0].write("")
    assert conn.decoded == [[0, "a", "news", 0], [0, "a", "news", ""]]


def test_channels_are_declared_on_the_server_only() -> None:
    primus = server()
    spark, conn = connect(primus)
    data: list[Any] = []
    spark.on("data", data.append)
    receive(spark, [1, "a", "undeclared"])
    receive(spark, [0, "a", "undeclared", "x"])
    assert primus._channels == {}  # type: ignore[attr-defined]
    assert data == [[1, "a", "undeclared"], [0, "a", "undeclared", "x"]]
    assert conn.sent == []


def test_a_cap_on_channels_per_connection() -> None:
    primus = server(max_channels=2)
    news: Any = primus.channel("news")  # type: ignore[attr-defined]
    spark, conn = connect(primus)
    for id in ("a", "b", "c"):
        receive(spark, [1, id, "news"])
    assert news.connected == 2
    assert conn.decoded == [[2, "c", "news"]]  # refused: the client's channel ends
    receive(spark, [2, "a", "news"])
    receive(spark, [1, "c", "news"])
    assert news.connected == 2


def test_ids_are_scoped_per_connection() -> None:
    primus = server()
    news: Any = primus.channel("news")  # type: ignore[attr-defined]
    got: list[Any] = []
    news.on("connection", lambda cs: cs.on("data", lambda d: got.append((cs.conn, d))))
    victim, victim_conn = connect(primus)
    attacker, _ = connect(primus)
    receive(victim, [1, "victim-id", "news"])
    attacker_data: list[Any] = []
    attacker.on("data", attacker_data.append)
    receive(attacker, [0, "victim-id", "news", "injected"])
    receive(attacker, [2, "victim-id", "news"])
    assert got == []
    assert attacker_data == []  # dropped: packets of a declared channel
    assert news.connected == 1
    assert victim_conn.sent == []
    # The attacker may use the same id for a channel spark of its own.
    receive(attacker, [1, "victim-id", "news"])
    assert news.connected == 2
    assert news.spark("victim-id", victim).conn is victim


@pytest.mark.parametrize(
    "hostile",
    [
        [],
        [1],
        [1, 2, 3],
        [9, "a", "news"],
        [0, "a", "news", 1, 2],
        [1, None, "news"],
        [1, "", "news"],
        [1, "x" * 65, "news"],
        [1, "a", None],
        [1, "a", ["news"]],
        [True, "a", "news"],
        [1.0, "a", "news"],
        [1, "a", "__proto__"],
        [1, "a", "constructor"],
        None,
        0,
        {"0": 1},
    ],
)
def test_hostile_arrays_are_plain_data(hostile: Any) -> None:
    primus = server()
    primus.channel("news")  # type: ignore[attr-defined]
    spark, conn = connect(primus)
    data: list[Any] = []
    spark.on("data", data.append)
    errors: list[Any] = []
    primus.on("log", lambda *args: errors.append(args))
    receive(spark, hostile)
    assert data == [hostile]
    assert errors == [] and not conn.closed


def test_the_connection_ending_ends_its_channel_sparks() -> None:
    primus = server()
    news: Any = primus.channel("news")  # type: ignore[attr-defined]
    events: list[str] = []
    news.on("disconnection", lambda cs: events.append(f"disconnection {cs.id}"))
    spark, _conn = connect(primus)
    receive(spark, [1, "a", "news"])
    receive(spark, [1, "b", "news"])
    spark.end()
    assert sorted(events) == ["disconnection a", "disconnection b"]
    assert news.connected == 0


def test_broadcast_and_destroy() -> None:
    primus = server()
    news: Any = primus.channel("news")  # type: ignore[attr-defined]
    one, conn1 = connect(primus)
    two, conn2 = connect(primus)
    receive(one, [1, "a", "news"])
    receive(two, [1, "b", "news"])
    news.write({"all": 1})
    closed: list[bool] = []
    news.on("close", lambda: closed.append(True))
    news.destroy()
    assert conn1.decoded == [[0, "a", "news", {"all": 1}], [2, "a", "news"]]
    assert conn2.decoded == [[0, "b", "news", {"all": 1}], [2, "b", "news"]]
    assert closed == [True]
    assert primus.channel("news") is not news  # type: ignore[attr-defined]


def test_bad_names_and_options() -> None:
    primus = server()
    with pytest.raises(PrimusError):
        primus.channel("")  # type: ignore[attr-defined]
    with pytest.raises(PrimusError):
        MultiplexPlugin(max_channels=0)


# -- the Python client half --------------------------------------------------------


def test_client_channels() -> None:
    harness = Harness(plugin="multiplex")
    socket: Any = harness.socket
    news = socket.channel("news")
    transport = harness.open()
    assert transport.decoded == [[1, news.id, "news"]]
    assert len(news.id) == 11
    got: list[Any] = []
    news.on("data", got.append)
    transport.receive([0, news.id, "news", {"welcome": "news"}])
    transport.receive([0, "other-id", "news", "not ours"])
    transport.receive([1, 2, 3])
    assert got == [{"welcome": "news"}]
    news.write(0)
    ended: list[str] = []
    news.on("end", lambda: ended.append("end"))
    transport.receive([2, news.id, "news"])
    assert ended == ["end"]
    assert news.write("late") is False
    assert transport.decoded[1:] == [[0, news.id, "news", 0]]


def test_client_resubscribes_after_a_reconnect() -> None:
    harness = Harness(plugin="multiplex", reconnect={"min": 0.1, "max": 0.1})
    socket: Any = harness.socket
    news = socket.channel("news")
    first = harness.open()
    assert first.decoded == [[1, news.id, "news"]]
    first.drop()
    harness.clock.advance(1)
    second = harness.transport
    assert second is not first
    second.accept()
    assert [1, news.id, "news"] in second.decoded
