"""
The ordered transform lane every spark and client direction runs its
transforms in: order kept behind asynchronous transforms, drops, failures,
and the owner closing while messages wait.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from primus_tx._lane import Lane
from primus_tx._transforms import Packet


class Owner:
    def __init__(self) -> None:
        self.delivered: list[Any] = []
        self.failed: list[BaseException] = []
        self.open = True
        self.seen: list[Any] = []


def _holding(owner: Owner, held: str) -> tuple[Any, list[Deferred[Any]]]:
    """
    A transform that holds messages starting with ``held`` until their
    Deferred fires and records the others it sees.
    """
    pending: list[Deferred[Any]] = []

    def transform(packet: Packet) -> Any:
        if packet.data.startswith(held):
            d: Deferred[Any] = Deferred()
            pending.append(d)
            return d
        owner.seen.append(packet.data)
        return None

    return transform, pending


def _lane(owner: Owner, transforms: list[Any], running: bool = True) -> Lane:
    return Lane(
        transforms,
        owner,
        owner.delivered.append,
        owner.failed.append,
        (lambda: owner.open) if running else None,
    )


def test_synchronous_transforms_deliver_at_once_and_drop() -> None:
    owner = Owner()

    def upper(packet: Packet) -> Any:
        owner.seen.append((packet.spark, packet.raw))
        if packet.data == "drop":
            return False
        packet.data = packet.data.upper()
        return None

    lane = _lane(owner, [upper])
    lane.push("a", "raw-a")
    lane.push("drop")
    assert owner.delivered == ["A"]
    assert owner.seen == [(owner, "raw-a"), (owner, None)]
    assert lane.waiting == 0


def test_messages_wait_behind_an_asynchronous_transform() -> None:
    owner = Owner()
    slow, pending = _holding(owner, "slow")
    lane = _lane(owner, [slow])
    lane.push("slow 1")
    lane.push("b")
    lane.push("slow 2")
    lane.push("c")
    assert owner.delivered == []
    assert lane.waiting == 3
    pending[0].callback(None)
    # "b" went through; "slow 2" holds "c" back in turn.
    assert owner.delivered == ["slow 1", "b"]
    assert lane.waiting == 1
    pending[1].callback(False)
    assert owner.delivered == ["slow 1", "b", "c"]
    assert lane.waiting == 0


def test_a_transform_added_later_applies_to_later_messages() -> None:
    owner = Owner()
    transforms: list[Any] = []
    lane = _lane(owner, transforms)
    lane.push("a")
    transforms.append(lambda packet: setattr(packet, "data", packet.data * 2))
    lane.push("b")
    assert owner.delivered == ["a", "bb"]


def test_failures_are_reported_and_the_rest_go_on() -> None:
    owner = Owner()
    pending: list[Deferred[Any]] = []

    def transform(packet: Packet) -> Any:
        if packet.data == "raise":
            raise ValueError("raised")
        if packet.data == "fail":
            d: Deferred[Any] = Deferred()
            pending.append(d)
            return d
        return None

    lane = _lane(owner, [transform])
    lane.push("raise")
    lane.push("fail")
    lane.push("after")
    pending[0].errback(KeyError("failed"))
    assert [type(e) for e in owner.failed] == [ValueError, KeyError]
    assert owner.delivered == ["after"]


def test_waiting_messages_are_dropped_once_the_owner_closes() -> None:
    owner = Owner()
    slow, pending = _holding(owner, "slow")
    lane = _lane(owner, [slow])
    lane.push("slow")
    lane.push("later")
    owner.open = False
    pending[0].callback(None)
    # The held message was already on its way; the ones behind it are not
    # transformed any more.
    assert owner.delivered == ["slow"]
    assert owner.seen == []


def test_without_a_running_check_everything_waiting_goes_through() -> None:
    owner = Owner()
    slow, pending = _holding(owner, "slow")
    lane = _lane(owner, [slow], running=False)
    lane.push("slow")
    lane.push("later")
    owner.open = False
    pending[0].callback(None)
    assert owner.delivered == ["slow", "later"]
