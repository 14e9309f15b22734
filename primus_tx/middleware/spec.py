"""
``spec``: serves the server's spec document at ``<pathname>/spec``, which
clients and tools read to learn the transformer, parser, pathname and
heartbeat interval.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from primus_tx._http import PrimusRequest, answer
from primus_tx._json import dumps_compact

__all__ = ["spec"]


def spec(primus: Any, options: dict[str, Any]) -> Callable[[Any], Optional[bool]]:
    """
    Build the layer.
    """
    path = (primus.pathname.rstrip("/") + "/spec").encode("utf-8")

    def spec_layer(request: PrimusRequest) -> Optional[bool]:
        if request.path != path:
            return None
        answer(request, 200, dumps_compact(primus.spec).encode("utf-8"), b"application/json")
        return True

    spec_layer.upgrade = False  # type: ignore[attr-defined]
    return spec_layer
