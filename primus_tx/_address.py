"""
Where a connection really comes from.

Primus trusts proxy headers by default (``forwarded-for``): a spark behind a
load balancer reports the client's address, not the balancer's.  The rules
are Primus's (docs/protocol/primus.rst, "Client addresses behind proxies"):
the headers below are tried in order, the first address (and port) of a
comma list wins, a header that lists anything but IP addresses is ignored,
and with a non-empty whitelist every proxy on the way must be trusted.
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


def _hop(entry: str) -> tuple[str, Optional[int]]:
    """
    One entry of a proxy list: an address, perhaps an IPv4 one with a port
    (``1.2.3.4:4444``), as forwarded-for reads them.
    """
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port) if port.isdigit() and len(port) <= 5 else None
    return entry, None


def _port(value: Optional[str]) -> Optional[int]:
    if not value:
        return None
    first = value.split(",", 1)[0].strip()
    return int(first) if first.isdigit() and len(first) <= 5 else None


def forwarded(
    ip: str,
    port: int,
    secure: bool,
    headers: Mapping[str, str],
    whitelist: Sequence[str] = (),
) -> Address:
    """
    The client address for a connection from ``ip:port`` that carried ``headers``.

    The first proxy header present decides: when it lists anything but IP
    addresses, or (with a whitelist) passes through an untrusted proxy, the
    connection's own address is used and later headers are not consulted —
    a client cannot pick the header that suits it.

    :param headers: request headers with lower-case names.
    :param whitelist: addresses of trusted proxies; empty trusts every proxy,
        as Primus does by default.  With a whitelist, proxy headers are only
        believed from a whitelisted peer (stricter than Node's
        ``forwarded-for``, which lets any client name its own address).
    """
    own = Address(ip or "127.0.0.1", port, secure)
    if whitelist and ip not in whitelist:
        return own
    for name, port_name, proto_name in _PROXY_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        hops = [_hop(part.strip()) for part in value.split(",") if part.strip()]
        if not hops or not all(_is_ip(host) for host, _ in hops):
            return own
        if whitelist and not all(host in whitelist for host, _ in hops[1:]):
            return own
        client_ip, hop_port = hops[0]
        header_port = _port(headers.get(port_name)) if port_name else None
        proto = headers.get(proto_name, "") if proto_name else ""
        first_proto = proto.split(",", 1)[0].strip().lower()
        return Address(
            client_ip,
            header_port if header_port is not None else (hop_port or 0),
            secure or first_proto in ("https", "1"),
        )
    return own
