"""
Scale-out on Redis: the ``cluster`` plugin (see :doc:`/scaling`).

``Primus(site, plugin={"cluster": primus_tx.cluster.plugin},
cluster={"redis": "redis://host:6379/0", "password": ..., "address": ...})``
(or ``plugin="cluster"``) makes ``primus.write`` reach the sparks of every
node, adds ``primus.forward`` (metroplex + omega-supreme's cluster-wide
writes), ``primus.cluster`` (registry queries and counters) and the
omega-supreme HTTP ingress, and keeps this node's sparks in a metroplex
registry that Node Primus nodes share.

Needs the ``cluster`` extra (``pip install primus-tx[cluster]``:
txredisapi, and hiredis where it builds).
"""

from __future__ import annotations

from primus_tx.cluster._forward import Forward
from primus_tx.cluster._omega import ForwardError
from primus_tx.cluster._options import OPTIONS
from primus_tx.cluster._plugin import Cluster, ClusterPlugin, plugin
from primus_tx.cluster._redis import ClusterError, ClusterOverloaded, RedisUnavailable
from primus_tx.cluster._rooms import RedisRoomsAdapter

__all__ = [
    "OPTIONS",
    "Cluster",
    "ClusterError",
    "ClusterOverloaded",
    "ClusterPlugin",
    "Forward",
    "ForwardError",
    "RedisRoomsAdapter",
    "RedisUnavailable",
    "plugin",
]
