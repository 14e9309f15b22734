# -*- test-case-name: tests.cluster.test_cluster -*-
"""
The spark registry, in metroplex 1.0.2's Redis layout, so that Node Primus
nodes running metroplex and primus-tx nodes find each other's sparks.

With ``N`` the namespace followed by ``:`` (``metroplex:``) and ``A`` a
node's address (the URL its peers reach it at):

=====================  ======  ==============================================
``N servers``          SET     the addresses of the live nodes
``N A``                STRING  the node's alive key: the time of its last
                               refresh in milliseconds, expiring soon after
                               (see :class:`Registry`)
``N sparks``           HASH    spark id -> the address of its node
``N A:sparks``         SET     the spark ids on that node
=====================  ======  ==============================================

Differences from metroplex, all invisible to a metroplex peer:

* A node is judged dead when its alive key has expired, not by comparing
  its timestamp with our clock, so clock skew between machines never
  reaps a live node, and a Node peer's long interval is respected.
* The scripts delete in a loop instead of ``unpack``-ing every spark id
  (Redis's Lua refuses to unpack about 8,000 values), and only delete a
  spark's entry if it still names the node being removed.
* A node registers again, with all its sparks, after every reconnection to
  Redis, when it finds its own alive key gone (Redis restarted empty, or a
  peer reaped it during a partition), and after any registry write failed:
  the registry converges without a special recovery path.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from twisted.internet.defer import Deferred, gatherResults

from primus_tx.cluster._redis import RedisLink

__all__ = ["SCRIPTS", "Registry"]

# Every script takes the namespace (with its ':') as ARGV[1].
_ANNIHILATE_BODY = """
local function annihilate(ns, address)
  local set = ns .. address .. ':sparks'
  local sparks = redis.call('SMEMBERS', set)
  for i = 1, #sparks do
    if redis.call('HGET', ns .. 'sparks', sparks[i]) == address then
      redis.call('HDEL', ns .. 'sparks', sparks[i])
    end
  end
  redis.call('DEL', set)
  redis.call('SREM', ns .. 'servers', address)
  redis.call('DEL', ns .. address)
  return #sparks
end
"""

SCRIPTS: dict[str, str] = {
    # KEYS: -; ARGV: ns, address, interval ms, now ms.  Forget what an earlier
    # process at this address left, then announce the node.
    "register": _ANNIHILATE_BODY
    + """
local ns, address = ARGV[1], ARGV[2]
annihilate(ns, address)
redis.call('SADD', ns .. 'servers', address)
redis.call('PSETEX', ns .. address, ARGV[3], ARGV[4])
return 1
""",
    # ARGV: ns, address, interval ms, now ms.  Refresh our alive key, then
    # reap every node whose alive key has expired.  Returns [ours existed,
    # nodes reaped].
    "heartbeat": _ANNIHILATE_BODY
    + """
local ns, address = ARGV[1], ARGV[2]
local existed = redis.call('EXISTS', ns .. address)
redis.call('PSETEX', ns .. address, ARGV[3], ARGV[4])
redis.call('SADD', ns .. 'servers', address)
local reaped = 0
local servers = redis.call('SMEMBERS', ns .. 'servers')
for i = 1, #servers do
  if servers[i] ~= address and redis.call('EXISTS', ns .. servers[i]) == 0 then
    annihilate(ns, servers[i])
    reaped = reaped + 1
  end
end
return {existed, reaped}
""",
    # ARGV: ns, address, spark ids...
    "add": """
local ns, address = ARGV[1], ARGV[2]
for i = 3, #ARGV do
  redis.call('HSET', ns .. 'sparks', ARGV[i], address)
  redis.call('SADD', ns .. address .. ':sparks', ARGV[i])
end
return #ARGV - 2
""",
    # ARGV: ns, address, spark ids...
    "remove": """
local ns, address = ARGV[1], ARGV[2]
for i = 3, #ARGV do
  if redis.call('HGET', ns .. 'sparks', ARGV[i]) == address then
    redis.call('HDEL', ns .. 'sparks', ARGV[i])
  end
  redis.call('SREM', ns .. address .. ':sparks', ARGV[i])
end
return #ARGV - 2
""",
    # ARGV: ns, address.
    "annihilate": _ANNIHILATE_BODY
    + """
return annihilate(ARGV[1], ARGV[2])
""",
}

#: Spark ids per script call when a node registers all its sparks again.
CHUNK = 500


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class Registry:
    """
    The registry operations of one node, over a command link.

    :param link: the node's command link (loaded with :data:`SCRIPTS`).
    :param namespace: the key prefix without its ``:`` (``metroplex``).
    :param interval: seconds within which a dead node is reaped: its alive
        key lives two thirds of it, refreshed every third (one missed
        refresh is survived), and every node looks for dead peers every
        third, so a node that dies is gone from the registry at most
        ``interval`` seconds later.
    """

    def __init__(self, link: RedisLink, namespace: str, interval: float, reactor: Any) -> None:
        self._link = link
        self.ns = namespace + ":"
        self.interval_ms = max(1, int(interval * 1000 * 2 / 3))
        self._reactor = reactor

    def _now_ms(self) -> int:
        return int(self._reactor.seconds() * 1000)

    def register(self, address: str, sparks: Sequence[str]) -> Deferred[Any]:
        """
        Announce ``address`` with exactly these sparks.
        """
        calls = [
            self._link.script("register", [], [self.ns, address, self.interval_ms, self._now_ms()])
        ]
        ids = list(sparks)
        for start in range(0, len(ids), CHUNK):
            calls.append(self.add(address, ids[start : start + CHUNK]))
        return gatherResults(calls, consumeErrors=True)

    def heartbeat(self, address: str) -> Deferred[tuple[bool, int]]:
        """
        Refresh our alive key and reap dead nodes.

        :return: a Deferred firing with (whether our alive key still
            existed, how many nodes were reaped).
        """
        d = self._link.script("heartbeat", [], [self.ns, address, self.interval_ms, self._now_ms()])
        return d.addCallback(lambda reply: (bool(reply[0]), int(reply[1])))

    def add(self, address: str, ids: Sequence[str]) -> Deferred[Any]:
        return self._link.script("add", [], [self.ns, address, *ids])

    def remove(self, address: str, ids: Sequence[str]) -> Deferred[Any]:
        return self._link.script("remove", [], [self.ns, address, *ids])

    def unregister(self, address: str) -> Deferred[Any]:
        return self._link.script("annihilate", [], [self.ns, address])

    def servers(self) -> Deferred[list[str]]:
        """
        Every registered node's address.
        """
        d = self._link.call("SMEMBERS", self.ns + "servers")
        return d.addCallback(lambda members: sorted(_text(m) or "" for m in members))

    def spark(self, id: str) -> Deferred[Optional[str]]:
        """
        The address of the node holding spark ``id``, or ``None``.
        """
        return self._link.call("HGET", self.ns + "sparks", id).addCallback(_text)

    def sparks(self, ids: Sequence[str]) -> Deferred[list[Optional[str]]]:
        """
        The node addresses of these sparks, in order (``None`` if unknown).
        """
        if not ids:
            from twisted.internet.defer import succeed

            return succeed([])
        d = self._link.call("HMGET", self.ns + "sparks", *ids)
        return d.addCallback(lambda values: [_text(v) for v in values])

    def count(self) -> Deferred[int]:
        """
        How many sparks are registered on every node together.
        """
        return self._link.call("HLEN", self.ns + "sparks").addCallback(int)
