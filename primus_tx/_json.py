# -*- test-case-name: tests.test_json -*-
"""
JSON for the HTTP surface (``/spec``, error bodies): compact, like
``JSON.stringify``, with non-ASCII kept; and JSON from peers read with errors
that never quote the peer's text.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps_compact", "loads"]


def dumps_compact(value: Any) -> str:
    """
    ``JSON.stringify(value)``.
    """
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes, **options: Any) -> Any:
    """
    ``json.loads(text, **options)`` for text a client or a peer sent.

    A syntax error is a ``json.JSONDecodeError`` (a ``ValueError``) whose
    message says only where the text stops being JSON, never what it holds:
    the message ends up in logs and error events, and the peer's text does not
    belong there.  It also keeps the message well-formed on PyPy 3.9 (7.3.11),
    whose decoder quotes a non-ASCII character at the error by a single byte
    of its UTF-8 encoding; the ``str`` that makes is broken inside the
    interpreter, and formatting it (an f-string, ``str.format``) raises
    ``SystemError``.

    Other errors (``RecursionError``, a ``parse_constant`` hook's own
    ``ValueError``) pass through unchanged.
    """
    try:
        return json.loads(text, **options)
    except json.JSONDecodeError as error:
        # Only the position, built from integers; ``error.msg`` is not read.
        raise json.JSONDecodeError("JSON syntax error", error.doc, error.pos) from None
