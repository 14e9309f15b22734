# -*- test-case-name: tests.test_parsers_ejson,tests.test_parsers_common -*-
"""
The ``ejson`` parser: Meteor's EJSON in text messages, written byte for byte
as npm ``ejson`` 2.2.3 (what Primus's ``ejson`` parser runs) writes the same
JavaScript value, U+2028/U+2029 escaped as Primus does.

EJSON is JSON with a few values JSON lacks, each written as a small object
of ``$`` keys:

======================================  =====================================
Python                                  wire
======================================  =====================================
aware ``datetime``                      ``{"$date": <ms since the epoch>}``
``bytes``, ``bytearray``, memoryview    ``{"$binary": "<base64>"}``
NaN, inf, -inf                          ``{"$InfNaN": 0 | 1 | -1}``
:class:`~primus_tx.parsers.JSRegExp`    ``{"$regexp": source, "$flags": f}``
a registered type (:func:`add_type`)    ``{"$type": name, "$value": json}``
a dict that looks like one of these     ``{"$escape": {...}}``
======================================  =====================================

Numbers are written as JavaScript writes them (``1.0`` is ``1``, ``1e-7`` is
``1e-7``, ``1e16`` is ``10000000000000000``); object keys are strings, in
JavaScript's order.  ``$date`` keeps microseconds as a fraction of a
millisecond (a JavaScript ``Date`` keeps whole milliseconds; a Python peer
gets them back).

This module is small and written for primus-tx: Python's EJSON packages
write another dialect.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from datetime import datetime
from json.encoder import encode_basestring as _quote
from typing import Any, Callable, Union

from zope.interface import implementer

from primus_tx._errors import ParserError
from primus_tx._json import loads
from primus_tx.interfaces import INamedParser
from primus_tx.parsers._values import (
    EPOCH,
    MAX_DEPTH,
    BundledCodec,
    JSRegExp,
    datetime_from_ms,
    js_items,
    ms_from_datetime,
    unsupported,
)

__all__ = ["EJSONParser", "add_type", "decode", "encode", "parser", "remove_type"]

NAME = "ejson"
_SAFE = 2**53
_SURROGATE = re.compile("[\ud800-\udfff]")
_LOOKALIKES = (
    frozenset(("$date",)),
    frozenset(("$regexp", "$flags")),
    frozenset(("$InfNaN",)),
    frozenset(("$binary",)),
    frozenset(("$escape",)),
    frozenset(("$type", "$value")),
)
_REGEXP_FLAGS = "gimuy"

#: name -> (class, to_json, from_json)
_TYPES: dict[str, tuple[type, Callable[[Any], Any], Callable[[Any], Any]]] = {}
_TYPE_NAMES: dict[type, str] = {}


def add_type(
    name: str,
    cls: type,
    to_json: Callable[[Any], Any],
    from_json: Callable[[Any], Any],
) -> None:
    """
    Register a custom EJSON type, as ``EJSON.addType`` does in JavaScript:
    instances of ``cls`` are written ``{"$type": name, "$value":
    to_json(instance)}`` and such objects are read back with
    ``from_json(value)``.  The peers must register the same name.

    :raises PrimusError: if ``name`` is registered already.
    """
    from primus_tx._errors import PrimusError

    if name in _TYPES:
        raise PrimusError(f"EJSON type {name!r} is registered already")
    _TYPES[name] = (cls, to_json, from_json)
    _TYPE_NAMES[cls] = name


def remove_type(name: str) -> None:
    """
    Forget a type registered with :func:`add_type`.
    """
    entry = _TYPES.pop(name, None)
    if entry is not None:
        _TYPE_NAMES.pop(entry[0], None)


# -- writing ------------------------------------------------------------------------


def js_number(value: float) -> str:
    """
    A finite float as JavaScript's ``Number.prototype.toString`` writes it.
    """
    if value == 0:
        return "0"
    if value.is_integer() and -_SAFE < value < _SAFE:
        return str(int(value))
    text = repr(abs(value))
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    if fraction == "0":
        fraction = ""
    if whole == "0":
        stripped = fraction.lstrip("0")
        point = int(exponent or 0) - (len(fraction) - len(stripped))
        digits = stripped
    else:
        digits = whole + fraction
        point = len(whole) + int(exponent or 0)
    digits = digits.rstrip("0")
    count = len(digits)
    if count <= point <= 21:
        out = digits + "0" * (point - count)
    elif 0 < point <= 21:
        out = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        out = "0." + "0" * -point + digits
    else:
        exp = point - 1
        head = digits[0] + ("." + digits[1:] if count > 1 else "")
        out = f"{head}e{'+' if exp >= 0 else '-'}{abs(exp)}"
    return "-" + out if value < 0 else out


def _number(value: Union[int, float]) -> str:
    if type(value) is int:
        return str(value)
    if value != value:
        return '{"$InfNaN":0}'
    if value in (math.inf, -math.inf):
        return '{"$InfNaN":1}' if value > 0 else '{"$InfNaN":-1}'
    return js_number(value)


def _lookalike(value: dict[Any, Any]) -> bool:
    return 0 < len(value) <= 2 and frozenset(value) in _LOOKALIKES


def _write(value: Any, out: list[str], depth: int) -> None:
    kind = type(value)
    if kind is str:
        out.append(_quote(value))
    elif value is None:
        out.append("null")
    elif kind is bool:
        out.append("true" if value else "false")
    elif kind is int:
        out.append(str(value))
    elif kind is float:
        out.append(_number(value))
    elif depth > MAX_DEPTH:
        raise ParserError(f"ejson cannot encode values nested deeper than {MAX_DEPTH}")
    elif kind is dict:
        escape = _lookalike(value)
        if escape:
            out.append('{"$escape":')
        append = out.append
        append("{")
        first = True
        for key, item in js_items(NAME, value):
            if not first:
                append(",")
            first = False
            append(_quote(key))
            append(":")
            _write(item, out, depth + 1)
        append("}}" if escape else "}")
    elif kind is list or kind is tuple:
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out, depth + 1)
        out.append("]")
    else:
        _write_special(value, out, depth)


def _write_special(value: Any, out: list[str], depth: int) -> None:
    name = _TYPE_NAMES.get(type(value))
    if name is not None:
        out.append('{"$type":' + _quote(name) + ',"$value":')
        _write(_TYPES[name][1](value), out, depth + 1)
        out.append("}")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        out.append('{"$binary":"' + base64.b64encode(value).decode("ascii") + '"}')
    elif isinstance(value, datetime):
        out.append('{"$date":' + _number(ms_from_datetime(NAME, value)) + "}")
    elif isinstance(value, JSRegExp):
        out.append(
            '{"$regexp":'
            + _quote(str(value.source))
            + ',"$flags":'
            + _quote(str(value.flags))
            + "}"
        )
    elif isinstance(value, bool):
        _write(bool(value), out, depth)
    elif isinstance(value, int):
        _write(int(value), out, depth)
    elif isinstance(value, float):
        _write(float(value), out, depth)
    elif isinstance(value, str):
        _write(str(value), out, depth)
    elif isinstance(value, dict):
        _write(dict(value), out, depth)
    elif isinstance(value, (list, tuple)):
        _write(list(value), out, depth)
    else:
        raise unsupported(NAME, value)


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def encode(data: Any) -> str:
    """
    One value to one EJSON text.

    :raises ParserError: for a value EJSON cannot carry unchanged (sets,
        naive datetimes, non-``str`` keys...), naming its type.
    """
    out: list[str] = []
    try:
        _write(data, out, 0)
    except RecursionError:
        raise ParserError(f"ejson cannot encode values nested deeper than {MAX_DEPTH}") from None
    text = "".join(out)
    if "\u2028" in text or "\u2029" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if _SURROGATE.search(text) is not None:
        # well-formed JSON.stringify: lone surrogates as \udxxx escapes
        text = _SURROGATE.sub(_escape_surrogate, text)
    return text


# -- reading ------------------------------------------------------------------------

_B64_VALUES = {
    char: index
    for index, char in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}
_STRICT_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _binary(text: Any) -> bytes:
    """
    EJSON's lenient base64: padding optional, unknown characters are zero
    bits (as the npm package reads them).
    """
    if type(text) is not str:
        raise ParserError("ejson $binary is not a string")
    if len(text) % 4 != 1 and _STRICT_B64.fullmatch(text):
        try:
            return base64.b64decode(text + "=" * (-len(text) % 4))
        except binascii.Error:
            pass
    size = len(text) * 3 // 4
    if text.endswith("="):
        size -= 2 if text.endswith("==") else 1
    out = bytearray(max(size, 0))
    at = one = two = three = 0
    for index, char in enumerate(text):
        value = -1 if char == "=" else _B64_VALUES.get(char)
        step = index % 4
        if step == 0:
            if value is not None and value < 0:
                raise ParserError("ejson $binary is not base64")
            one = (value or 0) << 2
        elif step == 1:
            if value is not None and value < 0:
                raise ParserError("ejson $binary is not base64")
            one |= (value or 0) >> 4
            if at < size:
                out[at] = one & 0xFF
            at += 1
            two = ((value or 0) & 0x0F) << 4
        elif value is not None and value >= 0:
            if step == 2:
                two |= value >> 2
                if at < size:
                    out[at] = two & 0xFF
                at += 1
                three = (value & 0x03) << 6
            else:
                if at < size:
                    out[at] = (three | value) & 0xFF
                at += 1
    return bytes(out)


def _date(value: Any) -> datetime:
    if value is None:
        return EPOCH
    if type(value) is bool:
        value = int(value)
    if type(value) in (int, float):
        return datetime_from_ms(NAME, value)
    if type(value) is str:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ParserError(f"ejson $date {value!r} is not a date") from None
        if moment.tzinfo is None:
            raise ParserError(f"ejson $date {value!r} has no time zone")
        return moment
    raise ParserError(f"ejson $date holds a {type(value).__name__}")


def _infnan(value: Any) -> float:
    if type(value) in (int, float, bool) and value == value:
        return math.inf if value > 0 else -math.inf if value < 0 else math.nan
    return math.nan


def _regexp(value: dict[str, Any]) -> JSRegExp:
    source, flags = value["$regexp"], value["$flags"]
    if type(source) is not str or type(flags) is not str:
        raise ParserError("ejson $regexp and $flags must be strings")
    kept = [char for char in flags[:50] if char in _REGEXP_FLAGS]
    unique = "".join(char for index, char in enumerate(kept) if char not in kept[index + 1 :])
    return JSRegExp(source, unique)


_NOT_EJSON = object()


def _convert(value: dict[str, Any], depth: int) -> Any:
    keys = value.keys()
    if len(value) == 1:
        if "$date" in keys:
            return _date(value["$date"])
        if "$InfNaN" in keys:
            return _infnan(value["$InfNaN"])
        if "$binary" in keys:
            return _binary(value["$binary"])
        if "$escape" in keys:
            inner = value["$escape"]
            if type(inner) is dict:
                return {key: _read(item, depth + 1) for key, item in inner.items()}
            if type(inner) in (list, str):  # Object.keys of an array or string
                return {str(index): _read(item, depth + 1) for index, item in enumerate(inner)}
            return {}
    elif len(value) == 2:
        if "$regexp" in keys and "$flags" in keys:
            return _regexp(value)
        if "$type" in keys and "$value" in keys:
            name = value["$type"]
            entry = _TYPES.get(name) if type(name) is str else None
            if entry is None:
                raise ParserError(f"Custom EJSON type {name} is not defined")
            return entry[2](value["$value"])
    return _NOT_EJSON


def _read(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is dict:
        if depth > MAX_DEPTH:
            raise ParserError("ejson data nested too deep")
        if len(value) <= 2 and all(key[:1] == "$" for key in value):
            converted = _convert(value, depth)
            if converted is not _NOT_EJSON:
                return converted
        return {key: _read(item, depth + 1) for key, item in value.items()}
    if kind is list:
        if depth > MAX_DEPTH:
            raise ParserError("ejson data nested too deep")
        return [_read(item, depth + 1) for item in value]
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse(text: str) -> Any:
    # The standard library rather than orjson: it keeps integers of any size
    # exact and reads lone surrogate escapes, as JSON.parse does.
    return loads(text, parse_constant=_no_constants)


def decode(message: Union[str, bytes]) -> Any:
    """
    One EJSON text to a value.

    :raises ParserError: for a binary message (``EJSON.parse argument
        should be a string``, as in JavaScript), invalid JSON, an unknown
        ``$type``, or nesting deeper than the limit.
    """
    if type(message) is not str:
        raise ParserError("EJSON.parse argument should be a string")
    try:
        data = _parse(message)
    except RecursionError:
        raise ParserError("ejson data nested too deep") from None
    except ValueError as error:
        raise ParserError(f"invalid JSON: {error}") from None
    if '"$' not in message:
        return data  # no key starts with "$": nothing to convert
    try:
        return _read(data, 0)
    except RecursionError:
        raise ParserError("ejson data nested too deep") from None


@implementer(INamedParser)
class EJSONParser(BundledCodec):
    """
    Primus's ``ejson`` parser (its browser codec is primus-tx's own).
    """

    name = NAME
    binary = False

    encode = staticmethod(encode)
    decode = staticmethod(decode)


parser = EJSONParser()
