"""
``forwarded``: works out the client's address (``request.forwarded``),
honouring proxy headers, for the layers after it and for the spark.
"""

from __future__ import annotations

from typing import Any, Callable

from primus_tx._address import forwarded as resolve
from primus_tx._http import PrimusRequest, headers_of, peer_of

__all__ = ["forwarded"]


def forwarded(primus: Any, options: dict[str, Any]) -> Callable[[Any], None]:
    """
    Build the layer.
    """

    def forwarded_layer(request: PrimusRequest) -> None:
        ip, port, secure = peer_of(request)
        request.forwarded = resolve(ip, port, secure, headers_of(request), primus.whitelist)

    return forwarded_layer
