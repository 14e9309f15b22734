"""
SockJS framing: the `a[...]`/`c[...]` frames with SockJS's escaping, and the bodies clients post.
"""

from __future__ import annotations

import json
from typing import Any


def _json(value: Any) -> str:
    # ensure_ascii escapes every non-ASCII character (lowercase \\uXXXX),
    # a superset of what SockJS requires, and copes with lone surrogates.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def message_frame(messages: list[str]) -> str:
    """
    The ``a[...]`` frame carrying ``messages``.
    """
    return "a" + _json(messages)


def close_frame(code: int, reason: str) -> str:
    """
    The ``c[code,"reason"]`` frame.
    """
    return "c" + _json([code, reason])


def _text(message: Any) -> str:
    if isinstance(message, str):
        return message
    if isinstance(message, (bytes, bytearray)):
        # SockJS carries text only.
        return bytes(message).decode("utf-8", "replace")
    return str(message)


class BrokenPayload(Exception):
    """
    A send request whose body is not a JSON array of messages.
    """


def decode_payload(body: bytes) -> list[str]:
    """
    The messages of a send request's body (a JSON array of strings).

    :raises BrokenPayload: with SockJS's reason text.
    """
    if not body:
        raise BrokenPayload("Payload expected.")
    try:
        value = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BrokenPayload("Broken JSON encoding.") from None
    if not isinstance(value, list):
        raise BrokenPayload("Payload expected.")
    return [item if isinstance(item, str) else _json(item) for item in value]


# -- HTTP helpers ---------------------------------------------------------------
