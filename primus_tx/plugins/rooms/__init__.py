# -*- test-case-name: tests.plugins.test_rooms -*-
"""
The ``rooms`` plugin: server-side rooms with primus-rooms 3.4.3's API and
semantics (it has no wire format of its own: a room broadcast is an
ordinary write, or an emitter event with the ``emitter`` plugin).

::

    primus = Primus(site, plugin="emitter, rooms")

    def connection(spark):
        spark.join("news", "sport")          # Deferred
        spark.room("news").write("hi")       # the sender gets it too
        spark.room("news").excluding(spark).send("joined", spark.id)

    primus.room("news", "sport").write({"all": "both rooms"})  # each spark once
    primus.room("user:*")                    # a wildcard room

Room arguments are strings (split on single spaces, as primus-rooms does:
``"a b"`` is two rooms), numbers, or lists of them.  Calls that may cross
processes (with a shared adapter) return Deferreds even in memory.  A
spark leaves every room when it ends, and a join that completes after its
spark ended is undone, so no membership outlives its spark.

Events: ``joinroom(room)``, ``leaveroom(room)``, ``leaveallrooms(rooms)``
and ``roomserror(error)`` on the spark, and the same with the spark as an
extra last argument on the server; they are reserved, so the ``emit`` and
``emitter`` plugins never trigger them from the wire.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable, Optional

from twisted.internet.defer import Deferred, fail, gatherResults, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from primus_tx._errors import PrimusError
from primus_tx._transforms import Packet
from primus_tx.interfaces import IPrimusPlugin
from primus_tx.plugins import PluginBase, extend_spark
from primus_tx.plugins.rooms._adapter import IRoomsAdapter, MemoryAdapter, wildcard_pattern

__all__ = [
    "ROOM_EVENTS",
    "IRoomsAdapter",
    "MemoryAdapter",
    "RoomTarget",
    "RoomsError",
    "RoomsPlugin",
    "RoomsSpark",
    "plugin",
    "room_names",
    "wildcard_pattern",
]

log = Logger(namespace="primus_tx.plugins.rooms")

#: The events the plugin emits; reserved on sparks.
ROOM_EVENTS = frozenset(("joinroom", "leaveroom", "leaveallrooms", "roomserror"))

_OPEN = 3


class RoomsError(PrimusError):
    """
    A room operation failed (the spark is closed, the adapter failed).
    """


def room_names(rooms: Iterable[Any]) -> list[str]:
    """
    Room arguments as primus-rooms reads them: strings split on single
    spaces, numbers as their decimal text, lists element by element;
    duplicates and empty names dropped, order kept.

    :raises RoomsError: for any other kind of value.
    """
    names: dict[str, None] = {}

    def add(value: Any) -> None:
        if isinstance(value, str):
            for name in value.split(" "):
                if name:
                    names[name] = None
        elif isinstance(value, bool) or value is None:
            raise RoomsError(f"A room is a string or a number, not {value!r}")
        elif isinstance(value, int):
            names[str(value)] = None
        elif isinstance(value, float):
            names[str(int(value)) if value.is_integer() else repr(value)] = None
        elif isinstance(value, (list, tuple, set, frozenset)):
            for item in value:
                add(item)
        else:
            raise RoomsError(f"A room is a string or a number, not {value!r}")

    for room in rooms:
        add(room)
    return list(names)


def _ids(values: Iterable[Any]) -> frozenset[str]:
    ids: set[str] = set()
    for value in values:
        if isinstance(value, (list, tuple, set, frozenset)):
            ids |= _ids(value)
        elif isinstance(value, str):
            ids.update(v for v in value.split(" ") if v)
        else:
            spark_id = getattr(value, "id", None)
            if not isinstance(spark_id, str):
                raise RoomsError(f"Exclude sparks or spark ids, not {value!r}")
            ids.add(spark_id)
    return frozenset(ids)


class _Rooms:
    """
    One server's rooms: its adapter and the operations the spark mixin and
    the server's methods share.
    """

    def __init__(self, primus: Any, adapter: Any, default: bool = False) -> None:
        self.primus = primus
        self.adapter = adapter
        #: Whether the adapter is the plugin's own in-memory one.
        self.default = default
        #: The cluster (``primus.cluster``) room writes also go to.
        self.cluster: Any = None

    def use_cluster(self, cluster: Any) -> None:
        """
        Make room writes reach the members on every node of ``cluster``
        (the cluster plugin calls this, whichever of the two plugins was
        added first).  The default in-memory adapter is replaced by the
        cluster's (memberships in memory for delivery and in Redis for
        the cluster-wide queries); an adapter the user chose is kept.
        """
        self.cluster = cluster
        if self.default:
            self.adapter = cluster.shared_rooms(MemoryAdapter(wildcard=False))
            self.primus.rooms_adapter = self.adapter
        cluster.on_room(self._deliver_remote)

    def _deliver_remote(self, rooms: list[str], excluding: frozenset[str], data: Any) -> None:
        # A room write made on another node: to the members here, never
        # published again.
        connections = self.primus.connections

        def deliver(ids: list[str]) -> None:
            sparks = [connections[i] for i in ids if i in connections]
            if sparks:
                self.primus.write_to(sparks, data)

        self.adapter.members(rooms, excluding).addCallback(deliver).addErrback(
            lambda f: log.failure("delivering a room write of another node failed", f)
        )

    def _emits(self, spark: Any, event: str, value: Any) -> None:
        for emitter, args in ((spark, (value,)), (self.primus, (value, spark))):
            try:
                emitter.emit(event, *args)
            except Exception:
                log.failure("{event!r} listener raised", event=event)

    def _error(self, failure: Failure, spark: Any) -> Failure:
        error = failure.value
        if not isinstance(error, RoomsError):
            error = RoomsError(str(error))
            failure = Failure(error)
        self._emits(spark, "roomserror", error)
        return failure

    def join(self, spark: Any, rooms: list[str]) -> Deferred[None]:
        if self.primus.connections.get(spark.id) is not spark or spark.ready_state != _OPEN:
            error = RoomsError("Spark is closed")
            self._emits(spark, "roomserror", error)
            return fail(error)
        steps = [self._join_one(spark, room) for room in rooms]
        return _all(steps)

    def _join_one(self, spark: Any, room: str) -> Deferred[None]:
        def joined(_: Any) -> Any:
            if spark.ready_state != _OPEN:
                # The spark ended while the adapter worked: undo.
                return self.adapter.remove(spark.id, room).addCallback(_closed)
            self._emits(spark, "joinroom", room)
            return None

        return self.adapter.add(spark.id, room).addCallback(joined).addErrback(self._error, spark)

    def leave(self, spark: Any, rooms: list[str]) -> Deferred[None]:
        def left(_: Any, room: str) -> None:
            self._emits(spark, "leaveroom", room)

        return _all(
            [
                self.adapter.remove(spark.id, room)
                .addCallback(left, room)
                .addErrback(self._error, spark)
                for room in rooms
            ]
        )

    def leave_all(self, spark: Any) -> Deferred[list[str]]:
        def left(rooms: list[str]) -> list[str]:
            self._emits(spark, "leaveallrooms", rooms)
            return rooms

        return self.adapter.remove_all(spark.id).addCallback(left).addErrback(self._error, spark)


def _closed(_: Any) -> None:
    raise RoomsError("Spark is closed")


def _all(steps: list[Deferred[Any]]) -> Deferred[None]:
    if len(steps) == 1:
        return steps[0].addCallback(lambda _: None)
    d: Deferred[Any] = gatherResults(steps, consumeErrors=True)
    d.addCallbacks(lambda _: None, lambda f: f.value.subFailure)
    return d


class RoomTarget:
    """
    A broadcast to one or more rooms, built by ``primus.room(...)`` or
    ``spark.room(...)``; each builder method returns a new target, so a
    target can be kept and reused.
    """

    __slots__ = ("_excluding", "_spark", "_state", "_transform", "rooms")

    def __init__(
        self,
        state: _Rooms,
        rooms: list[str],
        excluding: frozenset[str] = frozenset(),
        spark: Any = None,
        transform: Optional[Callable[[Packet], Any]] = None,
    ) -> None:
        self._state = state
        #: The rooms, normalised.
        self.rooms = rooms
        self._excluding = excluding
        self._spark = spark
        self._transform = transform

    def room(self, *rooms: Any) -> RoomTarget:
        """
        Add rooms to the target.
        """
        return RoomTarget(
            self._state, room_names([self.rooms, rooms]), self._excluding, self._spark,
            self._transform,
        )

    def excluding(self, *sparks: Any) -> RoomTarget:
        """
        Leave these sparks (or spark ids) out of the broadcast
        (primus-rooms's ``except``).
        """
        return RoomTarget(
            self._state, self.rooms, self._excluding | _ids(sparks), self._spark, self._transform
        )

    def transform(self, fn: Callable[[Packet], Any]) -> RoomTarget:
        """
        Run ``fn(packet)`` for each recipient before it is written to:
        ``packet.data`` is a copy of the argument list (``[data]`` for
        ``write``, ``[event, *args]`` for ``send``) that ``fn`` may change,
        ``packet.spark`` the recipient; returning ``False`` skips it.  The
        message is then encoded per recipient.
        """
        return RoomTarget(self._state, self.rooms, self._excluding, self._spark, fn)

    def write(self, data: Any) -> Deferred[int]:
        """
        Write ``data`` to every member (once each, encoded once).

        :return: a Deferred firing with how many sparks it was written to.
        """
        return self._broadcast("write", (data,))

    def send(self, event: str, *args: Any) -> Deferred[int]:
        """
        Send an emitter event to every member (requires the ``emitter``
        plugin; acks are not supported when broadcasting).
        """
        if not hasattr(self._state.primus.Spark, "send"):
            raise RoomsError("room(...).send needs the emitter plugin")
        return self._broadcast("send", (event, *args))

    def clients(self) -> Deferred[list[str]]:
        """
        The ids of the members of the room (of every room, merged, when the
        target has several).
        """
        adapter = self._state.adapter
        if len(self.rooms) == 1:
            return adapter.clients(self.rooms[0])

        def merged(results: list[list[str]]) -> list[str]:
            return list(dict.fromkeys(i for ids in results for i in ids))

        return gatherResults([adapter.clients(r) for r in self.rooms], consumeErrors=True).addCallback(
            merged
        )

    def empty(self) -> Deferred[None]:
        """
        Remove every member from the target's rooms.
        """
        return self._state.adapter.empty(list(self.rooms))

    def _broadcast(self, method: str, args: tuple[Any, ...]) -> Deferred[int]:
        spark = self._spark
        if spark is not None and spark.ready_state != _OPEN:
            return succeed(0)  # primus-rooms ignores broadcasts of closed sparks
        found = self._state.adapter.members(self.rooms, self._excluding)
        return found.addCallback(self._deliver, method, args)

    def _deliver(self, ids: list[str], method: str, args: tuple[Any, ...]) -> int:
        primus = self._state.primus
        connections = primus.connections
        sparks = [connections[i] for i in ids if i in connections]
        if self._transform is None:
            if method == "write":
                data = args[0]
            else:
                from primus_tx.plugins.emitter import event_packet

                data = event_packet(args[0], args[1:])
            cluster = self._state.cluster
            if cluster is None:
                return int(primus.write_to(sparks, data))
            # Encoded once: for the members here and for the other nodes.
            publisher = cluster.room_publisher(self.rooms, self._excluding, data)
            open_sparks = [s for s in sparks if s.ready_state == _OPEN]
            return int(primus._write_all(open_sparks, data, publisher))
        # A transform is a function of this process: it runs for the
        # members here only (other nodes are not sent the write).
        count = 0
        for recipient in sparks:
            packet = Packet(copy.deepcopy(list(args)), None, recipient)
            try:
                if self._transform(packet) is False:
                    continue
                getattr(recipient, method)(*packet.data)
            except Exception as error:
                log.failure("room transform failed for {spark}", spark=recipient.id)
                recipient._report(error)
                continue
            count += 1
        return count


class RoomsSpark:
    """
    What the rooms plugin mixes into ``primus.Spark``.
    """

    _rooms_state: _Rooms

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        conn: Any = self
        conn.on("end", self._rooms_ended)

    def join(self, *rooms: Any) -> Deferred[None]:
        """
        Join the rooms; ``joinroom`` is emitted for each.  Fails with
        :class:`RoomsError` when the spark is closed.
        """
        return self._rooms_state.join(self, room_names(rooms))

    def leave(self, *rooms: Any) -> Deferred[None]:
        """
        Leave the rooms; ``leaveroom`` is emitted for each.
        """
        return self._rooms_state.leave(self, room_names(rooms))

    def leave_all(self) -> Deferred[list[str]]:
        """
        Leave every room; fires with (and ``leaveallrooms`` gets) the rooms
        that were left.
        """
        return self._rooms_state.leave_all(self)

    def rooms(self) -> Deferred[list[str]]:
        """
        The rooms this spark is in.
        """
        conn: Any = self
        return self._rooms_state.adapter.rooms_of(conn.id)

    def room(self, *rooms: Any) -> RoomTarget:
        """
        A broadcast to these rooms, from this spark: the spark receives it
        too when it is a member (exclude it with ``.excluding(spark)``), and
        nothing is sent once the spark has closed.
        """
        return RoomTarget(self._rooms_state, room_names(rooms), spark=self)

    def reserved(self, event: str) -> bool:
        """
        Primus's reserved events plus the rooms events.
        """
        return event in ROOM_EVENTS or bool(super().reserved(event))  # type: ignore[misc]

    def _rooms_ended(self) -> None:
        self._rooms_state.leave_all(self).addErrback(
            lambda f: log.failure("leaving the rooms of an ended spark failed", f)
        )


@implementer(IPrimusPlugin)
class RoomsPlugin(PluginBase):
    """
    The rooms plugin.  ``RoomsPlugin(adapter=..., wildcard=..., wild_delete=...)``
    configures one.

    :param adapter: an :class:`IRoomsAdapter`; default a new
        :class:`MemoryAdapter` per server.
    :param wildcard: for the default adapter: whether rooms containing
        ``*`` are patterns (default ``True``, as primus-rooms).
    :param wild_delete: for the default adapter: whether leaving a
        pattern leaves every matching room.
    """

    name = "rooms"
    #: Server only: primus-rooms has no client half.
    client: Any = None

    def __init__(
        self, adapter: Any = None, wildcard: bool = True, wild_delete: bool = False
    ) -> None:
        if adapter is not None and not IRoomsAdapter.providedBy(adapter):
            raise PrimusError(f"The rooms adapter {adapter!r} does not provide IRoomsAdapter")
        self.adapter = adapter
        self.wildcard = wildcard
        self.wild_delete = wild_delete

    def server(self, primus: Any, options: Any = None) -> None:
        """
        Give the server and its sparks the rooms API.
        """
        state = _Rooms(
            primus,
            self.adapter or MemoryAdapter(self.wildcard, self.wild_delete),
            default=self.adapter is None,
        )
        cls = extend_spark(primus, RoomsSpark)
        cls._rooms_state = state
        primus.rooms_adapter = state.adapter
        primus._rooms_state = state
        cluster = getattr(primus, "_cluster", None)
        if cluster is not None:
            # plugin="cluster, rooms": room writes and queries go cluster-wide.
            state.use_cluster(cluster)

        def room(*rooms: Any) -> RoomTarget:
            """
            A broadcast to these rooms.
            """
            return RoomTarget(state, room_names(rooms))

        def rooms(spark: Any = None) -> Deferred[list[str]]:
            """
            Every room with members, or the rooms of ``spark`` (a spark or
            an id).
            """
            if spark is None:
                return state.adapter.all_rooms()
            return state.adapter.rooms_of(getattr(spark, "id", spark))

        def empty(*names: Any) -> Deferred[None]:
            """
            Remove every member of these rooms; of every room when none is
            named.
            """
            listed = room_names(names)
            return state.adapter.clear() if not listed else state.adapter.empty(listed)

        def is_room_empty(name: Any) -> Deferred[bool]:
            """
            Whether the room has no members.
            """
            return state.adapter.is_empty(room_names([name])[0])

        def join(spark: Any, *names: Any) -> Deferred[None]:
            """
            Make ``spark`` (a spark or an id) join the rooms.
            """
            return state.join(_spark(primus, spark), room_names(names))

        def leave(spark: Any, *names: Any) -> Deferred[None]:
            """
            Make ``spark`` (a spark or an id) leave the rooms.
            """
            return state.leave(_spark(primus, spark), room_names(names))

        primus.room = room
        primus.rooms = rooms
        primus.empty = empty
        primus.is_room_empty = is_room_empty
        primus.join = join
        primus.leave = leave


def _spark(primus: Any, spark: Any) -> Any:
    if isinstance(spark, str):
        found = primus.connections.get(spark)
        if found is None:
            raise RoomsError(f"No spark {spark!r}")
        return found
    return spark


#: The plugin as found by name (``plugin="rooms"``).
plugin = RoomsPlugin()
