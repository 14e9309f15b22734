# -*- test-case-name: tests.test_parsers_common -*-
"""
What the non-JSON parsers share: the values JavaScript has and Python does
not (:class:`JSRegExp`), JavaScript's property order, the millisecond clock
of a JavaScript ``Date``, and the errors a codec raises.

Every codec raises :class:`~primus_tx.ParserError` and nothing else, so the
spark and the client report "Failed to encode outgoing data" or "Failed to
decode incoming data" and keep the connection.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple, Union

from primus_tx._errors import ParserError

__all__ = [
    "EPOCH",
    "BundledCodec",
    "MAX_DEPTH",
    "JSRegExp",
    "datetime_from_ms",
    "js_items",
    "ms_from_datetime",
    "unsupported",
]

#: How deep values may nest in a message.  Deeper input is refused with a
#: ParserError rather than exhausting Python's stack; JavaScript engines stop
#: near 10,000 levels anyway.
MAX_DEPTH = 512

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DIGITS = frozenset("0123456789")
_MAX_INDEX = 4294967294


class JSRegExp(NamedTuple):
    """
    A JavaScript ``RegExp`` (``/source/flags``), which ``msgpack`` and
    ``ejson`` carry.  Python's :mod:`re` has another syntax, so the pattern is
    kept as text for the application to interpret.
    """

    source: str
    flags: str


def unsupported(parser: str, value: Any, why: str = "") -> ParserError:
    """
    The error for a value ``parser`` cannot encode without changing it.
    """
    detail = f": {why}" if why else ""
    return ParserError(f"{parser} cannot encode a value of type {type(value).__name__}{detail}")


def _index_like(key: str) -> bool:
    # JavaScript's canonical array indices: "0" or digits without a leading
    # zero, up to 2**32 - 2 (ASCII digits only: str.isdigit accepts "²").
    if not key or key[0] not in _DIGITS or (key[0] == "0" and len(key) > 1):
        return False
    for char in key:
        if char not in _DIGITS:
            return False
    return int(key) <= _MAX_INDEX


def js_items(parser: str, data: dict[Any, Any]) -> Any:
    """
    ``data``'s items in the order JavaScript enumerates an object's keys:
    array-index keys first, ascending, then the others as inserted.  Keys
    must be ``str`` (a JavaScript property name is always a string; other key
    types are refused rather than converted).
    """
    indices = None
    for key in data:
        if type(key) is not str:
            if isinstance(key, str):
                continue
            raise ParserError(
                f"{parser} cannot encode a dict key of type {type(key).__name__} "
                "(object keys are strings)"
            )
        if key and key[0] in _DIGITS and _index_like(key):
            if indices is None:
                indices = []
            indices.append(key)
    if indices is None:
        return data.items()
    indices.sort(key=int)
    first = set(indices)
    return [(key, data[key]) for key in indices] + [
        (key, value) for key, value in data.items() if key not in first
    ]


def ms_from_datetime(parser: str, value: datetime) -> Union[int, float]:
    """
    A timezone-aware datetime as a JavaScript time value: milliseconds since
    the epoch, an ``int`` when whole, else a ``float`` carrying the
    microseconds (a JavaScript ``Date`` keeps whole milliseconds only; a
    Python peer gets the microseconds back).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ParserError(
            f"{parser} cannot encode a naive datetime ({value.isoformat()}): "
            "give it a tzinfo, the wire carries an instant"
        )
    delta = value - EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    whole, rest = divmod(micros, 1000)
    return whole if not rest else micros / 1000


def datetime_from_ms(parser: str, ms: Any) -> datetime:
    """
    A JavaScript time value back to an aware UTC datetime (to the
    microsecond, which a float64 of milliseconds carries exactly for dates
    within about two centuries of 1970).
    """
    try:
        if type(ms) is int:
            return EPOCH + timedelta(milliseconds=ms)
        ms = float(ms)
        whole = math.floor(ms)
        return EPOCH + timedelta(milliseconds=whole, microseconds=round((ms - whole) * 1000))
    except (OverflowError, ValueError, TypeError) as error:
        raise ParserError(f"{parser}: a Date of {ms!r} ms has no datetime equivalent") from error


class BundledCodec:
    """
    What primus-tx's own parsers share: their browser codec is
    ``common.js`` (the parser contract's plumbing and byte buffers) and the
    ``.js`` file named like the parser, beside these modules.
    """

    name = ""

    def library(self) -> str:
        """
        The browser client's encoder and decoder (primus-tx's own code).
        """
        here = Path(__file__).parent
        return (here / "common.js").read_text("utf-8") + (here / f"{self.name}.js").read_text(
            "utf-8"
        )
