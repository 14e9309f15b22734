"""
The default parser: one JSON text per message, byte-compatible with
``JSON.stringify`` where it matters to a JavaScript peer.

Encoding is compact (no spaces), keeps non-ASCII characters as they are,
writes NaN and the infinities as ``null`` (as JavaScript does, since a bare
``NaN`` is not JSON) and escapes U+2028/U+2029 so the text is also valid
JavaScript.  ``bytes`` are not JSON: written, they go out as a binary
message, and a binary message received is handed over as ``bytes`` — the
same pass-through Primus's JSON parser gives a Node ``Buffer``.

orjson does the work on CPython; the standard library is the fallback (and
handles what orjson refuses, such as integers wider than 64 bits).
"""

from __future__ import annotations

import json as _stdlib_json
import math
import re
from pathlib import Path
from typing import Any

from zope.interface import implementer

from primus_tx._json import loads
from primus_tx.interfaces import INamedParser

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - PyPy and platforms without wheels
    _orjson = None  # type: ignore[assignment]

__all__ = ["JSONParser", "decode", "encode", "parser"]

_LINE_SEPARATORS = ("\u2028", "\u2029")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(value: Any) -> Any:
    """
    A copy of ``value`` with non-finite floats replaced by ``None``.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _stdlib_decode(message: str) -> Any:
    """
    The standard library's decoder, with too deep a nesting refused as
    invalid JSON (a ``ValueError``) rather than a ``RecursionError``.
    """
    try:
        return loads(message, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _stdlib_encode(data: Any) -> str:
    """
    The standard library's encoding, for what orjson refuses (integers
    wider than 64 bits, lone surrogates, some subclasses).
    """
    try:
        text = _stdlib_json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as error:
        if "Out of range float" not in str(error):
            raise  # e.g. a circular reference
        text = _stdlib_json.dumps(
            _finite(data), separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    # Lone surrogates cannot be sent as UTF-8: escape just them, as
    # JavaScript's well-formed JSON.stringify does.
    return _SURROGATE.sub(_escape_surrogate, text)


def _escape_separators(text: str) -> str:
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


if _orjson is not None:
    _dumps = _orjson.dumps
    _loads = _orjson.loads
    _OPTIONS = _orjson.OPT_NON_STR_KEYS

    def encode(data: Any) -> str | bytes:
        """
        One value to one JSON text (or ``bytes`` passed through as binary).
        """
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data)
        try:
            raw = _dumps(data, option=_OPTIONS)
        except TypeError:
            text = _stdlib_encode(data)
        else:
            text = raw.decode("utf-8")
        if "\u2028" in text or "\u2029" in text:
            return _escape_separators(text)
        return text

    def decode(message: str | bytes) -> Any:
        """
        One JSON text to a value; binary messages pass through as ``bytes``.
        """
        if not isinstance(message, str):
            return message
        try:
            return _loads(message)
        except _orjson.JSONDecodeError:
            # orjson refuses a few inputs JavaScript accepts (huge integers,
            # lone surrogate escapes): let the standard library decide.
            return _stdlib_decode(message)

else:  # pragma: no cover - exercised on PyPy
    # PyPy's json module has a fast encoder for ASCII output and a fast
    # decoder without hooks; the general paths (characters kept as they
    # are, NaN refused through parse_constant) run at a fraction of that
    # speed.  So each message tries the fast path and takes the general one
    # only when the fast one cannot give the same answer.

    def encode(data: Any) -> str | bytes:
        """
        One value to one JSON text (or ``bytes`` passed through as binary).
        """
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data)
        try:
            text = _stdlib_json.dumps(data, separators=(",", ":"), allow_nan=False)
        except ValueError:
            text = "\\u"  # a non-finite float (or a cycle): the general path decides
        if "\\u" not in text:
            # Pure ASCII with nothing escaped as \uXXXX: exactly what the
            # general path would have written.
            return text
        text = _stdlib_encode(data)
        if "\u2028" in text or "\u2029" in text:
            return _escape_separators(text)
        return text

    def decode(message: str | bytes) -> Any:
        """
        One JSON text to a value; binary messages pass through as ``bytes``.
        """
        if not isinstance(message, str):
            return message
        if "NaN" in message or "Infinity" in message:
            return _stdlib_decode(message)
        try:
            return _stdlib_json.loads(message)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        except ValueError:
            pass
        # Invalid JSON: the general decoder's verdict and message (the fast
        # one can quote an unpaired surrogate in its message, which PyPy
        # then fails to format).  Called outside the handler: a
        # RecursionError raised while another exception is being handled
        # comes out of PyPy as a TypeError.
        return _stdlib_decode(message)


@implementer(INamedParser)
class JSONParser:
    """
    Primus's ``json`` parser.
    """

    name = "json"
    binary = False

    encode = staticmethod(encode)
    decode = staticmethod(decode)

    def library(self) -> str:
        """
        The browser client's encoder and decoder.
        """
        return (Path(__file__).parent / "json.js").read_text("utf-8")


parser = JSONParser()
