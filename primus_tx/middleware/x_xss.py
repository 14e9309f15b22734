"""
``x-xss``: turns off old Internet Explorer's XSS filter, which can mangle
polling responses (``X-XSS-Protection: 0`` for MSIE and Trident only).
"""

from __future__ import annotations

from typing import Any, Callable

from primus_tx._http import PrimusRequest

__all__ = ["x_xss"]


def x_xss(primus: Any, options: dict[str, Any]) -> Callable[[Any], None]:
    """
    Build the layer.
    """

    def x_xss_layer(request: PrimusRequest) -> None:
        agent = (request.getHeader(b"user-agent") or b"").lower()
        if b";msie" in agent or b"trident/" in agent:
            request.setHeader(b"x-xss-protection", b"0")

    x_xss_layer.upgrade = False  # type: ignore[attr-defined]
    return x_xss_layer
