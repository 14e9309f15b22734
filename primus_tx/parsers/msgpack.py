# -*- test-case-name: tests.test_parsers_msgpack,tests.test_parsers_common -*-
"""
The ``msgpack`` parser: MessagePack in binary messages, written byte for
byte as msgpack-lite 0.1.26 (what Primus's ``msgpack`` parser runs, in Node
and in browsers) writes the same JavaScript value.

The ``msgpack`` package does the packing and unpacking; a walk over the value
first applies what msgpack-lite does differently from it:

* JavaScript has one number type.  msgpack-lite writes a number as an
  integer only when it fits in 32 signed bits and as a float64 otherwise, so
  an ``int`` in ``[-2**31, 2**31)`` and an integral ``float`` in that range
  travel as integers, other ints up to ``2**53`` as float64 (exact).  Wider
  ints, up to 64 bits, travel as uint64/int64, exact for a Python peer (a
  JavaScript peer rounds them to a double, as it must); wider still is an
  error.
* ``datetime`` (aware) is a JavaScript ``Date``: extension type 0x0D
  holding the milliseconds; ``array.array`` is a typed array;
  :class:`~primus_tx.parsers.JSRegExp` a ``RegExp``.
* Object keys are strings, in JavaScript's order (index-like keys first).
* A ``bytes`` (or extension payload) of exactly 255 bytes gets a 16-bit
  length, as msgpack-lite writes it; the ``msgpack`` package would use the
  8-bit form, so such values take a slower path.

Decoding accepts what any msgpack writer sends that has a Python meaning,
refuses extension types msgpack-lite does not define (msgpack's own
timestamp, -1, which Python msgpack peers send, is read as a datetime),
invalid UTF-8 and nesting deeper than
:data:`~primus_tx.parsers._values.MAX_DEPTH`, and ignores bytes after the
first value, as msgpack-lite does.
"""

from __future__ import annotations

import array
import sys
import threading
from datetime import datetime
from typing import Any, Union

from zope.interface import implementer

from primus_tx._errors import ParserError, PrimusError
from primus_tx.interfaces import INamedParser
from primus_tx.parsers._values import (
    MAX_DEPTH,
    BundledCodec,
    JSRegExp,
    datetime_from_ms,
    js_items,
    ms_from_datetime,
    unsupported,
)

try:
    import msgpack as _msgpack
except ImportError as missing:  # pragma: no cover - the extra is not installed
    raise PrimusError(
        "The msgpack parser needs the msgpack package: pip install 'primus-tx[msgpack]'"
    ) from missing

__all__ = ["MsgpackParser", "decode", "encode", "parser"]

NAME = "msgpack"

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_SAFE = 2**53
_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1
_NAN = float("nan")
_DIGITS = frozenset("0123456789")

EXT_REGEXP = 0x0A
EXT_BOOLEAN = 0x0B
EXT_STRING = 0x0C
EXT_DATE = 0x0D
EXT_NUMBER = 0x0F
EXT_UINT8ARRAY = 0x12
_ERRORS = {
    0x01: "EvalError",
    0x02: "RangeError",
    0x03: "ReferenceError",
    0x04: "SyntaxError",
    0x05: "TypeError",
    0x06: "URIError",
    0x0E: "Error",
}
#: Extension types whose payload is plain bytes: Uint8Array,
#: Uint8ClampedArray, ArrayBuffer, Buffer, DataView.
_BYTES_EXT = frozenset((0x12, 0x19, 0x1A, 0x1B, 0x1D))


def _typecode(size: int, signed: bool) -> str:
    for code in "bhilq" if signed else "BHILQ":
        if array.array(code).itemsize == size:
            return code
    raise AssertionError(size)  # pragma: no cover


#: Typed arrays (little-endian element bytes) <-> array.array type codes.
_TYPED_ARRAYS = {
    0x11: _typecode(1, True),
    0x13: _typecode(2, True),
    0x14: _typecode(2, False),
    0x15: _typecode(4, True),
    0x16: _typecode(4, False),
    0x17: "f",
    0x18: "d",
}
_ARRAY_EXT = {code: ext for ext, code in _TYPED_ARRAYS.items()}
_ARRAY_EXT["B"] = EXT_UINT8ARRAY
_BIG_ENDIAN = sys.byteorder == "big"


class _Slow(Exception):
    """
    The value holds a 255-byte binary or extension payload.
    """


def _number(value: Union[int, float]) -> Any:
    """
    A JavaScript number as msgpack-lite writes it.
    """
    if type(value) is float:
        if value.is_integer() and _INT32_MIN <= value <= _INT32_MAX:
            return int(value)  # -0.0 too
        if value != value:
            return _NAN  # JavaScript has one NaN: 7ff8000000000000
        return value
    if _INT32_MIN <= value <= _INT32_MAX:
        return value
    if -_SAFE <= value <= _SAFE:
        return float(value)
    if _INT64_MIN <= value <= _UINT64_MAX:
        return value
    raise ParserError(f"msgpack cannot encode a value of type int wider than 64 bits ({value})")


def _array_payload(value: array.array[Any]) -> tuple[int, bytes]:
    ext = _ARRAY_EXT.get(value.typecode)
    if (
        ext is None
        or array.array(value.typecode).itemsize != array.array(_TYPED_ARRAYS.get(ext, "B")).itemsize
    ):
        raise unsupported(NAME, value, f"typecode {value.typecode!r} has no typed array")
    if _BIG_ENDIAN and value.itemsize > 1:  # pragma: no cover - big-endian hosts
        value = array.array(value.typecode, value)
        value.byteswap()
    return ext, value.tobytes()


def _walk(value: Any, depth: int) -> Any:
    """
    ``value`` with msgpack-lite's rules applied (see the module's docstring).
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int or kind is float:
        return _number(value)
    if depth > MAX_DEPTH:
        raise ParserError(f"msgpack cannot encode values nested deeper than {MAX_DEPTH}")
    if kind is dict:
        return _walk_dict(value, depth + 1)
    if kind is list or kind is tuple:
        depth += 1
        return [_walk(item, depth) for item in value]
    if kind is bytes or kind is bytearray:
        if len(value) == 255:
            raise _Slow
        return value
    return _special(value, depth)


def _walk_dict(value: dict[Any, Any], depth: int) -> Any:
    """
    A dict with msgpack-lite's rules applied: the dict itself when nothing
    changes (the common case: ``str`` keys in order, plain values).
    """
    changed = None
    for key, item in value.items():
        if type(key) is not str or (key and key[0] in _DIGITS):
            # other key types (refused) or index-like keys (reordered)
            return {k: _walk(v, depth) for k, v in js_items(NAME, value)}
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        walked = _walk(item, depth)
        if walked is not item:
            if changed is None:
                changed = {}
            changed[key] = walked
    if changed is None:
        return value
    return {key: changed.get(key, item) for key, item in value.items()}


def _special(value: Any, depth: int) -> Any:
    if isinstance(value, (int, float)):
        return _number(_plain_number(value))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, datetime):
        ms = _number(ms_from_datetime(NAME, value))
        return _msgpack.ExtType(EXT_DATE, _packb(ms))
    if isinstance(value, JSRegExp):
        return _msgpack.ExtType(EXT_REGEXP, _packb([str(value.source), str(value.flags)]))
    if isinstance(value, array.array):
        ext, payload = _array_payload(value)
        if len(payload) == 255:
            raise _Slow
        return _msgpack.ExtType(ext, payload)
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) == 255:
            raise _Slow
        return bytes(value)
    if isinstance(value, dict):
        return _walk(dict(value), depth)
    if isinstance(value, (list, tuple)):
        return _walk(list(value), depth)
    raise unsupported(NAME, value)


def _plain_number(value: Any) -> Union[int, float]:
    # int and float subclasses (IntEnum, numpy scalars registered as such)
    return float(value) if isinstance(value, float) else int(value)


# -- the slow path: 255-byte payloads ---------------------------------------------


def _write_slow(value: Any, out: list[bytes], depth: int) -> None:
    """
    Write ``value`` into ``out`` chunk by chunk, giving 255-byte binary and
    extension payloads msgpack-lite's 16-bit length.
    """
    if depth > MAX_DEPTH:
        raise ParserError(f"msgpack cannot encode values nested deeper than {MAX_DEPTH}")
    if isinstance(value, JSRegExp) or not isinstance(
        value, (dict, list, tuple, bytes, bytearray, memoryview, array.array)
    ):
        out.append(_packb(_walk(value, depth)))
    elif isinstance(value, dict):
        out.append(_packer().pack_map_header(len(value)))
        for key, item in js_items(NAME, value):
            out.append(_packb(key))
            _write_slow(item, out, depth + 1)
    elif isinstance(value, (list, tuple)):
        out.append(_packer().pack_array_header(len(value)))
        for item in value:
            _write_slow(item, out, depth + 1)
    elif isinstance(value, array.array):
        ext, payload = _array_payload(value)
        if len(payload) == 255:
            out.append(b"\xc8\x00\xff" + bytes((ext,)) + payload)
        else:
            out.append(_packb(_msgpack.ExtType(ext, payload)))
    elif len(value) == 255:
        out.append(b"\xc5\x00\xff" + bytes(value))
    else:
        out.append(_packb(value))


# A Packer is reused (building one per message costs more than packing a
# small one) but is not thread-safe: one per thread.
_local = threading.local()


def _packer() -> Any:
    try:
        return _local.packer
    except AttributeError:
        _local.packer = _msgpack.Packer(use_bin_type=True, autoreset=True)
        return _local.packer


def _packb(value: Any) -> bytes:
    return _packer().pack(value)


_ExtraData = _msgpack.ExtraData
_unpackb = _msgpack.unpackb


def encode(data: Any) -> bytes:
    """
    One value to one binary message, as msgpack-lite would write it.

    :raises ParserError: for a value with no msgpack-lite equivalent (sets,
        naive datetimes, ints wider than 64 bits, non-``str`` keys, strings
        with lone surrogates...), naming its type.
    """
    try:
        walked = _walk(data, 0)
        try:
            pack = _local.packer.pack
        except AttributeError:
            pack = _packer().pack
        return pack(walked)
    except ParserError:
        raise
    except _Slow:
        out: list[bytes] = []
        _write_slow(data, out, 0)
        return b"".join(out)
    except RecursionError:
        raise ParserError(f"msgpack cannot encode values nested deeper than {MAX_DEPTH}") from None
    except UnicodeEncodeError as error:
        raise ParserError(
            f"msgpack cannot encode a value of type str holding a lone surrogate ({error.reason})"
        ) from None
    except Exception as error:
        raise ParserError(
            f"msgpack cannot encode a value of type {type(data).__name__}: {error}"
        ) from None


def _ext_hook(code: int, payload: bytes) -> Any:
    if code == EXT_DATE:
        ms = _unpack_inner(payload)
        if type(ms) is float and ms != ms:
            return None  # an invalid Date
        if type(ms) not in (int, float):
            raise ParserError(f"msgpack Date extension holds a {type(ms).__name__}")
        return datetime_from_ms(NAME, ms)
    if code in _BYTES_EXT:
        return payload
    typecode = _TYPED_ARRAYS.get(code)
    if typecode is not None:
        result = array.array(typecode)
        if len(payload) % result.itemsize:
            raise ParserError(f"msgpack typed array extension 0x{code:02x} has a partial element")
        result.frombytes(payload)
        if _BIG_ENDIAN and result.itemsize > 1:  # pragma: no cover
            result.byteswap()
        return result
    if code == EXT_REGEXP:
        inner = _unpack_inner(payload)
        if not (isinstance(inner, list) and len(inner) == 2 and all(type(i) is str for i in inner)):
            raise ParserError("msgpack RegExp extension is not [source, flags]")
        return JSRegExp(inner[0], inner[1])
    if code in (EXT_BOOLEAN, EXT_STRING, EXT_NUMBER):
        return _unpack_inner(payload)
    if code in _ERRORS:
        inner = _unpack_inner(payload)
        if not isinstance(inner, dict):
            raise ParserError(f"msgpack {_ERRORS[code]} extension is not a map")
        return inner
    raise ParserError(f"unknown msgpack extension type {code}")


def _unpack_inner(payload: bytes) -> Any:
    return _unpackb(payload, raw=False, strict_map_key=False, ext_hook=_ext_hook)


def decode(message: Union[str, bytes]) -> Any:
    """
    One binary message to a value (the first msgpack value in it).

    :raises ParserError: for a text message, truncated or malformed data,
        invalid UTF-8, an unknown extension type, unhashable map keys or
        nesting deeper than the limit.
    """
    if type(message) is str:
        raise ParserError("msgpack messages are binary; a text message arrived")
    try:
        return _unpackb(message, raw=False, strict_map_key=False, ext_hook=_ext_hook, timestamp=3)
    except ParserError:
        raise
    except _ExtraData as extra:
        return extra.unpacked
    except RecursionError:
        raise ParserError("msgpack data nested too deep") from None
    except Exception as error:
        kind = type(error).__name__
        if kind == "StackError":
            raise ParserError("msgpack data nested too deep") from None
        detail = f": {error}" if str(error) else ""
        raise ParserError(f"invalid msgpack data ({kind}{detail})") from None


@implementer(INamedParser)
class MsgpackParser(BundledCodec):
    """
    Primus's ``msgpack`` parser (its browser codec is primus-tx's own).
    """

    name = NAME
    binary = True

    encode = staticmethod(encode)
    decode = staticmethod(decode)


parser = MsgpackParser()
