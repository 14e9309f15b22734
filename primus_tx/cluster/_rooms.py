# -*- test-case-name: tests.cluster.test_rooms_adapter -*-
"""
Room membership in Redis, in primus-cluster 2.0.0's key layout, so that the
members of a room are known on every node (and to Node nodes running
primus-cluster).

With ``P`` the prefix (``primus-cluster:``), ``I`` a tenth of the TTL and
``B = floor(now in ms / I)`` the current time bucket:

==============================  ====  =======================================
``P room:<room>:<B>``           SET   spark ids that joined during bucket B
``P socket:<spark id>:<B>``     SET   rooms the spark joined during bucket B
==============================  ====  =======================================

Both keys expire ``ttl`` seconds after the join, and every read looks at
the current bucket and the nine before it, so a spark that vanished without
leaving (its node crashed) drops out of its rooms within ``ttl`` — as does,
with this layout, a spark that stays connected that long without joining
again (primus-cluster behaves the same; keep ``ttl`` above your longest
connection, or join again periodically).  Room names are literal: no
wildcard patterns.  Node clocks must agree to well within ``I``.

The operations are those of the ``rooms`` plugin's adapter interface; each
is one bounded Redis call (see :mod:`primus_tx.cluster._redis`).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from twisted.internet.defer import Deferred, succeed

from primus_tx.cluster._redis import RedisLink

__all__ = ["BUCKETS", "ROOM_SCRIPTS", "ClusterRoomsAdapter", "RedisRoomsAdapter"]

#: How many time buckets a read looks at (primus-cluster's numberOfSets).
BUCKETS = 10

# Every script takes ARGV[1] = prefix, ARGV[2] = current bucket, ARGV[3] =
# number of buckets.
_KEYS = """
local prefix, bucket, sets = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local function keys(kind, name)
  local found = {}
  for i = 0, sets - 1 do
    found[#found + 1] = prefix .. kind .. ':' .. name .. ':' .. (bucket - i)
  end
  return found
end
local function union(kind, name)
  return redis.call('SUNION', unpack(keys(kind, name)))
end
"""

ROOM_SCRIPTS: dict[str, str] = {
    # ARGV[4] = ttl, ARGV[5] = spark id, ARGV[6] = room.
    "room_add": _KEYS
    + """
local socket = prefix .. 'socket:' .. ARGV[5] .. ':' .. bucket
local room = prefix .. 'room:' .. ARGV[6] .. ':' .. bucket
redis.call('SADD', socket, ARGV[6])
redis.call('SADD', room, ARGV[5])
if tonumber(ARGV[4]) > 0 then
  redis.call('EXPIRE', socket, ARGV[4])
  redis.call('EXPIRE', room, ARGV[4])
end
return 1
""",
    # ARGV[4] = spark id, ARGV[5] = room.
    "room_remove": _KEYS
    + """
for _, key in ipairs(keys('room', ARGV[5])) do redis.call('SREM', key, ARGV[4]) end
for _, key in ipairs(keys('socket', ARGV[4])) do redis.call('SREM', key, ARGV[5]) end
return 1
""",
    # ARGV[4] = spark id.  Returns the rooms it was in.
    "room_remove_all": _KEYS
    + """
local rooms = union('socket', ARGV[4])
for _, room in ipairs(rooms) do
  for _, key in ipairs(keys('room', room)) do redis.call('SREM', key, ARGV[4]) end
end
for _, key in ipairs(keys('socket', ARGV[4])) do redis.call('DEL', key) end
return rooms
""",
    # ARGV[4...] = rooms.  The union of their members.
    "room_members": _KEYS
    + """
local seen, members = {}, {}
for i = 4, #ARGV do
  for _, id in ipairs(union('room', ARGV[i])) do
    if not seen[id] then seen[id] = true; members[#members + 1] = id end
  end
end
return members
""",
    # Deletes every key of the layout (in batches: Lua's unpack has limits).
    "room_clear": """
local prefix = ARGV[1]
local deleted = 0
for _, pattern in ipairs({prefix .. 'room:*', prefix .. 'socket:*'}) do
  local cursor = '0'
  repeat
    local reply = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = reply[1]
    for _, key in ipairs(reply[2]) do redis.call('DEL', key); deleted = deleted + 1 end
  until cursor == '0'
end
return deleted
""",
    # Every room with a key, or every spark id with one (ARGV[2] = kind).
    "room_names": """
local prefix, kind = ARGV[1], ARGV[2]
local seen, names = {}, {}
local start = #prefix + #kind + 2
local cursor = '0'
repeat
  local reply = redis.call('SCAN', cursor, 'MATCH', prefix .. kind .. ':*', 'COUNT', 1000)
  cursor = reply[1]
  for _, key in ipairs(reply[2]) do
    local name = string.match(string.sub(key, start), '^(.*):%d*$')
    if name and not seen[name] then seen[name] = true; names[#names + 1] = name end
  end
until cursor == '0'
return names
""",
}


def _texts(values: Iterable[Any]) -> list[str]:
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]


class RedisRoomsAdapter:
    """
    Room membership shared by every node through Redis.

    Get one from :meth:`primus_tx.cluster.Cluster.rooms_adapter` (it uses
    the cluster's bounded command link).

    :param link: a command link loaded with :data:`ROOM_SCRIPTS`.
    :param reactor: the clock the time buckets are computed from.
    :param prefix: primus-cluster's ``prefix``.
    :param ttl: seconds a join is remembered (primus-cluster's ``ttl``).
    """

    def __init__(
        self, link: RedisLink, reactor: Any, prefix: str = "primus-cluster:", ttl: float = 86400
    ) -> None:
        self._link = link
        self._reactor = reactor
        self.prefix = prefix
        self.ttl = int(ttl)
        self._interval_ms = self.ttl * 1000 / BUCKETS

    def _bucket(self) -> int:
        return int(self._reactor.seconds() * 1000 // self._interval_ms)

    def _head(self) -> list[Any]:
        return [self.prefix, self._bucket(), BUCKETS]

    def _keys(self, kind: str, name: str) -> list[str]:
        bucket = self._bucket()
        return [f"{self.prefix}{kind}:{name}:{bucket - i}" for i in range(BUCKETS)]

    def add(self, spark_id: str, room: str) -> Deferred[None]:
        """
        Put the spark in the room.
        """
        d = self._link.script("room_add", [], [*self._head(), self.ttl, spark_id, room])
        return d.addCallback(lambda _: None)

    def remove(self, spark_id: str, room: str) -> Deferred[None]:
        """
        Take the spark out of the room.
        """
        d = self._link.script("room_remove", [], [*self._head(), spark_id, room])
        return d.addCallback(lambda _: None)

    def remove_all(self, spark_id: str) -> Deferred[list[str]]:
        """
        Take the spark out of every room; fires with the rooms it was in.
        """
        d = self._link.script("room_remove_all", [], [*self._head(), spark_id])
        return d.addCallback(_texts)

    def rooms_of(self, spark_id: str) -> Deferred[list[str]]:
        """
        The rooms the spark is in.
        """
        return self._link.call("SUNION", *self._keys("socket", spark_id)).addCallback(_texts)

    def all_rooms(self) -> Deferred[list[str]]:
        """
        Every room that has members (or had, within the TTL).
        """
        d = self._link.script("room_names", [], [self.prefix, "room"])
        return d.addCallback(_texts)

    def clients(self, room: str) -> Deferred[list[str]]:
        """
        The ids of the room's members, on every node.
        """
        return self._link.call("SUNION", *self._keys("room", room)).addCallback(_texts)

    def members(self, rooms: Sequence[str], excluding: frozenset[str]) -> Deferred[list[str]]:
        """
        The ids a broadcast to ``rooms`` reaches, each once, minus
        ``excluding``; every spark in any room when ``rooms`` is empty.
        """
        if rooms:
            d = self._link.script("room_members", [], [*self._head(), *rooms])
        else:
            d = self._link.script("room_names", [], [self.prefix, "socket"])
        return d.addCallback(lambda ids: [i for i in _texts(ids) if i not in excluding])

    def empty(self, rooms: Sequence[str]) -> Deferred[None]:
        """
        Remove every member of these rooms.
        """
        keys = [key for room in rooms for key in self._keys("room", room)]
        if not keys:
            return succeed(None)
        return self._link.call("DEL", *keys).addCallback(lambda _: None)

    def is_empty(self, room: str) -> Deferred[bool]:
        """
        Whether the room has no members on any node.
        """
        return self.clients(room).addCallback(lambda ids: not ids)

    def clear(self) -> Deferred[None]:
        """
        Forget every room (every key of the layout under this prefix).
        """
        d = self._link.script("room_clear", [], [self.prefix])
        return d.addCallback(lambda _: None)

    def __repr__(self) -> str:
        return f"<RedisRoomsAdapter {self.prefix!r} ttl={self.ttl}>"


class ClusterRoomsAdapter:
    """
    The rooms plugin's adapter when the cluster plugin is added too: each
    membership is kept twice, in this process's memory (a wildcard-free
    in-memory adapter, ``local``) and in Redis (``shared``, a
    :class:`RedisRoomsAdapter`).

    Why two: a room write must reach this node's members without asking
    Redis (it is never on the path of a local operation), so
    :meth:`members` answers from memory; each node delivers a room write to
    its own members that way.  The queries a user asks about the whole
    cluster (:meth:`clients`, :meth:`rooms_of`, :meth:`all_rooms`,
    :meth:`is_empty`) are answered by Redis, and fail fast while it is
    down.  A join or leave is done in memory at once and then in Redis;
    when Redis fails it is counted in ``cluster.stats["rooms_failed"]``
    and the operation still succeeds (local delivery goes on); the
    memberships are written to Redis again when the link comes back
    (:meth:`resync`).

    :param local: the in-memory adapter (``wildcard=False``: Redis room
        names are literal).
    :param shared: the Redis adapter.
    :param failed: called with the Failure of a Redis write.
    :param emptied: called with the rooms emptied here (``None`` for
        every room), so the cluster tells the other nodes to forget them
        too.
    """

    def __init__(self, local: Any, shared: RedisRoomsAdapter, failed: Any, emptied: Any) -> None:
        self.local = local
        self.shared = shared
        self._failed = failed
        self._emptied = emptied

    def _tolerant(self, d: Deferred[Any], value: Any = None) -> Deferred[Any]:
        def failed(failure: Any) -> Any:
            self._failed(failure)
            return value

        return d.addCallbacks(lambda _: value, failed)

    def add(self, spark_id: str, room: str) -> Deferred[None]:
        """
        Join in memory, then in Redis.
        """
        self.local.add_now(spark_id, room)
        return self._tolerant(self.shared.add(spark_id, room))

    def remove(self, spark_id: str, room: str) -> Deferred[None]:
        """
        Leave in memory, then in Redis.
        """
        self.local.remove_now(spark_id, room)
        return self._tolerant(self.shared.remove(spark_id, room))

    def remove_all(self, spark_id: str) -> Deferred[list[str]]:
        """
        Leave every room; fires with the rooms this node knew the spark in.
        """
        rooms = self.local.remove_all_now(spark_id)
        return self._tolerant(self.shared.remove_all(spark_id), rooms)

    def members(self, rooms: Sequence[str], excluding: frozenset[str]) -> Deferred[list[str]]:
        """
        This node's members of ``rooms`` (from memory, never from Redis).
        """
        return succeed(self.local.members_now(rooms, excluding))

    def rooms_of(self, spark_id: str) -> Deferred[list[str]]:
        """
        The rooms of the spark, wherever it is connected (Redis).
        """
        return self.shared.rooms_of(spark_id)

    def all_rooms(self) -> Deferred[list[str]]:
        """
        Every room with members on any node (Redis).
        """
        return self.shared.all_rooms()

    def clients(self, room: str) -> Deferred[list[str]]:
        """
        The members of the room on every node (Redis).
        """
        return self.shared.clients(room)

    def is_empty(self, room: str) -> Deferred[bool]:
        """
        Whether the room has no members on any node (Redis).
        """
        return self.shared.is_empty(room)

    def empty(self, rooms: Sequence[str]) -> Deferred[None]:
        """
        Empty the rooms here, in Redis, and (by a message) on the other
        nodes.
        """
        self.local.empty(list(rooms))
        self._emptied(list(rooms))
        return self.shared.empty(rooms)

    def clear(self) -> Deferred[None]:
        """
        Forget every room here, in Redis and on the other nodes.
        """
        self.local.clear()
        self._emptied(None)
        return self.shared.clear()

    def forget(self, rooms: Any) -> None:
        """
        Another node emptied ``rooms`` (every room when ``None``): forget
        them in memory (Redis has been done by that node).
        """
        if rooms is None:
            self.local.clear()
        else:
            self.local.empty(list(rooms))

    def resync(self) -> None:
        """
        Write every membership of this node to Redis again (after the link
        came back: joins made while it was down are only in memory).
        """
        for spark_id, rooms in list(self.local._sids.items()):
            for room in list(rooms):
                self._tolerant(self.shared.add(spark_id, room))

    def __repr__(self) -> str:
        return f"<ClusterRoomsAdapter {self.shared!r}>"
