"""
JSON for the HTTP surface (``/spec``, error bodies): compact, like
``JSON.stringify``, with non-ASCII kept.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps_compact"]


def dumps_compact(value: Any) -> str:
    """
    ``JSON.stringify(value)``.
    """
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
