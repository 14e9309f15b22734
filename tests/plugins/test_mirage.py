"""
The mirage plugin on fakes: ids generated, validated, renewed, refused and
timed out (on a Clock), messages held until the id is settled, ids in use
never handed to another connection, and the Python client half.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from client_fakes import Harness
from fakes import connect, make_primus
from twisted.internet.defer import Deferred

from primus_tx import Primus, PrimusError
from primus_tx.plugins.mirage import MiragePlugin, envelope, mirage_of


def server(**plugin: Any) -> tuple[Primus, Any]:
    primus, clock = make_primus(
        ping_interval=0, plugin={"mirage": MiragePlugin(**plugin)} if plugin else "mirage"
    )
    clock.advance(0)
    return primus, clock


def test_a_new_id_is_generated_and_sent() -> None:
    primus, _ = server()
    seen: list[str] = []
    primus.on("connection", lambda spark: seen.append(spark.id))
    spark, conn = connect(primus)
    assert len(spark.id) == 16 and int(spark.id, 16) >= 0
    assert spark.mirage == spark.id == seen[0]
    assert primus.spark(spark.id) is spark
    assert conn.decoded == [{"emit": ["mirage", spark.id]}]


def test_a_known_id_is_kept() -> None:
    primus, _ = server()
    spark, conn = connect(primus, query={"_mirage": "294863a950bbd2ac"})
    assert spark.id == "294863a950bbd2ac"
    assert conn.decoded == [{"emit": ["mirage", "294863a950bbd2ac"]}]


def test_the_emitter_wire() -> None:
    primus, _ = server(wire="emitter")
    _spark, conn = connect(primus, query={"_mirage": "abc"})
    assert conn.decoded == [{"type": 0, "data": ["mirage", "abc"]}]
    assert mirage_of(conn.decoded[0]) == "abc"


def test_renewed_and_refused_by_a_validator() -> None:
    primus, _ = server()
    primus.id.validator(  # type: ignore[attr-defined]
        lambda spark, id: "renewed" if id == "old" else id != "bad"
    )
    spark, conn = connect(primus, query={"_mirage": "old"})
    assert spark.id == "renewed"
    assert conn.decoded == [{"emit": ["mirage", "renewed"]}]
    refused, conn2 = connect(primus, query={"_mirage": "bad"})
    assert conn2.closed and conn2.ended_by_server
    assert primus.spark(refused.id) is None


def test_messages_wait_for_the_id() -> None:
    primus, _ = server()
    pending: Deferred[Any] = Deferred()
    primus.id.validator(lambda spark, id: pending)  # type: ignore[attr-defined]
    got: list[Any] = []
    primus.on("connection", lambda spark: spark.on("data", lambda d: got.append((spark.id, d))))
    _spark, conn = connect(primus, query={"_mirage": "later"})
    conn.receive("first")
    conn.receive("second")
    assert got == []
    pending.callback(True)
    assert got == [("later", "first"), ("later", "second")]


def test_a_client_gone_before_its_id_is_settled_is_not_registered() -> None:
    primus, _ = server()
    pending: Deferred[Any] = Deferred()
    primus.id.validator(lambda spark, id: pending)  # type: ignore[attr-defined]
    _, conn = connect(primus, query={"_mirage": "gone"})
    conn.lose()
    pending.callback(True)
    assert primus.connections == {}


def test_a_slow_validator_times_out() -> None:
    primus, clock = server(timeout=2)
    primus.id.validator(lambda spark, id: Deferred())  # type: ignore[attr-defined]
    _, conn = connect(primus, query={"_mirage": "slow"})
    clock.advance(1.9)
    assert not conn.closed
    clock.advance(0.2)
    assert conn.closed and conn.ended_by_server
    assert not clock.getDelayedCalls()


@pytest.mark.parametrize("hostile", ["x" * 129, "a b", "<script>", "é", ""])
def test_malformed_ids_are_renewed(hostile: Any) -> None:
    primus, _ = server()
    spark, conn = connect(primus, query={"_mirage": hostile})
    assert spark.id != hostile and len(spark.id) == 16
    assert not conn.closed


def test_a_repeated_query_key_counts_once() -> None:
    primus, _ = server()
    spark, _ = connect(primus, query={"_mirage": ["first", "second"]})
    assert spark.id == "first"


def test_an_id_in_use_is_never_given_to_another_connection() -> None:
    primus, _ = server()
    victim, victim_conn = connect(primus, query={"_mirage": "victim"})
    thief, _ = connect(primus, query={"_mirage": "victim"})
    assert thief.id != "victim"
    assert primus.spark("victim") is victim and not victim_conn.closed


def test_a_validator_may_take_an_id_over() -> None:
    primus, _ = server()
    primus.id.validator(lambda spark, id: True)  # type: ignore[attr-defined]
    _old, old_conn = connect(primus, query={"_mirage": "mine"})
    new, _ = connect(primus, query={"_mirage": "mine"})
    assert primus.spark("mine") is new
    assert old_conn.closed


def test_generator_answers_are_checked() -> None:
    primus, _ = server()
    primus.id.generator(lambda spark: 42)  # type: ignore[attr-defined]
    _, conn = connect(primus)
    assert conn.closed
    with pytest.raises(PrimusError):
        primus.id.generator("nope")  # type: ignore[attr-defined]
    with pytest.raises(PrimusError):
        MiragePlugin(wire="smoke")


def test_envelopes() -> None:
    assert envelope("emit", "i") == {"emit": ["mirage", "i"]}
    for value in (None, [], {"emit": ["mirage"]}, {"emit": ["mirage", 3]}, {"type": True, "data": ["mirage", "x"]}):
        assert mirage_of(value) is None


# -- the Python client half --------------------------------------------------------


def test_client_sends_its_id_and_learns_new_ones() -> None:
    harness = Harness(plugin="mirage", mirage="known-id")
    socket: Any = harness.socket
    transport = harness.open()
    assert "_mirage=known-id" in transport.url
    learned: list[str] = []
    data: list[Any] = []
    socket.on("mirage", learned.append)
    socket.on("data", data.append)
    transport.receive({"emit": ["mirage", "renewed"]})
    transport.receive({"type": 0, "data": ["mirage", "again"]})
    transport.receive({"emit": ["other", "x"]})
    assert learned == ["renewed", "again"]
    assert socket.mirage == "again"
    assert data == [{"emit": ["other", "x"]}]


def test_client_without_an_id_sends_none() -> None:
    harness = Harness(plugin="mirage")
    transport = harness.open()
    assert "_mirage" not in transport.url
    transport.receive({"emit": ["mirage", "given"]})
    assert harness.socket.mirage == "given"  # type: ignore[attr-defined]
    json.dumps(harness.socket.mirage)  # type: ignore[attr-defined]
