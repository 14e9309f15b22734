"""
The fortress-maximus plugin on fakes: the six rules in Node's order, sync
and asynchronous validators (order kept), plain data with and without
``validate_data``, and hostile envelopes.  Events are read here by plain
listeners on the spark the way the emit plugins deliver them; what this
plugin decides is whether a message goes on at all.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import connect, make_primus
from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from primus_tx import Primus, PrimusError
from primus_tx.plugins.fortress import FortressPlugin, InvalidMessage, event_of

sync = SynchronousTestCase()


def server(**options: Any) -> tuple[Primus, list[Any]]:
    plugin = {"fortress-maximus": FortressPlugin(**options)} if options else "fortress-maximus"
    primus, clock = make_primus(ping_interval=0, plugin=plugin)
    clock.advance(0)
    refused: list[Any] = []
    primus.on("invalid", lambda error, args: refused.append((str(error), error.event, args)))
    return primus, refused


def delivered(spark: Any) -> list[Any]:
    """
    What passes the fortress: events (as the emit plugins would emit them)
    and plain data.
    """
    got: list[Any] = []

    def data(message: Any) -> None:
        found = event_of(message)
        got.append(("data", message) if not isinstance(found, tuple) else ("event", *found))

    spark.on("data", data)
    return got


def receive(spark: Any, value: Any) -> None:
    spark.messageReceived(json.dumps(value))


def test_the_rules_in_order() -> None:
    primus, refused = server()
    primus.validate("chat", lambda spark, room, text: isinstance(text, str))  # type: ignore[attr-defined]
    primus.validate("nolistener", lambda spark: True)  # type: ignore[attr-defined]
    spark, conn = connect(primus)
    got = delivered(spark)
    spark.on("chat", lambda *a: None)
    spark.on("unvalidated", lambda *a: None)
    receive(spark, {"emit": ["end"]})
    receive(spark, {"emit": ["nolistener"]})
    receive(spark, {"emit": ["unvalidated", 1]})
    receive(spark, {"emit": ["chat", "room"]})  # one argument short
    receive(spark, {"emit": ["chat", "room", 3]})
    receive(spark, {"emit": ["chat", "room", "hi"]})
    receive(spark, {"type": 0, "data": ["chat", "room", "hi too"], "id": 1})
    receive(spark, {"type": 0, "data": ["chat", "room", 4]})
    assert [r[0] for r in refused] == [
        "end is a reserved event",
        "Missing listener for nolistener",
        "Missing validator for unvalidated",
        "Missing arguments for chat",
        "chat did not validate",
        "chat did not validate",
    ]
    assert got == [
        ("event", "chat", ["room", "hi"]),
        ("event", "chat", ["room", "hi too"]),
    ]
    assert not conn.closed  # refusals never end the connection


def test_errors_and_none_refuse() -> None:
    primus, refused = server()

    def strict(spark: Any, n: Any) -> Any:
        if n < 0:
            raise ValueError("negative")
        return None if n == 0 else True

    primus.validate("n", strict)  # type: ignore[attr-defined]
    spark, _ = connect(primus)
    got = delivered(spark)
    spark.on("n", lambda n: None)
    receive(spark, {"emit": ["n", -1]})
    receive(spark, {"emit": ["n", 0]})
    receive(spark, {"emit": ["n", "x"]})  # TypeError in the validator
    receive(spark, {"emit": ["n", 1]})
    assert [r[0] for r in refused] == ["negative", "n did not validate", refused[2][0]]
    assert isinstance(refused[2][0], str) and refused[2][1] == "n"
    assert got == [("event", "n", [1])]


def test_asynchronous_validators_keep_the_order() -> None:
    primus, refused = server()
    pending: list[Deferred[Any]] = []

    def later(spark: Any, n: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        pending.append(d)
        return d

    async def coroutine(spark: Any, n: Any) -> bool:
        return bool(await succeed(n))

    primus.validate("later", later)  # type: ignore[attr-defined]
    primus.validate("co", coroutine)  # type: ignore[attr-defined]
    spark, _ = connect(primus)
    got = delivered(spark)
    spark.on("later", lambda n: None)
    spark.on("co", lambda n: None)
    receive(spark, {"emit": ["later", 1]})
    receive(spark, {"emit": ["co", 2]})
    receive(spark, "plain")
    receive(spark, {"emit": ["later", 3]})
    assert got == []
    pending[0].callback(True)
    assert got == [("event", "later", [1]), ("event", "co", [2]), ("data", "plain")]
    pending[1].errback(ValueError("no"))
    assert refused == [("no", "later", [3])]
    assert len(got) == 3


def test_plain_data_passes_unless_asked() -> None:
    primus, refused = server()
    spark, _ = connect(primus)
    got = delivered(spark)
    for value in (None, [1, 2], "x", {"emit": "notalist"}, {"type": 1, "data": ["ack"], "id": 1}):
        receive(spark, value)
    assert [g[1] for g in got] == [None, [1, 2], "x", {"emit": "notalist"}, {"type": 1, "data": ["ack"], "id": 1}]
    assert refused == []


def test_validate_data() -> None:
    primus, refused = server(validate_data=True)
    primus.validate("data", lambda spark, message: isinstance(message, str))  # type: ignore[attr-defined]
    spark, _ = connect(primus)
    got = delivered(spark)
    receive(spark, "fine")
    receive(spark, None)
    receive(spark, [1])
    assert got == [("data", "fine")]
    assert [r[0] for r in refused] == ["data did not validate"] * 2


def test_listeners_on_primus() -> None:
    primus, refused = server(listeners="primus")
    primus.validate("hello", lambda spark: True)  # type: ignore[attr-defined]
    spark, _ = connect(primus)
    got = delivered(spark)
    receive(spark, {"emit": ["hello"]})
    primus.on("hello", lambda *a: None)
    receive(spark, {"emit": ["hello"]})
    assert [r[0] for r in refused] == ["Missing listener for hello"]
    assert got == [("event", "hello", [])]


@pytest.mark.parametrize(
    "hostile",
    [
        {"emit": []},
        {"emit": [None]},
        {"emit": [3, 4]},
        {"emit": [["x"]]},
        {"type": 0, "data": []},
        {"type": 0, "data": [{}]},
        {"emit": ["__proto__"]},
        {"emit": ["constructor"]},
        {"emit": ["incoming::data"]},
    ],
)
def test_hostile_envelopes_are_refused_without_raising(hostile: Any) -> None:
    primus, refused = server()
    spark, conn = connect(primus)
    got = delivered(spark)
    errors: list[Any] = []
    primus.on("log", lambda *args: errors.append(args))
    receive(spark, hostile)
    assert got == [] and len(refused) == 1 and errors == [] and not conn.closed
    assert isinstance(refused[0][0], str)


def test_type_true_is_not_an_emitter_event() -> None:
    # JSON true == 0 is false in JavaScript too; Python's True == 1, False == 0.
    assert not isinstance(event_of({"type": False, "data": ["x"]}), tuple)


def test_bad_arguments() -> None:
    primus, _ = server()
    with pytest.raises(PrimusError):
        primus.validate("", lambda spark: True)  # type: ignore[attr-defined]
    with pytest.raises(PrimusError):
        primus.validate("x", "not callable")  # type: ignore[attr-defined]
    with pytest.raises(PrimusError):
        FortressPlugin(listeners="elsewhere")
    assert issubclass(InvalidMessage, PrimusError)
