"""
Three primus-tx processes (``twistd primus --redis``), one per transformer
(WebSocket, Engine.IO, SockJS), two clients on each, and a real
redis-server that is killed, restarted empty, and frozen.

Every broadcast carries ``(publisher, seq)``; the accounting is exact and
matches what docs/scaling.rst promises:

* Redis up: every client receives every broadcast, once, in each
  publisher's order.
* Redis killed: the clients of the publishing node receive its broadcasts;
  the other nodes' clients receive none of them (lost, as documented).
* Redis frozen (SIGSTOP): local clients receive everything; remote clients
  receive a subset, each at most once and in order (at-most-once: a publish
  that timed out may still be delivered once Redis runs again).
* After Redis is back (restarted empty, or thawed), every node registers
  again with all its sparks, and everything is delivered everywhere again.
* A node killed with SIGKILL is reaped by the others: its sparks leave the
  registry, and a forward to one of them counts 0.

With ``--plugin rooms`` room writes get the same accounting (see
:func:`test_three_processes_room_writes`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater

from primus_tx.client import Socket
from tests.cluster.helpers import PASSWORD, Client, until
from tests.cluster.redis_server import free_port

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]
TRANSFORMERS = ("websockets", "engine.io", "sockjs")


class _Output(ProcessProtocol):
    def __init__(self) -> None:
        self.output = b""
        self.ended = False

    def outReceived(self, data: bytes) -> None:
        self.output += data

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        self.ended = True


class NodeProcess:
    def __init__(
        self, reactor: Any, redis_url: str, transformer: str, extra: tuple[str, ...] = ()
    ) -> None:
        self.port = free_port()
        self.transformer = transformer
        self.url = f"http://127.0.0.1:{self.port}"
        self.out = _Output()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        env["PRIMUS_CLUSTER_PASSWORD"] = PASSWORD
        self.process = reactor.spawnProcess(
            self.out,
            sys.executable,
            [
                sys.executable, "-c",
                "import sys; sys.argv[0] = 'twistd'; from twisted.scripts.twistd import run; run()",
                "--nodaemon", "--pidfile=", "primus",
                "--listen", f"tcp:{self.port}:interface=127.0.0.1",
                "--transformer", transformer, "--ping-interval", "0",
                "--redis", redis_url, "--app", "tests.cluster.node_app:setup", *extra,
            ],
            env=env,
            path=str(ROOT),
        )  # fmt: skip

    def stop(self) -> None:
        try:
            self.process.signalProcess("KILL")
        except ProcessExitedAlready:
            pass


async def _spec_ok(url: str) -> bool:
    try:
        response = await treq.get(url + "/primus/spec")
        await treq.content(response)
        return bool(response.code == 200)
    except Exception:
        return False


async def _wait_up(reactor: Any, node: NodeProcess) -> None:
    for _ in range(200):
        if node.out.ended:
            raise AssertionError(node.out.output.decode(errors="replace")[-3000:])
        if await _spec_ok(node.url):
            return
        await deferLater(reactor, 0.1, lambda: None)
    raise AssertionError(f"node did not start:\n{node.out.output.decode(errors='replace')}")


async def _connect_pairs(reactor: Any, nodes: list[NodeProcess], clients: list[list[Client]]) -> None:
    """
    Wait for the nodes to start, then connect two clients to each (into
    ``clients``, which the caller closes).
    """
    for node in nodes:
        await _wait_up(reactor, node)
    for node in nodes:
        pair: list[Client] = []
        clients.append(pair)
        for _ in range(2):
            socket = await Socket.connect(node.url, reactor=reactor, transformer=node.transformer)
            client = Client(socket)
            pair.append(client)
            client.id = await socket.id()


async def _stop_all(reactor: Any, nodes: list[NodeProcess], clients: list[list[Client]]) -> None:
    for pair in clients:
        for client in pair:
            client.socket.destroy()
    for node in nodes:
        node.stop()
    await until(reactor, lambda: all(n.out.ended for n in nodes), 10)


def _numsub(redis_server: Any) -> int:
    try:
        lines = redis_server.cli("PUBSUB", "NUMSUB", "metroplex:primus-tx:broadcast")
        return int(lines[1])
    except Exception:
        return -1


def _sparks(redis_server: Any) -> set[str]:
    try:
        return set(redis_server.cli("HKEYS", "metroplex:sparks"))
    except Exception:
        return set()


async def _local_complete(
    reactor: Any, clients: list[list[Client]], sent: dict[int, list[int]], timeout: float
) -> None:
    """
    Wait until every client has every broadcast its own node published.
    """
    for p, pair in enumerate(clients):
        for client in pair:
            await until(reactor, lambda c=client, p=p: _seqs(c, p) == sent[p], timeout)


async def _registered(reactor: Any, redis_server: Any, ids: set[str]) -> None:
    """
    Wait until every spark is registered and the three nodes subscribed.
    """
    await until(reactor, lambda: _sparks(redis_server) == ids and _numsub(redis_server) == 3, 20)


def _pairs(clients: list[list[Client]]) -> list[tuple[int, int, Client]]:
    """
    (publisher, the client's node, client) for every publisher and client.
    """
    return [(p, q, c) for p in range(3) for q, pair in enumerate(clients) for c in pair]


def _seqs(client: Client, publisher: int) -> list[int]:
    return [m["seq"] for m in client.received if isinstance(m, dict) and m.get("p") == publisher]


@pytest_twisted.ensureDeferred
async def test_three_processes_exact_accounting(reactor: Any, redis_server: Any) -> None:
    nodes = [NodeProcess(reactor, redis_server.url, t) for t in TRANSFORMERS]
    clients: list[list[Client]] = []
    try:
        await _connect_pairs(reactor, nodes, clients)
        everyone = [c for pair in clients for c in pair]
        ids = {c.id for c in everyone}
        await _registered(reactor, redis_server, ids)

        sent: dict[int, list[int]] = {0: [], 1: [], 2: []}

        def publish(seqs: range) -> None:
            for seq in seqs:
                for p, pair in enumerate(clients):
                    pair[0].socket.write({"broadcast": {"p": p, "seq": seq}})
                    sent[p].append(seq)

        # Redis up: nothing is lost.
        publish(range(0, 10))
        await until(
            reactor, lambda: all(_seqs(c, p) == sent[p] for c in everyone for p in range(3)), 20
        )

        # Redis killed: local delivery only.
        redis_server.kill()
        publish(range(10, 15))
        await _local_complete(reactor, clients, sent, 10)

        # Restarted empty: nodes register again and resubscribe.
        redis_server.start()
        await _registered(reactor, redis_server, ids)
        publish(range(15, 25))
        lost = list(range(10, 15))
        for p, q, client in _pairs(clients):
            want = sent[p] if q == p else [s for s in sent[p] if s not in lost]
            await until(reactor, lambda c=client, p=p, w=want: _seqs(c, p) == w, 20)

        # Frozen: local delivery within 5 s; remote at most once, in order.
        before = {id(c): {p: len(_seqs(c, p)) for p in range(3)} for c in everyone}
        redis_server.freeze()
        publish(range(25, 30))
        await _local_complete(reactor, clients, sent, 5)
        redis_server.thaw()
        await _registered(reactor, redis_server, ids)
        publish(range(30, 35))
        for p, q, client in _pairs(clients):
            await until(reactor, lambda c=client, p=p: _seqs(c, p)[-5:] == list(range(30, 35)), 20)
            got = _seqs(client, p)
            frozen = got[before[id(client)][p] : len(got) - 5]
            assert len(got) == len(set(got)) and got == sorted(got)
            if q == p:
                assert frozen == [25, 26, 27, 28, 29]
            else:
                assert set(frozen) <= {25, 26, 27, 28, 29}

        # A forward from one process to a spark of another.
        target = clients[2][1]
        clients[0][0].socket.write({"forward": "hello", "to": target.id})
        await until(reactor, lambda: "hello" in target.received, 10)
        await until(reactor, lambda: {"forwarded": {"ok": True, "send": 1}} in clients[0][0].received)

        # A node that dies (SIGKILL) is reaped by the others within its
        # interval (10 s) plus one heartbeat; its sparks are then unknown.
        nodes[2].stop()
        gone = {c.id for c in clients[2]}
        await until(reactor, lambda: not (_sparks(redis_server) & gone), 20)
        assert len(redis_server.cli("SMEMBERS", "metroplex:servers")) == 2
        clients[0][0].socket.write({"forward": "too late", "to": target.id})
        await until(reactor, lambda: {"forwarded": {"ok": True, "send": 0}} in clients[0][0].received)
    finally:
        await _stop_all(reactor, nodes, clients)


@pytest_twisted.ensureDeferred
async def test_three_processes_room_writes(reactor: Any, redis_server: Any) -> None:
    """
    ``--plugin rooms`` on three processes: members of room ``r`` on every
    node (the first client of each, and the second client of node 1),
    exact delivery of room writes from each node, ``except`` across nodes,
    two rooms at once, and a Redis kill (local part only) then restart.
    """
    nodes = [NodeProcess(reactor, redis_server.url, t, ("--plugin", "rooms")) for t in TRANSFORMERS]
    clients: list[list[Client]] = []
    try:
        await _connect_pairs(reactor, nodes, clients)
        everyone = [c for pair in clients for c in pair]
        await _registered(reactor, redis_server, {c.id for c in everyone})
        joins = [(c, "r") for c in (clients[0][0], clients[1][0], clients[2][0], clients[1][1])]
        joins.append((clients[2][1], "s"))
        for client, room in joins:
            client.socket.write({"join": room})
            await until(reactor, lambda c=client, r=room: {"joined": r} in c.received, 10)
        members = {id(c) for c, room in joins if room == "r"}

        def writes(client: Client) -> list[Any]:
            return [m["seq"] for m in client.received if isinstance(m, dict) and "seq" in m]

        def write(p: int, seq: int, rooms: list[str], excluding: tuple[str, ...] = ()) -> None:
            clients[p][0].socket.write({"room": rooms, "write": {"seq": seq}, "except": excluding})

        # Redis up: every member of r on every node, once; nobody else.
        for seq, p in enumerate((0, 1, 2)):
            write(p, seq, ["r"])
        for client in everyone:
            want = [0, 1, 2] if id(client) in members else []
            await until(reactor, lambda c=client, w=want: sorted(writes(c)) == w, 20)
        # except, across nodes; two rooms at once (each member once).
        write(0, 3, ["r"], (clients[1][1].id, clients[2][0].id))
        write(2, 4, ["r", "s"])
        expected = {
            id(clients[0][0]): [0, 1, 2, 3, 4], id(clients[0][1]): [],
            id(clients[1][0]): [0, 1, 2, 3, 4], id(clients[1][1]): [0, 1, 2, 4],
            id(clients[2][0]): [0, 1, 2, 4], id(clients[2][1]): [4],
        }  # fmt: skip
        for client in everyone:
            await until(reactor, lambda c=client: sorted(writes(c)) == expected[id(c)], 20)

        # Redis killed: node 1's members get its room write, nobody else.
        redis_server.kill()
        write(1, 5, ["r"])
        for client in clients[1]:
            await until(reactor, lambda c=client: writes(c)[-1:] == [5], 10)
        redis_server.start()
        await _registered(reactor, redis_server, {c.id for c in everyone})
        # Back: room writes cross again, with the memberships written to
        # the restarted (empty) Redis again by each node.
        write(0, 6, ["r"])
        for client in everyone:
            if id(client) in members:
                await until(reactor, lambda c=client: writes(c)[-1:] == [6], 20)
        for client in everyone:
            want = expected[id(client)] + ([5] if client in clients[1] else []) + (
                [6] if id(client) in members else []
            )
            assert sorted(writes(client)) == sorted(want)
    finally:
        await _stop_all(reactor, nodes, clients)
