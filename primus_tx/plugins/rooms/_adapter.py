"""
Where room membership is kept: the :class:`IRoomsAdapter` interface and
the in-memory adapter.

Every operation returns a Deferred, even in memory, because an adapter
shared by several processes (Redis) answers later; the in-memory adapter's
Deferreds have already fired, so its callers run synchronously.
"""

from __future__ import annotations

import re
from typing import Iterable, Pattern

from twisted.internet.defer import Deferred, succeed
from zope.interface import Interface, implementer

__all__ = ["IRoomsAdapter", "MemoryAdapter", "wildcard_pattern"]


class IRoomsAdapter(Interface):
    """
    Room membership storage for the ``rooms`` plugin (primus-rooms-adapter's
    operations, with Deferreds instead of callbacks).  Spark ids and room
    names are strings.
    """

    def add(spark_id: str, room: str) -> Deferred[None]:
        """
        Put the spark in the room.
        """

    def remove(spark_id: str, room: str) -> Deferred[None]:
        """
        Take the spark out of the room (out of every matching room when
        wildcard deletion is on and ``room`` has a ``*``).
        """

    def remove_all(spark_id: str) -> Deferred[list[str]]:
        """
        Take the spark out of every room; fires with the rooms it was in.
        """

    def rooms_of(spark_id: str) -> Deferred[list[str]]:
        """
        The rooms the spark is in.
        """

    def all_rooms() -> Deferred[list[str]]:
        """
        Every room that has members.
        """

    def clients(room: str) -> Deferred[list[str]]:
        """
        The ids of the room's members.
        """

    def members(rooms: list[str], excluding: frozenset[str]) -> Deferred[list[str]]:
        """
        The ids a broadcast to ``rooms`` reaches, each once: the members of
        each room and of every wildcard room matching it, minus
        ``excluding``; every spark in any room when ``rooms`` is empty.
        """

    def empty(rooms: list[str]) -> Deferred[None]:
        """
        Remove every member of these rooms.
        """

    def is_empty(room: str) -> Deferred[bool]:
        """
        Whether the room has no members.
        """

    def clear() -> Deferred[None]:
        """
        Forget every room.
        """


def wildcard_pattern(room: str) -> Pattern[str]:
    """
    The pattern of a wildcard room: each ``*`` matches any characters (as
    few as possible), anchored at both ends, as primus-rooms does; unlike
    primus-rooms, every other character is literal (in Node a ``.`` in a
    room name matches any character).
    """
    return re.compile("^" + "(.*?)".join(re.escape(part) for part in room.split("*")) + "$")


@implementer(IRoomsAdapter)
class MemoryAdapter:
    """
    Membership in this process's memory: two maps (room -> ids, id ->
    rooms) kept in step, and the wildcard rooms with their compiled
    patterns.

    :param wildcard: whether rooms with ``*`` are patterns.
    :param wild_delete: whether leaving ``"a:*"`` leaves every room of the
        spark that the pattern matches.
    """

    def __init__(self, wildcard: bool = True, wild_delete: bool = False) -> None:
        self.wildcard = wildcard
        self.wild_delete = wild_delete
        self._rooms: dict[str, dict[str, None]] = {}
        self._sids: dict[str, dict[str, None]] = {}
        self._patterns: dict[str, Pattern[str]] = {}

    # -- synchronous answers (the Deferred methods wrap them) -------------------

    def add_now(self, spark_id: str, room: str) -> None:
        self._sids.setdefault(spark_id, {})[room] = None
        members = self._rooms.get(room)
        if members is None:
            members = self._rooms[room] = {}
            if self.wildcard and "*" in room:
                self._patterns[room] = wildcard_pattern(room)
        members[spark_id] = None

    def _prune(self, spark_id: str, room: str) -> None:
        joined = self._sids.get(spark_id)
        if joined is not None:
            joined.pop(room, None)
            if not joined:
                del self._sids[spark_id]
        members = self._rooms.get(room)
        if members is not None:
            members.pop(spark_id, None)
            if not members:
                del self._rooms[room]
                self._patterns.pop(room, None)

    def remove_now(self, spark_id: str, room: str) -> None:
        joined = self._sids.get(spark_id)
        if not joined:
            return
        if self.wild_delete and self.wildcard and "*" in room:
            pattern = wildcard_pattern(room)
            for name in [r for r in joined if pattern.match(r)]:
                self._prune(spark_id, name)
        elif room in joined:
            self._prune(spark_id, room)

    def remove_all_now(self, spark_id: str) -> list[str]:
        rooms = list(self._sids.get(spark_id, ()))
        for room in rooms:
            self._prune(spark_id, room)
        return rooms

    def members_now(self, rooms: Iterable[str], excluding: frozenset[str]) -> list[str]:
        room_map = self._rooms
        rooms = list(rooms)
        if not rooms:
            return [i for i in self._sids if i not in excluding]
        if len(rooms) == 1 and not self._patterns:
            members = room_map.get(rooms[0])
            if members is None:
                return []
            if not excluding:
                return list(members)
            return [i for i in members if i not in excluding]
        found: dict[str, None] = {}
        patterns = self._patterns
        for room in rooms:
            members = room_map.get(room)
            if members is not None:
                found.update(members)
            for name, pattern in patterns.items():
                if pattern.match(room):
                    found.update(room_map[name])
        if excluding:
            return [i for i in found if i not in excluding]
        return list(found)

    # -- IRoomsAdapter ---------------------------------------------------------------

    def add(self, spark_id: str, room: str) -> Deferred[None]:
        self.add_now(spark_id, room)
        return succeed(None)

    def remove(self, spark_id: str, room: str) -> Deferred[None]:
        self.remove_now(spark_id, room)
        return succeed(None)

    def remove_all(self, spark_id: str) -> Deferred[list[str]]:
        return succeed(self.remove_all_now(spark_id))

    def rooms_of(self, spark_id: str) -> Deferred[list[str]]:
        return succeed(list(self._sids.get(spark_id, ())))

    def all_rooms(self) -> Deferred[list[str]]:
        return succeed(list(self._rooms))

    def clients(self, room: str) -> Deferred[list[str]]:
        return succeed(list(self._rooms.get(room, ())))

    def members(self, rooms: list[str], excluding: frozenset[str]) -> Deferred[list[str]]:
        return succeed(self.members_now(rooms, excluding))

    def empty(self, rooms: list[str]) -> Deferred[None]:
        for room in rooms:
            for spark_id in list(self._rooms.get(room, ())):
                self._prune(spark_id, room)
        return succeed(None)

    def is_empty(self, room: str) -> Deferred[bool]:
        return succeed(room not in self._rooms)

    def clear(self) -> Deferred[None]:
        self._rooms.clear()
        self._sids.clear()
        self._patterns.clear()
        return succeed(None)

    def __repr__(self) -> str:
        return f"<MemoryAdapter {len(self._rooms)} rooms, {len(self._sids)} sparks>"
