# -*- test-case-name: tests.cluster.test_cluster -*-
"""
The ``cluster`` plugin: several primus-tx (and Node Primus) nodes behind
one Redis act as one server.

* ``primus.write(data)`` reaches the sparks of every primus-tx node: the
  message is encoded once by the writing node, published once on a Redis
  channel, and every other node frames it once for all its sparks.
* ``primus.forward.spark(id, msg)``, ``.sparks(ids, msg)`` and
  ``.broadcast(msg)`` write to sparks wherever they are, with
  metroplex + omega-supreme's semantics and answers (``{"ok": True,
  "send": N}``): the spark registry in Redis says which node holds a spark,
  and that node's omega-supreme ingress is asked over HTTP, so Node nodes
  with metroplex and omega-supreme take part.
* ``primus.cluster.count()`` and ``.servers()`` ask the registry about the
  whole cluster.

Redis is never on the path of a local operation: a new connection is
registered without waiting, local sparks are written before anything is
asked of Redis, and every Redis call is bounded (see
:mod:`primus_tx.cluster._redis`).
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Iterable, Optional, Sequence

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from primus_tx._errors import PrimusError
from primus_tx._json import dumps_compact
from primus_tx.cluster._forward import Forward
from primus_tx.cluster._omega import ForwardError, OmegaClient, omega_layer
from primus_tx.cluster._options import address_of_ports, check_cluster_options
from primus_tx.cluster._redis import RedisLink, RedisUnavailable
from primus_tx.cluster._registry import SCRIPTS, Registry
from primus_tx.cluster._rooms import ROOM_SCRIPTS, ClusterRoomsAdapter, RedisRoomsAdapter

__all__ = ["Cluster", "ClusterPlugin", "deliver_encoded", "plugin"]

#: The first field of a primus-tx envelope on the broadcast channel.
_ENVELOPE = b"ptx1"


class Cluster:
    """
    The cluster state of one Primus server: ``primus.cluster``.

    :ivar node_id: this process's id in broadcast envelopes.
    :ivar address: the URL peers reach this node's ingress at.
    :ivar stats: counters: ``published``, ``publish_failed``, ``received``,
        ``forward_failed``, ``registry_failed``, ``registrations``,
        ``reaped``, ``rooms_failed`` (room memberships Redis did not take).
    """

    log = Logger()

    def __init__(self, primus: Any, options: dict[str, Any]) -> None:
        self.primus = primus
        self.options = options
        self._reactor = primus.reactor
        self.node_id = os.urandom(8).hex().encode("ascii")
        self._address: Optional[str] = options["address"]
        self._channel = options["channel"].encode("utf-8")
        self._compatible = options["mode"] == "primus-cluster"
        self._room_delivery: Optional[Callable[[list[str], frozenset[str], Any], Any]] = None
        self._shared_rooms: Optional[ClusterRoomsAdapter] = None
        self.stats: dict[str, int] = {
            "published": 0,
            "publish_failed": 0,
            "received": 0,
            "forward_failed": 0,
            "registry_failed": 0,
            "registrations": 0,
            "reaped": 0,
            "rooms_failed": 0,
        }
        self._dirty = True
        self._registering = False
        self._heartbeat: Optional[IDelayedCall] = None
        self._stopped = False
        self._outage_reported = False
        self.commands = RedisLink(
            options["redis"],
            self._reactor,
            timeout=options["timeout"],
            max_in_flight=options["max_in_flight"],
            on_ready=self._commands_ready,
            scripts={**SCRIPTS, **ROOM_SCRIPTS},
            probe_interval=options["probe_interval"],
            name="cluster commands",
        )
        self.subscriber = RedisLink(
            options["redis"],
            self._reactor,
            timeout=options["timeout"],
            channels=[options["channel"]],
            on_message=self._received,
            probe_interval=options["probe_interval"],
            name="cluster subscriber",
        )
        self.registry = Registry(self.commands, options["namespace"], options["interval"], self._reactor)
        self.omega = OmegaClient(
            self._reactor,
            {
                "username": options["username"],
                "password": options["password"],
                "method": options["method"],
                "path": options["url"],
                "concurrently": options["concurrently"],
                "timeout": options["forward_timeout"],
                "max_waiting": options["max_in_flight"],
            },
        )

    # -- life -------------------------------------------------------------------

    @property
    def address(self) -> Optional[str]:
        """
        This node's address: the ``address`` option, else
        ``http://<ip>:<port>`` of the first port Primus listens on.
        """
        if self._address is None:
            self._address = address_of_ports(self.primus)
        return self._address

    def start(self) -> None:
        """
        Connect to Redis (in the background: nothing waits for it) and start
        the heartbeat that keeps this node registered and reaps dead ones.
        """
        self.commands.start()
        self.subscriber.start()
        self._schedule_heartbeat()

    def stop(self) -> Deferred[None]:
        """
        Leave the registry (bounded by the timeout) and close the links.
        """
        if self._stopped:
            return succeed(None)
        self._stopped = True
        if self._heartbeat is not None and self._heartbeat.active():
            self._heartbeat.cancel()
        self._heartbeat = None
        address = self.address
        leaving: Deferred[Any] = (
            self.registry.unregister(address) if address and self.commands.up else succeed(None)
        )

        def close(_: Any) -> Deferred[Any]:
            return gatherResults(
                [self.commands.stop(), self.subscriber.stop(), self.omega.close()],
                consumeErrors=True,
            )

        return leaving.addErrback(lambda _: None).addCallback(close).addCallback(lambda _: None)

    # -- registry ---------------------------------------------------------------

    def _commands_ready(self) -> None:
        self._outage_reported = False
        self._dirty = True
        self._register()
        if self._shared_rooms is not None:
            self._shared_rooms.resync()

    def _register(self) -> None:
        address = self.address
        if address is None or self._registering or self._stopped:
            return
        self._registering = True
        self._dirty = False
        sparks = list(self.primus.connections)

        def done(_: Any) -> None:
            self._registering = False
            self.stats["registrations"] += 1

        def failed(failure: Failure) -> None:
            self._registering = False
            self._dirty = True
            self._registry_failed(failure)

        self.registry.register(address, sparks).addCallbacks(done, failed)

    def _registry_failed(self, failure: Failure) -> None:
        self.stats["registry_failed"] += 1
        self._dirty = True
        self._report(failure)

    def _schedule_heartbeat(self) -> None:
        period = max(0.05, self.options["interval"] / 3.0)
        self._heartbeat = self._reactor.callLater(period, self._beat)

    def _beat(self) -> None:
        self._heartbeat = None
        if self._stopped:
            return
        self._schedule_heartbeat()
        address = self.address
        if address is None or not self.commands.up:
            return
        if self._dirty:
            self._register()
            return

        def beaten(result: tuple[bool, int]) -> None:
            existed, reaped = result
            self.stats["reaped"] += reaped
            if not existed:
                # Redis lost our registration (an empty restart) or a peer
                # reaped us while we could not reach Redis: register again.
                self._dirty = True
                self._register()

        self.registry.heartbeat(address).addCallbacks(beaten, self._registry_failed)

    def _connected(self, spark: Any) -> None:
        address = self.address
        if address is not None and not self._dirty:
            self.registry.add(address, [spark.id]).addErrback(self._registry_failed)

    def _disconnected(self, spark: Any) -> None:
        address = self.address
        if address is not None and not self._dirty:
            self.registry.remove(address, [spark.id]).addErrback(self._registry_failed)

    # -- broadcast --------------------------------------------------------------

    def publish(self, message: Any) -> None:
        """
        Send one encoded broadcast to the other nodes (never waits).
        """
        envelope: Optional[bytes]
        if self._compatible:
            envelope = self._primus_cluster_envelope(message)
            if envelope is None:
                return
        else:
            if isinstance(message, str):
                payload = b"t" + message.encode("utf-8")
            else:
                payload = b"b" + bytes(message)
            envelope = b"%s|%s|%s" % (_ENVELOPE, self.node_id, payload)
        self._send(envelope)

    def _send(self, envelope: bytes) -> None:
        self.commands.call("PUBLISH", self._channel, envelope).addCallbacks(
            self._published, self._publish_failed
        )

    def publish_data(self, data: Any) -> None:
        """
        Encode ``data`` with the server's parser and :meth:`publish` it.
        """
        try:
            message = self.primus.parser.encode(data)
        except Exception:
            return
        if message:
            self.publish(message)

    def _published(self, receivers: Any) -> None:
        self.stats["published"] += 1

    def _publish_failed(self, failure: Failure) -> None:
        self.stats["publish_failed"] += 1
        self._report(failure)

    # primus-cluster 2.0.0's envelope: the Primus parser's encoding of
    # {"id": node id, "data": [arguments], "type": "primus", "opts":
    # {"method": "write"}}; Node nodes' ids are random floats, ours a string.

    def _primus_cluster_envelope(self, message: Any) -> Optional[bytes]:
        primus = self.primus
        if getattr(primus.parser, "name", None) == "json" and isinstance(message, str):
            # The JSON text of the message is spliced in, not encoded again.
            node = self.node_id.decode("ascii")
            return (
                f'{{"id":"{node}","data":[{message}],"type":"primus","opts":{{"method":"write"}}}}'
            ).encode()
        try:
            data = primus.parser.decode(message)
            encoded = primus.parser.encode(
                {"id": self.node_id.decode("ascii"), "data": [data], "type": "primus",
                 "opts": {"method": "write"}}
            )  # fmt: skip
        except Exception:
            return None
        return encoded.encode("utf-8") if isinstance(encoded, str) else bytes(encoded)

    def _received_primus_cluster(self, envelope: bytes) -> None:
        primus = self.primus
        try:
            message = primus.parser.decode(envelope if primus.parser.binary else envelope.decode("utf-8"))
        except Exception:
            return
        if not isinstance(message, dict) or not message.get("type"):
            return
        if message.get("id") == self.node_id.decode("ascii"):
            return
        opts = message.get("opts")
        data = message.get("data")
        if message["type"] not in ("primus", "room") or not isinstance(opts, dict):
            return
        if not isinstance(data, list) or not data:
            return
        method = opts.get("method")
        if method == "write":
            value = data[0]
        elif method == "send" and isinstance(data[0], str):
            # primus.send(event, ...args) of the emitter plugin: every node
            # builds primus-emitter's event packet itself.
            value = {"type": 0, "data": data}
        else:
            return
        self.stats["received"] += 1
        if message["type"] == "room":
            rooms, excluding = opts.get("rooms"), opts.get("except") or []
            if isinstance(rooms, list) and isinstance(excluding, list):
                self._deliver_room(rooms, excluding, value)
            return
        try:
            encoded = primus.parser.encode(value)
        except Exception:
            return
        if encoded:
            deliver_encoded(primus, encoded)

    def _received(self, channel: bytes, envelope: bytes) -> None:
        if self._compatible:
            self._received_primus_cluster(envelope)
            return
        parts = envelope.split(b"|", 2)
        if len(parts) != 3 or parts[0] != _ENVELOPE or parts[1] == self.node_id:
            return
        payload = parts[2]
        self.stats["received"] += 1
        if payload[:1] == b"r":
            self._received_room(payload[1:])
            return
        if payload[:1] == b"e":
            self._received_emptied(payload[1:])
            return
        message: Any = payload[1:].decode("utf-8") if payload[:1] == b"t" else payload[1:]
        deliver_encoded(self.primus, message)

    # -- room writes ------------------------------------------------------------

    def on_room(self, deliver: Callable[[list[str], frozenset[str], Any], Any]) -> None:
        """
        Have room writes made on other nodes delivered here by
        ``deliver(rooms, excluding, data)`` (the rooms plugin writes ``data``
        to its local members of ``rooms`` except the spark ids in
        ``excluding``).
        """
        self._room_delivery = deliver

    def publish_room(
        self, rooms: Sequence[str], excluding: Iterable[str], data: Any, message: Any = None
    ) -> None:
        """
        Send a room write to the other nodes (never waits): each delivers
        ``data`` to its own members of ``rooms`` through the function given
        to :meth:`on_room`.  The writing node delivers to its own members
        itself.

        :param message: ``data`` already encoded by the server's parser,
            when the caller has it (so it is not encoded twice).
        """
        rooms, except_ = [str(r) for r in rooms], sorted(str(i) for i in excluding)
        parser = self.primus.parser
        try:
            if self._compatible:
                encoded = parser.encode(
                    {"id": self.node_id.decode("ascii"), "data": [data], "type": "room",
                     "opts": {"except": except_, "method": "write", "rooms": rooms,
                              "transformer": None}}
                )  # fmt: skip
                envelope = encoded.encode("utf-8") if isinstance(encoded, str) else encoded
            else:
                if message is None:
                    message = parser.encode(data)
                head = dumps_compact({"r": rooms, "x": except_}).encode("utf-8")
                body = b"t" + message.encode("utf-8") if isinstance(message, str) else b"b" + message
                envelope = b"%s|%s|r%s\n%s" % (_ENVELOPE, self.node_id, head, body)
        except Exception as error:
            self.primus._log_error(error)
            return
        self._send(envelope)

    def _received_room(self, payload: bytes) -> None:
        head, _, body = payload.partition(b"\n")
        try:
            header = json.loads(head)
            message: Any = body[1:].decode("utf-8") if body[:1] == b"t" else body[1:]
            data = self.primus.parser.decode(message)
        except Exception:
            return
        self._deliver_room(header.get("r") or [], header.get("x") or [], data)

    def room_publisher(self, rooms: Sequence[str], excluding: Iterable[str], data: Any) -> Any:
        """
        What a room write hands to the server's broadcast path in place of
        the cluster (it has ``publish(message)`` and ``publish_data(data)``),
        so the message encoded for this node's members is the one published.
        """
        return _RoomPublisher(self, rooms, excluding, data)

    def shared_rooms(self, local: Any) -> ClusterRoomsAdapter:
        """
        The rooms plugin's adapter on a cluster node (see
        :class:`~primus_tx.cluster._rooms.ClusterRoomsAdapter`): memberships
        in ``local`` (an in-memory adapter without wildcards) for delivery
        and in Redis for the cluster-wide queries.
        """
        adapter = ClusterRoomsAdapter(local, self.rooms_adapter(), self._rooms_failed, self._emptied)
        self._shared_rooms = adapter
        return adapter

    def _rooms_failed(self, failure: Failure) -> None:
        self.stats["rooms_failed"] += 1
        self._report(failure)

    def _emptied(self, rooms: Optional[list[str]]) -> None:
        # Other primus-tx nodes keep their members in memory: tell them.
        # (primus-cluster nodes read membership from Redis, emptied by us.)
        if self._compatible:
            return
        head = dumps_compact(rooms).encode("utf-8")
        self._send(b"%s|%s|e%s" % (_ENVELOPE, self.node_id, head))

    def _received_emptied(self, payload: bytes) -> None:
        try:
            rooms = json.loads(payload)
        except ValueError:
            return
        if self._shared_rooms is not None and (rooms is None or isinstance(rooms, list)):
            self._shared_rooms.forget(None if rooms is None else [str(r) for r in rooms])

    def _deliver_room(self, rooms: list[Any], excluding: list[Any], data: Any) -> None:
        deliver = self._room_delivery
        if deliver is None:
            return
        try:
            deliver([str(r) for r in rooms], frozenset(str(i) for i in excluding), data)
        except Exception:
            self.log.failure("cluster: delivering a room write failed")

    # -- forwards ---------------------------------------------------------------

    def _put_all(
        self, targets: list[tuple[str, Any]], msg: Any, sent: int
    ) -> Deferred[dict[str, Any]]:
        calls = [self.omega.put(address, msg, sparks) for address, sparks in targets]
        d = gatherResults(calls, consumeErrors=True)

        def summed(answers: list[dict[str, Any]]) -> dict[str, Any]:
            total = sent
            for answer in answers:
                value = answer.get("send") or 0
                total += value if isinstance(value, int) else 0
            return {"ok": True, "send": total}

        def failed(failure: Failure) -> Failure:
            error = getattr(failure.value, "subFailure", failure).value
            if not isinstance(error, ForwardError):
                error = ForwardError(str(error))
            error.result = {"ok": False, "send": sent}
            return Failure(error)

        return d.addCallbacks(summed, failed)

    def _forward_failed(self, failure: Failure, sent: int) -> Failure:
        self.stats["forward_failed"] += 1
        self._report(failure)
        error = failure.value
        if isinstance(error, ForwardError):
            error.result = {"ok": False, "send": max(sent, error.result.get("send", 0))}
            return failure
        wrapped = ForwardError(f"Forwarding failed: {error}", {"ok": False, "send": sent})
        wrapped.__cause__ = error
        return Failure(wrapped)

    def _report(self, failure: Failure) -> None:
        """
        Log a cross-node failure: every one is counted, and an outage of
        Redis is logged once (then again after Redis came back).
        """
        if failure.check(RedisUnavailable):
            if self._outage_reported:
                return
            self._outage_reported = True
        self.log.warn(
            "cluster: {error} (local delivery goes on)",
            error=failure.getErrorMessage() or getattr(failure.type, "__name__", "error"),
        )

    # -- queries ----------------------------------------------------------------

    def count(self) -> Deferred[int]:
        """
        How many sparks are connected to every node together (from the
        registry).
        """
        return self.registry.count()

    def servers(self) -> Deferred[list[str]]:
        """
        The addresses of every registered node, this one included.
        """
        return self.registry.servers()

    def rooms_adapter(self) -> RedisRoomsAdapter:
        """
        Room membership kept in Redis, in primus-cluster 2.0.0's layout
        (``prefix`` and ``ttl`` options), over this node's bounded link: a
        rooms adapter whose ``clients(room)``, ``rooms_of(id)`` and
        ``all_rooms()`` answer for every node.
        """
        return RedisRoomsAdapter(
            self.commands, self._reactor, self.options["prefix"], self.options["ttl"]
        )

    def locate(self, id: str) -> Deferred[Optional[str]]:
        """
        The address of the node holding spark ``id``, or ``None``.
        """
        if self.primus.spark(id) is not None:
            return succeed(self.address)
        return self.registry.spark(id)


class _RoomPublisher:
    """
    A room write's stand-in for the cluster in ``Primus._write_all``.
    """

    __slots__ = ("cluster", "data", "excluding", "rooms")

    def __init__(self, cluster: Cluster, rooms: Sequence[str], excluding: Iterable[str], data: Any):
        self.cluster = cluster
        self.rooms = rooms
        self.excluding = excluding
        self.data = data

    def publish(self, message: Any) -> None:
        self.cluster.publish_room(self.rooms, self.excluding, self.data, message)

    def publish_data(self, data: Any) -> None:
        self.cluster.publish_room(self.rooms, self.excluding, data)


def deliver_encoded(primus: Any, message: Any) -> int:
    """
    Write an already encoded broadcast to every local spark: framed once
    for all of them, unless outgoing transforms must see each write; a
    slow spark is treated as by a local broadcast (``max_buffered``).

    :return: how many sparks it was written to.
    """
    from primus_tx.spark import Spark

    sparks = [s for s in list(primus.connections.values()) if s.ready_state == Spark.OPEN]
    if not sparks:
        return 0
    if primus._outgoing:
        try:
            data = primus.parser.decode(message)
        except Exception:
            return 0
        for spark in sparks:
            spark.write(data)
        return len(sparks)
    server = primus._server
    if server is None:
        return 0
    prepared = server.prepare(message)
    size = len(message)
    written = 0
    for spark in sparks:
        # As for a local broadcast: a spark whose transport is behind may
        # not take it (the server's max_buffered).
        if spark._writing_paused and spark._over_cap(size):
            continue
        written += 1
        spark._connection.sendPrepared(prepared)
    return written


class ClusterPlugin:
    """
    The ``cluster`` plugin (see :doc:`/scaling`): add it with
    ``Primus(site, plugin="cluster", cluster={"redis": ..., "password": ...})``
    or ``primus.plugin("cluster", plugin)``.
    """

    name = "cluster"
    client = None
    library = None

    def server(self, primus: Any, options: dict[str, Any]) -> None:
        """
        Make ``primus`` one node of the cluster its ``cluster`` option
        describes: ``primus.cluster``, ``primus.forward``, the
        ``omega-supreme`` middleware layer (before ``authorization``, so
        Primus's authorization does not apply to it, as with omega-supreme),
        and the registry kept up to date from ``connection`` and
        ``disconnection``; ``close`` leaves the cluster.

        :raises PrimusError: for bad options (see :data:`OPTIONS`).
        """
        settings = check_cluster_options(options.get("cluster"), primus.pathname)
        if getattr(primus, "_cluster", None) is not None:
            raise PrimusError("The cluster plugin is already added to this server")
        cluster = Cluster(primus, settings)
        primus.cluster = cluster
        primus.forward = Forward(cluster)
        primus.use(
            "omega-supreme",
            omega_layer,
            {
                "username": settings["username"],
                "password": settings["password"],
                "method": settings["method"],
                "url": settings["url"],
            },
            primus.index_of_layer("authorization"),
        )
        primus.on("connection", cluster._connected)
        primus.on("disconnection", cluster._disconnected)
        primus.on("close", lambda *_: cluster.stop())
        primus._cluster = cluster
        rooms = getattr(primus, "_rooms_state", None)
        if rooms is not None:
            # plugin="rooms, cluster": room writes and queries go cluster-wide.
            rooms.use_cluster(cluster)
        cluster.start()


#: The plugin object (``plugin={"cluster": plugin}``).
plugin = ClusterPlugin()
