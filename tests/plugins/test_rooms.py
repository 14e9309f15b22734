"""
The rooms plugin on fakes: primus-rooms 3.4.3's API and semantics
(membership, events, wildcards, exclusions, the sender included in its own
room broadcasts), broadcasts encoded once, and cleanup when sparks end.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import CountingParser, FakeTransformer, connect, make_primus
from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from primus_tx import Primus, PrimusError, Spark
from primus_tx.plugins.rooms import (
    IRoomsAdapter,
    MemoryAdapter,
    RoomsError,
    RoomsPlugin,
    room_names,
    wildcard_pattern,
)

sync = SynchronousTestCase()


def server(plugin: Any = "emitter, rooms", **options: Any) -> Primus:
    primus, clock = make_primus(transformer=FakeTransformer(), ping_interval=0, plugin=plugin,
                                **options)
    clock.advance(0)
    return primus


def value(d: Deferred[Any]) -> Any:
    return sync.successResultOf(d)


def test_room_names_follow_primus_rooms() -> None:
    assert room_names(["news sport", "news", 1, 2.0, ["a", ["b", "a"]]]) == [
        "news", "sport", "1", "2", "a", "b",
    ]
    for bad in (None, True, {"a": 1}, object()):
        with pytest.raises(RoomsError):
            room_names([bad])


def test_join_leave_rooms_and_events() -> None:
    primus = server()
    spark, _ = connect(primus)
    events: list[Any] = []
    for name in ("joinroom", "leaveroom", "leaveallrooms"):
        spark.on(name, lambda *a, name=name: events.append((name, a)))
        primus.on(name, lambda *a, name=name: events.append(("primus " + name, a)))
    assert value(spark.join("news sport", "tech")) is None
    assert value(spark.rooms()) == ["news", "sport", "tech"]
    assert sorted(value(primus.rooms())) == ["news", "sport", "tech"]
    assert value(primus.rooms(spark)) == ["news", "sport", "tech"]
    value(spark.leave("sport"))
    assert value(spark.rooms()) == ["news", "tech"]
    assert value(spark.leave_all()) == ["news", "tech"]
    assert value(spark.rooms()) == []
    assert events[:2] == [("joinroom", ("news",)), ("primus joinroom", ("news", spark))]
    assert ("leaveroom", ("sport",)) in events
    assert events[-2:] == [
        ("leaveallrooms", (["news", "tech"],)),
        ("primus leaveallrooms", (["news", "tech"], spark)),
    ]


def test_room_write_reaches_members_once_sender_included() -> None:
    parser = CountingParser()
    primus = server(parser=parser)
    a, ca = connect(primus)
    b, cb = connect(primus)
    c, cc = connect(primus)
    value(a.join("news", "sport"))
    value(b.join("news"))
    value(c.join("sport"))
    parser.encoded.clear()
    assert value(primus.room("news", "sport").write({"hi": 1})) == 3
    assert parser.encoded == [{"hi": 1}]  # encoded once for the three
    assert [conn.decoded for conn in (ca, cb, cc)] == [[{"hi": 1}]] * 3
    # spark.room(...) includes the sender, as primus-rooms 3.4.3 does
    assert value(a.room("news").write("from a")) == 2
    assert ca.decoded[-1] == "from a" and cb.decoded[-1] == "from a"
    assert value(a.room("news").excluding(a).write("not a")) == 1
    assert ca.decoded[-1] == "from a" and cb.decoded[-1] == "not a"
    assert value(primus.room("news").excluding(a.id, b).write("nobody")) == 0


def test_room_send_uses_the_emitter_packet() -> None:
    primus = server()
    a, ca = connect(primus)
    value(a.join("news"))
    value(primus.room("news").send("evt", 1, 2))
    assert ca.sent[-1] == '{"type":0,"data":["evt",1,2]}'
    without = server(plugin="rooms")
    _b, _ = connect(without)
    with pytest.raises(RoomsError, match="emitter"):
        without.room("x").send("evt")


def test_wildcard_rooms_escape_other_metacharacters() -> None:
    primus = server()
    wild, cw = connect(primus)
    dotted, _cd = connect(primus)
    value(wild.join("user:*"))
    value(dotted.join("a.c"))
    assert value(primus.room("user:jb:1").write("wild")) == 1
    assert cw.decoded == ["wild"]
    # "." is literal here (in Node it matches any character)
    value(wild.join("a.*"))
    assert value(primus.room("abc").write("x")) == 0
    assert value(primus.room("a.cd").write("y")) == 1
    assert cw.decoded[-1] == "y"
    assert wildcard_pattern("a.*").match("a.b")
    assert not wildcard_pattern("a.*").match("ab")
    assert wildcard_pattern("x(*)[").match("x(1)[")


def test_wildcard_can_be_disabled_and_wild_delete() -> None:
    primus = server(plugin={"rooms": RoomsPlugin(wildcard=False)})
    spark, _conn = connect(primus)
    value(spark.join("user:*"))
    assert value(primus.room("user:1").write("x")) == 0
    primus2 = server(plugin={"rooms": RoomsPlugin(wild_delete=True)})
    s2, _ = connect(primus2)
    value(s2.join("user:1 user:2 other"))
    value(s2.leave("user:*"))
    assert value(s2.rooms()) == ["other"]


def test_membership_dropped_when_spark_ends() -> None:
    primus = server()
    spark, _ = connect(primus)
    other, _ = connect(primus)
    value(spark.join("news sport"))
    value(other.join("news"))
    left: list[Any] = []
    spark.on("leaveallrooms", left.append)
    spark.connectionLost(None)
    assert left == [["news", "sport"]]
    assert value(primus.room("news").clients()) == [other.id]
    assert value(primus.rooms()) == ["news"]
    adapter: Any = primus.rooms_adapter
    assert spark.id not in adapter._sids
    # a closed spark cannot join, and its broadcasts are ignored
    errors: list[Any] = []
    spark.on("roomserror", errors.append)
    sync.failureResultOf(spark.join("news"), RoomsError)
    assert [str(e) for e in errors] == ["Spark is closed"]
    assert value(spark.room("news").write("x")) == 0


def test_join_completing_after_the_spark_ended_is_undone() -> None:
    later: Deferred[None] = Deferred()

    class SlowAdapter(MemoryAdapter):
        def add(self, spark_id: str, room: str) -> Deferred[None]:
            self.add_now(spark_id, room)
            return later

    adapter = SlowAdapter()
    primus = server(plugin={"rooms": RoomsPlugin(adapter=adapter)})
    spark, _ = connect(primus)
    d = spark.join("news")
    spark.end()
    later.callback(None)
    sync.failureResultOf(d, RoomsError)
    assert value(adapter.clients("news")) == []


def test_clients_empty_and_is_room_empty() -> None:
    primus = server()
    a, _ = connect(primus)
    b, _ = connect(primus)
    value(a.join("x y"))
    value(b.join("y"))
    assert value(primus.room("y").clients()) == [a.id, b.id]
    assert value(primus.room("x", "y").clients()) == [a.id, b.id]
    assert value(primus.is_room_empty("x")) is False
    value(primus.empty("x"))
    assert value(primus.is_room_empty("x")) is True
    assert value(a.rooms()) == ["y"]
    value(primus.room("y").empty())
    assert value(primus.rooms()) == []
    value(primus.join(a.id, "z"))
    value(primus.leave(a, "z"))
    value(primus.join(b, "q"))
    value(primus.empty())
    assert value(primus.rooms()) == []


def test_transform_per_recipient() -> None:
    primus = server()
    a, ca = connect(primus)
    b, cb = connect(primus)
    value(a.join("r"))
    value(b.join("r"))

    def personal(packet: Any) -> Any:
        if packet.spark is b:
            return False
        packet.data[0] = {"to": packet.spark.id}
        return None

    original = {"shared": True}
    assert value(primus.room("r").transform(personal).write(original)) == 1
    assert ca.decoded == [{"to": a.id}]
    assert cb.decoded == []
    assert original == {"shared": True}


def test_rooms_events_are_reserved_and_never_from_the_wire() -> None:
    primus = server(plugin="emitter, emit, rooms")
    spark, conn = connect(primus)
    seen: list[Any] = []
    spark.on("joinroom", seen.append)
    for packet in ({"type": 0, "data": ["joinroom", "x"]}, {"emit": ["joinroom", "y"]}):
        spark.messageReceived(json.dumps(packet))
    assert seen == []
    value(spark.join("real"))
    assert seen == ["real"]  # emitted locally, not sent (emit plugin)
    assert conn.sent == []


def test_memory_adapter_provides_the_interface() -> None:
    adapter = MemoryAdapter()
    verifyObject(IRoomsAdapter, adapter)
    with pytest.raises(PrimusError, match="IRoomsAdapter"):
        RoomsPlugin(adapter=object())
    value(adapter.add("1", "a"))
    value(adapter.add("2", "b"))
    assert value(adapter.members([], frozenset(["2"]))) == ["1"]
    value(adapter.remove("3", "a"))
    value(adapter.clear())
    assert value(adapter.all_rooms()) == []
    assert succeed(None)


def test_existing_sparks_keep_their_class() -> None:
    primus = server(plugin=None)
    before, _ = connect(primus)
    primus.plugin("rooms")
    after, _ = connect(primus)
    assert not hasattr(before, "join")
    assert hasattr(after, "join")
    assert isinstance(before, Spark) and isinstance(after, type(before))


def test_with_the_public_testing_fixture() -> None:
    from primus_tx.testing import PrimusFixture

    fixture = PrimusFixture(plugin="emitter, rooms", ping_interval=0)
    primus: Any = fixture.primus
    spark, client = fixture.connect()
    _, other_client = fixture.connect()
    value(spark.join("news"))
    client.receive(None)  # plain data, never a crash
    assert value(primus.room("news").send("evt", 1)) == 1
    assert client.messages == [{"type": 0, "data": ["evt", 1]}]
    assert other_client.messages == []
