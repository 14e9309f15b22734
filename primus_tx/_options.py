"""
The server's options: their defaults, and the checks that turn a typo or a
wrong type into a ``PrimusError`` at construction time instead of a
misbehaving server.
"""

from __future__ import annotations

from typing import Any

from primus_tx._errors import PrimusError

__all__ = ["DEFAULTS", "check_options"]

DEFAULTS: dict[str, Any] = {
    "pathname": "/primus",
    "transformer": "websockets",
    "parser": "json",
    "ping_interval": 30.0,
    "max_length": 10485760,
    "compression": False,
    "authorization": None,
    "plugin": None,
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
}


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
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise PrimusError(
            f"Unknown Primus option(s): {', '.join(unknown)}. "
            f"Known options: {', '.join(sorted(DEFAULTS))}"
        )
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
    merged["max_length"] = max_length or DEFAULTS["max_length"]
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
    return merged
