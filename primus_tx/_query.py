"""
Query strings parsed the way Node's ``querystring.parse`` does, because that
is what Primus gives a spark: ``+`` is a space, a key without ``=`` has the
empty string as value, and a repeated key gives a list.
"""

from __future__ import annotations

from typing import Union
from urllib.parse import unquote_plus

__all__ = ["QueryValue", "parse_query"]

QueryValue = Union[str, list[str]]

# Node's querystring stops after 1000 pairs; a hostile URL gets no further.
MAX_PAIRS = 1000


def parse_query(query: str) -> dict[str, QueryValue]:
    """
    Parse ``query`` (without the leading ``?``).
    """
    result: dict[str, QueryValue] = {}
    if not query:
        return result
    for count, pair in enumerate(query.split("&")):
        if count >= MAX_PAIRS:
            break
        if not pair:
            continue
        key, _, value = pair.partition("=")
        key = unquote_plus(key)
        value = unquote_plus(value)
        existing = result.get(key)
        if existing is None:
            result[key] = value
        elif isinstance(existing, list):
            existing.append(value)
        else:
            result[key] = [existing, value]
    return result
