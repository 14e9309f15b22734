"""
Where a connection really comes from.

Primus trusts proxy headers by default (``forwarded-for``): a spark behind a
load balancer reports the client's address, not the balancer's.  The rules
are Primus's (spec/primus.md §4.1): the headers below are tried in order,
the first address (and port) of a comma list wins, a header that lists
anything but IP addresses is ignored, and with a non-empty whitelist every
proxy on the way must be trusted.
"""

from __future__ import annotations

import ipaddress
from typing import Mapping, NamedTuple, Optional, Sequence

__all__ = ["Address", "forwarded"]

# (address header, port header, protocol header)
_PROXY_HEADERS = (
    ("fastly-client-ip", None, None),
    ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"),
    ("z-forwarded-for", "z-forwarded-port", "z-forwarded-proto"),
    ("forwarded", "forwarded-port", "forwarded-proto"),
    ("x-real-ip", "x-real-port", None),
)


class Address(NamedTuple):
    """
    A client's address as Primus reports it: ``spark.address.ip``,
    ``spark.address.port`` and ``spark.address.secure``.
    """

    ip: str
    port: int
    secure: bool


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _port(value: Optional[str], default: int) -> int:
    if not value:
        return default
    first = value.split(",", 1)[0].strip()
    return int(first) if first.isdigit() and len(first) <= 5 else default


def forwarded(
    ip: str,
    port: int,
    secure: bool,
    headers: Mapping[str, str],
    whitelist: Sequence[str] = (),
) -> Address:
    """
    The client address for a connection from ``ip:port`` that carried ``headers``.

    :param headers: request headers with lower-case names.
    :param whitelist: addresses of trusted proxies; empty trusts every proxy,
        as Primus does by default.
    """
    if whitelist and ip not in whitelist:
        return Address(ip or "127.0.0.1", port, secure)
    for name, port_name, proto_name in _PROXY_HEADERS:
        value = headers.get(name)
        if not value:
            continue
        hops = _split(value)
        if not hops or not all(_is_ip(hop) for hop in hops):
            continue
        if whitelist and not all(hop in whitelist for hop in hops[1:]):
            continue
        proto = headers.get(proto_name, "") if proto_name else ""
        first_proto = proto.split(",", 1)[0].strip().lower()
        return Address(
            hops[0],
            _port(headers.get(port_name) if port_name else None, port),
            secure or first_proto in ("https", "1"),
        )
    return Address(ip or "127.0.0.1", port, secure)
