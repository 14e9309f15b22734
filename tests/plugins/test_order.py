"""
Plugin order rules: the built-ins work in any order with one another,
plugins extend only sparks made after them, adding one rebuilds the
browser library, and names are unique.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from fakes import FakeTransformer, connect, make_primus
from twisted.trial.unittest import SynchronousTestCase

from primus_tx import PrimusError

sync = SynchronousTestCase()

BUILTINS = ("emitter", "emit", "rooms", "responder")


@pytest.mark.parametrize("order", list(itertools.permutations(BUILTINS)))
def test_every_order_of_the_builtins_behaves_the_same(order: tuple[str, ...]) -> None:
    primus, clock = make_primus(transformer=FakeTransformer(), ping_interval=0, plugin=list(order))
    clock.advance(0)
    spark, conn = connect(primus)
    got: list[Any] = []
    data: list[Any] = []
    spark.on("data", data.append)
    spark.on("evt", lambda *a: got.append(a))
    spark.on("request", lambda body: {"r": body})
    sync.successResultOf(spark.join("room"))
    for packet in (
        {"type": 0, "data": ["evt", 1]},
        {"emit": ["evt", 2]},
        {"plugin": "primus-responder", "requestId": "q", "data": 3},
        {"type": 0, "data": ["joinroom", "x"]},
        None,
    ):
        spark.messageReceived(json.dumps(packet))
    assert got == [(1,), (2,)]
    # emitter packets still reach data (as in Node); emit and responder
    # envelopes do not; null is data
    assert data == [{"type": 0, "data": ["evt", 1]}, {"type": 0, "data": ["joinroom", "x"]}, None]
    assert sync.successResultOf(primus.room("room").send("evt", 4)) == 1
    spark.emit("custom", 5)  # emit plugin: sent
    assert [json.loads(m) for m in conn.sent] == [
        {"plugin": "primus-responder", "responseId": "q", "data": {"r": 3}},
        {"type": 0, "data": ["evt", 4]},
        {"emit": ["custom", 5]},
    ]
    spark.end()
    assert sync.successResultOf(primus.rooms()) == []


def test_plugins_extend_sparks_made_after_them_only() -> None:
    primus, _ = make_primus(transformer=FakeTransformer(), ping_interval=0)
    early, _ = connect(primus)
    primus.plugin("emitter")
    late, _ = connect(primus)
    assert not hasattr(early, "send") and hasattr(late, "send")
    primus.plugin("rooms")
    later, _ = connect(primus)
    assert not hasattr(late, "join") and hasattr(later, "join") and hasattr(later, "send")


def test_room_send_needs_emitter_when_called_not_when_added() -> None:
    primus, _ = make_primus(transformer=FakeTransformer(), ping_interval=0, plugin="rooms")
    primus.plugin("emitter")  # after rooms
    spark, conn = connect(primus)
    sync.successResultOf(spark.join("r"))
    assert sync.successResultOf(primus.room("r").send("e", 1)) == 1
    assert json.loads(conn.sent[-1]) == {"type": 0, "data": ["e", 1]}


def test_adding_a_plugin_rebuilds_the_library() -> None:
    primus, _ = make_primus(transformer=FakeTransformer(), ping_interval=0)
    before = primus.library()
    assert "Primus.prototype.ark.emitter" not in before
    primus.plugin("emitter")
    after = primus.library()
    assert "Primus.prototype.ark.emitter" in after
    primus.plugin("responder")
    assert "writeAndWait" in primus.library()
    assert "primus-responder" in primus.library()


def test_names_are_unique_and_unknown_names_are_clear() -> None:
    primus, _ = make_primus(transformer=FakeTransformer(), ping_interval=0, plugin="emitter")
    with pytest.raises(PrimusError, match="already defined"):
        primus.plugin("emitter", "emitter")
    with pytest.raises(PrimusError, match="Unknown plugin"):
        primus.plugin("chat", "no-such-plugin")
    # the same plugin under another name is another plugin
    primus.plugin("second", "emit")
    assert sorted(primus.plugin()) == ["emitter", "second"]
    # (every built-in name, sorted: other plugins sit between these)
    with pytest.raises(PrimusError, match=r"built-in plugins are .*emit, emitter, .*responder, rooms"):
        make_primus(transformer=FakeTransformer(), plugin="emitter, nope")
