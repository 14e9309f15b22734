"""
The server's options: their defaults, and the checks that turn a typo or a
wrong type into a ``PrimusError`` at construction time instead of a
misbehaving server.
"""

from __future__ import annotations

from typing import Any, Iterable

from primus_tx._defaults import (
    HEADER_TIMEOUT,
    MAX_BUFFERED,
    MAX_LENGTH,
    MAX_PENDING,
    MAX_PENDING_PER_ADDRESS,
    PARSER,
    PATHNAME,
    PING_INTERVAL,
    SLOW_CLIENT,
    TRANSFORMER,
)
from primus_tx._errors import PrimusError

__all__ = ["DEFAULTS", "SLOW_CLIENT_POLICIES", "check_options", "reject_unknown"]

DEFAULTS: dict[str, Any] = {
    "pathname": PATHNAME,
    "transformer": TRANSFORMER,
    "parser": PARSER,
    "ping_interval": PING_INTERVAL,
    "max_length": MAX_LENGTH,
    "compression": False,
    "authorization": None,
    "plugin": None,
    # The cluster plugin's settings (primus_tx.cluster); unused without it.
    "cluster": None,
    "global_name": "Primus",
    "id_generator": None,
    "transport": None,
    "origins": "*",
    "methods": "GET,HEAD,PUT,POST,DELETE,OPTIONS",
    "credentials": True,
    "max_age": 2592000,
    "headers": "",
    "exposed": "",
    "whitelist": (),
    "reactor": None,
    # Hardening (see docs/operations.rst).
    "max_buffered": MAX_BUFFERED,
    "slow_client": SLOW_CLIENT,
    "header_timeout": HEADER_TIMEOUT,
    "max_pending": MAX_PENDING,
    "max_pending_per_address": MAX_PENDING_PER_ADDRESS,
}

#: The smallest ``max_buffered``: the cap is checked once a transport is
#: past its high-water mark (64 KiB for TCP, Engine.IO and SockJS queues).
MIN_BUFFERED = 65536

#: What a spark does when its outgoing buffer would pass ``max_buffered``.
SLOW_CLIENT_POLICIES = ("end", "drop")


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """
    The options merged over the defaults, normalised (pathname with one
    leading slash, ``ping_interval`` 0 when disabled, ...).

    :raises PrimusError: for an unknown option or a value of the wrong kind.
    """
    if "timeout" in options:
        raise PrimusError(
            "The `timeout` option has been removed; the server sends pings every "
            "`ping_interval` seconds and the client decides when it has timed out"
        )
    reject_unknown(options, DEFAULTS, "Primus")
    merged = dict(DEFAULTS)
    merged.update(options)
    pathname = merged["pathname"]
    if not isinstance(pathname, str) or not pathname.strip("/"):
        raise PrimusError(f"pathname must be a non-empty path such as '/primus', not {pathname!r}")
    merged["pathname"] = "/" + pathname.strip("/")
    interval = merged["ping_interval"]
    if interval is None or interval is False:
        merged["ping_interval"] = 0.0
    elif isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 0:
        raise PrimusError(f"ping_interval must be a number of seconds (0 disables), not {interval!r}")
    max_length = merged["max_length"]
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 0:
        raise PrimusError(f"max_length must be a number of bytes, not {max_length!r}")
    merged["max_length"] = max_length or MAX_LENGTH
    if merged["id_generator"] is not None and not callable(merged["id_generator"]):
        raise PrimusError("id_generator must be a function returning spark ids")
    if merged["authorization"] is not None and not callable(merged["authorization"]):
        raise PrimusError("authorization must be a function of the request")
    if not isinstance(merged["global_name"], str) or not merged["global_name"].isidentifier():
        raise PrimusError(f"global_name must be a JavaScript identifier, not {merged['global_name']!r}")
    transport = merged["transport"]
    if transport is not None and not isinstance(transport, dict):
        raise PrimusError("transport must be a dict of transformer options")
    merged["transport"] = dict(transport or {})
    if not isinstance(merged["max_age"], (int, float)) or isinstance(merged["max_age"], bool):
        raise PrimusError("max_age must be a number of seconds")
    _check_hardening(merged)
    return merged


def reject_unknown(given: Iterable[str], known: Iterable[str], what: str) -> None:
    """
    Refuse option names that are not ``known``, naming them and the known
    ones, so that a typo fails at construction time with its fix in the
    message instead of being silently ignored.

    :param what: whose options they are (``"Primus"``, ``"sockjs
        transport"``...), for the message.
    :raises PrimusError: when ``given`` has a name ``known`` lacks.
    """
    allowed = set(known)
    unknown = sorted(name for name in given if name not in allowed)
    if unknown:
        raise PrimusError(
            f"Unknown {what} option(s): {', '.join(unknown)}. "
            f"Known options: {', '.join(sorted(allowed))}"
        )


def _check_hardening(merged: dict[str, Any]) -> None:
    """
    The limits of docs/operations.rst: byte and request counts are whole
    numbers (0 disables), the header deadline seconds (0 disables).
    """
    for name in ("max_buffered", "max_pending", "max_pending_per_address"):
        value = merged[name]
        if value is None or value is False:
            merged[name] = 0
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PrimusError(f"{name} must be a whole number (0 disables), not {value!r}")
    if 0 < merged["max_buffered"] < MIN_BUFFERED:
        raise PrimusError(
            f"max_buffered must be 0 (no cap) or at least {MIN_BUFFERED} bytes (the "
            f"transports' high-water mark, past which the cap is checked), not {merged['max_buffered']!r}"
        )
    timeout = merged["header_timeout"]
    if timeout is None or timeout is False:
        merged["header_timeout"] = 0.0
    elif isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise PrimusError(f"header_timeout must be a number of seconds (0 disables), not {timeout!r}")
    if merged["slow_client"] not in SLOW_CLIENT_POLICIES:
        raise PrimusError(
            f"slow_client must be one of {', '.join(SLOW_CLIENT_POLICIES)}, not {merged['slow_client']!r}"
        )
