# -*- test-case-name: tests.cluster.test_cluster -*-
"""
The options of ``cluster={...}``: their defaults and their checks, so that
a misconfigured node refuses to start instead of half joining a cluster.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from primus_tx._errors import PrimusError

__all__ = ["OPTIONS", "address_of_ports", "check_cluster_options"]

#: The options of ``cluster={...}`` and their defaults.
OPTIONS: dict[str, Any] = {
    "redis": None,
    "address": None,
    "password": None,
    "username": "omega",
    "method": "PUT",
    "url": None,
    "namespace": "metroplex",
    "channel": None,
    "mode": "primus-tx",
    "prefix": "primus-cluster:",
    "ttl": 86400,
    "interval": 10.0,
    "timeout": 1.0,
    "forward_timeout": 3.0,
    "concurrently": 20,
    "max_in_flight": 10000,
    "probe_interval": 1.0,
}


def check_cluster_options(options: Any, pathname: str) -> dict[str, Any]:
    """
    The cluster options merged over :data:`OPTIONS`.

    :raises PrimusError: for an unknown option, a missing Redis URL, or a
        missing password (the ingress has no default credentials).
    """
    if isinstance(options, str):
        options = {"redis": options}
    if not isinstance(options, dict):
        raise PrimusError("The cluster option must be a dict such as {'redis': 'redis://host:6379/0'}")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise PrimusError(
            f"Unknown cluster option(s): {', '.join(unknown)}. Known: {', '.join(sorted(OPTIONS))}"
        )
    merged = dict(OPTIONS)
    merged.update(options)
    if not merged["redis"] or not isinstance(merged["redis"], str):
        raise PrimusError("The cluster plugin needs cluster={'redis': 'redis://host:6379/0', ...}")
    password = merged["password"]
    if password is None:
        password = os.environ.get("PRIMUS_CLUSTER_PASSWORD")
    if not password or not isinstance(password, str):
        raise PrimusError(
            "The cluster plugin needs a password of your choosing for its omega-supreme "
            "ingress (cluster={'password': ...} or PRIMUS_CLUSTER_PASSWORD); "
            "there is no default"
        )
    merged["password"] = password
    if merged["url"] is None:
        merged["url"] = "/" + pathname.strip("/") + "/omega/supreme"
    if merged["mode"] not in ("primus-tx", "primus-cluster"):
        raise PrimusError(
            f"cluster option mode must be 'primus-tx' or 'primus-cluster', not {merged['mode']!r}"
        )
    if merged["channel"] is None and merged["mode"] == "primus-cluster":
        merged["channel"] = merged["prefix"] + "pubsub"
    if merged["channel"] is None:
        merged["channel"] = merged["namespace"] + ":primus-tx:broadcast"
    if merged["address"] is not None:
        merged["address"] = str(merged["address"]).rstrip("/")
    for name in ("interval", "timeout", "forward_timeout"):
        value = merged[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise PrimusError(f"cluster option {name} must be a number of seconds, not {value!r}")
    return merged


def address_of_ports(primus: Any) -> Optional[str]:
    for port in getattr(primus, "_ports", ()):
        try:
            host = port.getHost()
        except Exception:
            continue
        ip = getattr(host, "host", None)
        number = getattr(host, "port", None)
        if ip and number:
            if ip in ("0.0.0.0", "::"):
                import socket

                ip = socket.gethostbyname(socket.gethostname())
            return f"http://{ip}:{number}"
    return None
