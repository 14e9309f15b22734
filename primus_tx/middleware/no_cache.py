"""
``no-cache``: real-time responses must never be cached by a browser or a
proxy.
"""

from __future__ import annotations

from typing import Any, Callable

from primus_tx._http import PrimusRequest

__all__ = ["no_cache"]


def no_cache(primus: Any, options: dict[str, Any]) -> Callable[[Any], None]:
    """
    Build the layer.
    """

    def no_cache_layer(request: PrimusRequest) -> None:
        request.setHeader(b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0")
        request.setHeader(b"pragma", b"no-cache")

    no_cache_layer.upgrade = False  # type: ignore[attr-defined]
    return no_cache_layer
