"""
``primus.js``: serves the browser client library at ``<pathname>/primus.js``,
built once on first request and cached (plugins added later are not
reflected, as in Primus).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from primus_tx._http import PrimusRequest, answer

__all__ = ["library"]


def library(primus: Any, options: dict[str, Any]) -> Callable[[Any], Optional[bool]]:
    """
    Build the layer.
    """
    path = (primus.pathname.rstrip("/") + "/primus.js").encode("utf-8")
    cache: list[bytes] = []

    def library_layer(request: PrimusRequest) -> Optional[bool]:
        if request.path != path:
            return None
        if not cache:
            cache.append(primus.library().encode("utf-8"))
        answer(request, 200, cache[0], b"text/javascript; charset=utf-8")
        return True

    library_layer.upgrade = False  # type: ignore[attr-defined]
    return library_layer
