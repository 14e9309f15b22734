# -*- test-case-name: tests.cluster.test_cluster -*-
"""
``primus.forward``: metroplex + omega-supreme's cluster-wide writes, local
targets first, the others through the registry and the peers' ingresses.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from twisted.internet.defer import Deferred, fail, succeed

from primus_tx.cluster._omega import ForwardError, write_local

__all__ = ["Forward"]


def _write_here(primus: Any, ids: Sequence[Any], msg: Any) -> tuple[int, list[Any]]:
    """
    Write ``msg`` to those of ``ids`` that are sparks of this node.

    :return: how many were written, and the ids that are not here.
    """
    sent = 0
    remaining = []
    for id in ids:
        spark = primus.spark(id) if isinstance(id, str) else None
        if spark is not None:
            spark.write(msg)
            sent += 1
        else:
            remaining.append(id)
    return sent, remaining


class Forward:
    """
    ``primus.forward``: write to sparks wherever they are.

    Every method writes the local targets at once, then asks the other
    nodes; the Deferred fires with omega-supreme's result, ``{"ok": True,
    "send": N}`` (``N`` the sparks written on every node; ``"local": True``
    when no other node had to be asked), or fails with
    :class:`~primus_tx.cluster.ForwardError` (a node did not answer well)
    or :class:`~primus_tx.cluster.RedisUnavailable` (the registry could not
    be read) within the cluster's timeouts; the error's ``result`` says what
    was written anyway.
    """

    def __init__(self, cluster: Any) -> None:
        self._cluster = cluster

    def __call__(self, servers: Any, msg: Any, sparks: Any = "") -> Deferred[dict[str, Any]]:
        """
        omega-supreme's ``primus.forward(servers, msg, sparks)``: local
        delivery first, then a PUT to each listed server.
        """
        cluster = self._cluster
        primus = cluster.primus
        servers = [s for s in (servers if isinstance(servers, list) else [servers]) if s]
        sent = 0
        local = False
        if isinstance(sparks, list):
            sent, sparks = _write_here(primus, sparks, msg)
            local = not sparks
        elif sparks:
            spark = primus.spark(sparks)
            if spark is not None:
                spark.write(msg)
                sent, sparks, local = 1, "", True
        else:
            sent = write_local(primus, msg, "")
            local = not servers
        if local:
            return succeed({"ok": True, "send": sent, "local": True})
        if not servers:
            return fail(ForwardError("No servers provided", {"ok": False, "send": sent, "local": False}))
        return cluster._put_all([(server, sparks) for server in servers], msg, sent)

    def spark(self, id: str, msg: Any) -> Deferred[dict[str, Any]]:
        """
        Write ``msg`` to spark ``id`` on whichever node holds it (``send``
        is 0 when no node does).
        """
        cluster = self._cluster
        spark = cluster.primus.spark(id)
        if spark is not None:
            spark.write(msg)
            return succeed({"ok": True, "send": 1, "local": True})
        d = cluster.registry.spark(id)

        def found(address: Optional[str]) -> Any:
            if address is None or address == cluster.address:
                return {"ok": True, "send": 0}
            return cluster._put_all([(address, id)], msg, 0)

        return d.addCallback(found).addErrback(cluster._forward_failed, 0)

    def sparks(self, ids: Sequence[str], msg: Any) -> Deferred[dict[str, Any]]:
        """
        Write ``msg`` to each of the sparks ``ids``, wherever they are.
        """
        cluster = self._cluster
        sent, remaining = _write_here(cluster.primus, ids, msg)
        if not remaining:
            return succeed({"ok": True, "send": sent, "local": True})
        d = cluster.registry.sparks(remaining)

        def found(addresses: list[Optional[str]]) -> Any:
            groups: dict[str, list[str]] = {}
            for id, address in zip(remaining, addresses):
                if address is not None and address != cluster.address:
                    groups.setdefault(address, []).append(id)
            if not groups:
                return {"ok": True, "send": sent}
            return cluster._put_all(list(groups.items()), msg, sent)

        return d.addCallback(found).addErrback(cluster._forward_failed, sent)

    def broadcast(self, msg: Any) -> Deferred[dict[str, Any]]:
        """
        Write ``msg`` to every spark of every node (this node's first).
        """
        cluster = self._cluster
        sent = write_local(cluster.primus, msg, "")
        d = cluster.registry.servers()

        def found(servers: list[str]) -> Any:
            others = [(s, "") for s in servers if s != cluster.address]
            if not others:
                return {"ok": True, "send": sent, "local": True}
            return cluster._put_all(others, msg, sent)

        return d.addCallback(found).addErrback(cluster._forward_failed, sent)
