# -*- test-case-name: tests.browserchannel.test_browserchannel_wire -*-
"""
BrowserChannel's wire format, both directions, without any I/O: the
length-prefixed chunks of the back channel, the arrays they carry, and the
forward channel's map bodies.

Everything here is docs/protocol/browserchannel.rst's, "Wire format".
"""

from __future__ import annotations

import json
from typing import Any, Optional
from urllib.parse import parse_qsl

from primus_tx._json import loads

__all__ = [
    "MAX_MAPS",
    "BadData",
    "array_json",
    "chunk",
    "frame_arrays",
    "parse_chunks",
    "parse_forward",
    "utf16_length",
]

#: The most maps one forward-channel POST may carry (Closure's client
#: sends at most 1,000 at a time).
MAX_MAPS = 1000

# Keys a map may have besides its message (Closure adds ``type`` for a map
# it could not encode); more than a few per map is an attack, not a client.
_KEYS_PER_MAP = 4


class BadData(ValueError):
    """
    A forward-channel body that is not a valid map list; answered 400
    ``Bad data``.
    """


def utf16_length(text: str) -> int:
    """
    The length of ``text`` as JavaScript counts it (UTF-16 code units):
    chunk lengths are read off ``responseText``, which counts that way.
    """
    length = len(text)
    if not text.isascii():
        length += sum(1 for ch in text if ord(ch) > 0xFFFF)
    return length


def chunk(text: str) -> str:
    """
    One back-channel chunk: the length of ``text``, a newline, ``text``.
    """
    return f"{utf16_length(text)}\n{text}"


def array_json(data: Any) -> str:
    """
    One array's payload as JSON text, written as JavaScript's
    ``JSON.stringify`` writes it, but with U+2028 and U+2029 escaped (a
    JavaScript ``eval`` of the chunk would end a line there).
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if "\u2028" in text or "\u2029" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text


def frame_arrays(arrays: list[tuple[int, str]]) -> str:
    """
    ``[[id, payload], ...]`` plus the newline the reference server ends
    every batch with, from already encoded payloads (:func:`array_json`).
    """
    return "[" + ",".join(f"[{array_id},{payload}]" for array_id, payload in arrays) + "]\n"


def parse_chunks(buffer: str) -> tuple[list[str], str]:
    """
    Split what a back channel delivered so far into whole chunks'
    bodies and the rest (an incomplete chunk, kept for the next read).

    :raises ValueError: for a length that is not a number.
    """
    bodies: list[str] = []
    while True:
        newline = buffer.find("\n")
        if newline < 0:
            if len(buffer) > 20:
                raise ValueError("a chunk length that never ends")
            return bodies, buffer
        head = buffer[:newline]
        if not head.isdigit():
            raise ValueError(f"bad chunk length {head[:20]!r}")
        wanted = int(head)
        start = newline + 1
        # Count UTF-16 code units, as the writer did.
        end = start
        units = 0
        while units < wanted and end < len(buffer):
            units += 2 if ord(buffer[end]) > 0xFFFF else 1
            end += 1
        if units < wanted:
            return bodies, buffer
        bodies.append(buffer[start:end])
        buffer = buffer[end:]


def _index(value: str, what: str) -> int:
    if not value.isdigit() or len(value) > 15:
        raise BadData(f"{what} is not a count: {value[:20]!r}")
    return int(value)


def parse_forward(body: bytes, content_type: Optional[bytes]) -> Optional[tuple[int, list[Optional[str]]]]:
    """
    A forward-channel body: ``None`` for ``count=0`` (nothing sent, but its
    request id still counts), else ``(ofs, messages)`` where ``ofs`` is the
    index of the first map and each message is the map's ``_S`` string, its
    ``JSON`` text, or ``None`` for a map with neither.

    Form bodies (``count=N&ofs=K&req0__S=...``) are what Closure's client
    sends; ``application/json`` bodies (``{"ofs": K, "data": [...]}``) are
    the reference server's extension, announced by the test channel's
    ``X-Accept`` header.

    :raises BadData: for anything else.
    """
    text = body.decode("utf-8", "replace")
    kind = (content_type or b"").split(b";")[0].strip().lower()
    if kind == b"application/json":
        return _parse_json(text)
    try:
        fields = parse_qsl(
            text,
            keep_blank_values=True,
            errors="replace",
            max_num_fields=2 + MAX_MAPS * _KEYS_PER_MAP,
        )
    except ValueError as error:
        raise BadData(str(error)) from None
    count: Optional[int] = None
    ofs: Optional[int] = None
    maps: dict[int, dict[str, str]] = {}
    for key, value in fields:
        if key == "count":
            count = _index(value, "count")
        elif key == "ofs":
            ofs = _index(value, "ofs")
        elif key.startswith("req"):
            digits, underscore, name = key[3:].partition("_")
            if not underscore or not name:
                raise BadData(f"bad map key {key[:40]!r}")
            maps.setdefault(_index(digits, "map number"), {})[name] = value
    if count is None:
        raise BadData("no count")
    if count == 0:
        return None
    if count > MAX_MAPS:
        raise BadData(f"{count} maps in one request")
    if ofs is None:
        raise BadData("maps without ofs")
    if any(number >= count for number in maps):
        raise BadData("a map past the count")
    messages: list[Optional[str]] = []
    for number in range(count):
        fields_of = maps.get(number)
        if fields_of is None:
            raise BadData(f"map {number} missing")
        if "_S" in fields_of:
            messages.append(fields_of["_S"])
        elif "JSON" in fields_of:
            messages.append(fields_of["JSON"])
        else:
            messages.append(None)
    return ofs, messages


def _parse_json(text: str) -> tuple[int, list[Optional[str]]]:
    try:
        value = loads(text)
    except (ValueError, RecursionError) as error:
        # (A body nested deeper than the interpreter recurses is refused
        # like any other bad body.)
        raise BadData(f"body is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise BadData("body is not an object")
    ofs = value.get("ofs")
    data = value.get("data")
    if isinstance(ofs, bool) or not isinstance(ofs, int) or ofs < 0 or not isinstance(data, list):
        raise BadData("body needs ofs and data")
    if len(data) > MAX_MAPS:
        raise BadData(f"{len(data)} messages in one request")
    messages: list[Optional[str]] = [
        item if isinstance(item, str) else array_json(item) for item in data
    ]
    return ofs, messages
