"""
``cors``: HTTP access control for cross-origin polling and the library.

Primus's rules (``access-control``, docs/protocol/primus.rst, "CORS"): no ``Origin``, no
CORS; a malformed or unlisted origin, or a method that is not allowed, is
refused with 403; an allowed origin is reflected (with ``Vary: Origin``)
whenever origins are restricted or credentials are allowed; a pre-flight is
answered here and stops the chain.  Upgrades skip this layer.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional, Union
from urllib.parse import urlsplit

from primus_tx._http import PrimusRequest, answer

__all__ = ["cors"]


def _items(value: Union[str, list[str], tuple[str, ...]]) -> list[str]:
    """
    A list option, given as a list or as a string separated by commas
    and/or spaces (as access-control accepts it).
    """
    if isinstance(value, str):
        return [item for item in re.split(r"[,\s]+", value) if item]
    return [item.strip() for item in value if item.strip()]


def _valid_origin(origin: str) -> bool:
    if "%" in origin:
        return False
    if origin == "null":
        return True
    parts = urlsplit(origin)
    return bool(parts.scheme and parts.netloc)


def cors(primus: Any, options: dict[str, Any]) -> Callable[[Any], Optional[bool]]:
    """
    Build the layer from the server's CORS options.
    """
    settings = primus.options
    origins = settings["origins"]
    allowed = None if origins == "*" else {o.lower() for o in _items(origins)}
    method_list = [m.upper() for m in _items(settings["methods"])]
    methods = set(method_list)
    credentials = bool(settings["credentials"])
    max_age = str(int(settings["max_age"])).encode("ascii")
    headers = ", ".join(_items(settings["headers"])).encode("latin-1")
    exposed = ", ".join(_items(settings["exposed"])).encode("latin-1")
    methods_header = ", ".join(method_list).encode("latin-1")

    def cors_layer(request: PrimusRequest) -> Optional[bool]:
        raw_origin = request.getHeader(b"origin")
        if raw_origin is None:
            return None
        origin = raw_origin.decode("latin-1")
        method = request.method.decode("latin-1").upper()
        if (
            not _valid_origin(origin)
            or (allowed is not None and origin.lower() not in allowed)
            or method not in methods
        ):
            body = (
                f"Invalid HTTP Access Control (CORS) request:\n  Origin: {origin}\n  Method: {method}"
            ).encode("utf-8", "replace")
            answer(request, 403, body, b"text/plain")
            return True
        if allowed is not None or credentials:
            request.setHeader(b"access-control-allow-origin", raw_origin)
            request.setHeader(b"vary", b"Origin")
        else:
            request.setHeader(b"access-control-allow-origin", b"*")
        if credentials:
            request.setHeader(b"access-control-allow-credentials", b"true")
        if method == "OPTIONS" and request.getHeader(b"access-control-request-method"):
            request.setHeader(b"access-control-max-age", max_age)
            request.setHeader(b"access-control-allow-methods", methods_header)
            asked = request.getHeader(b"access-control-request-headers")
            if headers:
                request.setHeader(b"access-control-allow-headers", headers)
            elif asked:
                request.setHeader(b"access-control-allow-headers", asked)
            request.setResponseCode(200)
            request.setHeader(b"content-length", b"0")
            request.finish()
            return True
        if exposed:
            request.setHeader(b"access-control-expose-headers", exposed)
        return None

    cors_layer.upgrade = False  # type: ignore[attr-defined]
    return cors_layer
