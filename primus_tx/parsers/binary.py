# -*- test-case-name: tests.test_parsers_binary,tests.test_parsers_common -*-
"""
The ``binary`` parser: BinaryPack in binary messages, as Primus's ``binary``
parser runs it.

BinaryPack is an early MessagePack variant with separate string and raw
types (the tag table is in ``docs/parsers.rst``).  Primus runs two
implementations of it: node-binarypack 0.0.4 on Node (servers and Node
clients) and js-binarypack 0.0.9 in browsers, which differ.  primus-tx:

* **writes** the bytes node-binarypack writes for the same value, except
  where a peer could not read them back: integers outside
  ``[-2**31, 2**32)`` are written as float64 (node-binarypack writes int64,
  which it cannot read itself, and js-binarypack reads inexactly), so an int
  that a double cannot hold exactly is refused; ``b""`` is written (both
  JavaScript writers refuse an empty buffer, both readers accept it);
  infinities are written as float64 (JavaScript's writers refuse them);
* **reads** what either implementation writes: also uint64/int64 and
  float32, which it reads exactly, and strings whose length header
  js-binarypack overstated (it counts an astral character as six bytes in
  strings of up to 600 UTF-16 units): a message that does not parse as
  written is read again with that estimate, and so is one that parses as
  written into something no JavaScript writer sends (bytes left over, a
  key that is not a string), since an overstated length can take in bytes
  that happen to be valid UTF-8 (``{"\\U00010000": False, "00": None}``).

Decoding refuses unused type bytes, truncated data, lengths beyond the
message, invalid UTF-8 and nesting deeper than
:data:`~primus_tx.parsers._values.MAX_DEPTH`, and ignores bytes after the
first value, as both JavaScript readers do.  There is no date, typed array
or RegExp type: such values are refused rather than turned into strings.
"""

from __future__ import annotations

import re
import struct
from typing import Any, Union

from zope.interface import implementer

from primus_tx._errors import ParserError
from primus_tx.interfaces import INamedParser
from primus_tx.parsers._values import MAX_DEPTH, BundledCodec, js_items, unsupported

__all__ = ["BinaryParser", "decode", "encode", "parser"]

NAME = "binary"

_U8 = struct.Struct(">B").pack
_I8 = struct.Struct(">b").pack
_U16 = struct.Struct(">H").pack
_I16 = struct.Struct(">h").pack
_U32 = struct.Struct(">I").pack
_I32 = struct.Struct(">i").pack
_F64 = struct.Struct(">d").pack
_SAFE = 2**53
_MAX32 = 0xFFFFFFFF
_NAN = b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"

_FIXINT = {n: bytes((n & 0xFF,)) for n in range(-32, 128)}
_FIXSTR = [bytes((0xB0 | n,)) for n in range(16)]
_FIXRAW = [bytes((0xA0 | n,)) for n in range(16)]
_FIXARRAY = [bytes((0x90 | n,)) for n in range(16)]
_FIXMAP = [bytes((0x80 | n,)) for n in range(16)]


def _header(fixed: list[bytes], tag16: bytes, tag32: bytes, count: int, kind: str) -> bytes:
    if count < 16:
        return fixed[count]
    if count <= 0xFFFF:
        return tag16 + _U16(count)
    if count <= _MAX32:
        return tag32 + _U32(count)
    raise ParserError(f"binary cannot encode a {kind} of {count} items or bytes")


def _int(value: int) -> bytes:
    small = _FIXINT.get(value)
    if small is not None:
        return small
    if value >= 0:
        if value <= 0xFF:
            return b"\xcc" + _U8(value)
        if value <= 0xFFFF:
            return b"\xcd" + _U16(value)
        if value <= _MAX32:
            return b"\xce" + _U32(value)
    elif value >= -0x80:
        return b"\xd0" + _I8(value)
    elif value >= -0x8000:
        return b"\xd1" + _I16(value)
    elif value >= -0x80000000:
        return b"\xd2" + _I32(value)
    # Beyond 32 bits: a float64, which every reader reads exactly.
    try:
        as_float = float(value)
    except OverflowError:
        as_float = 0.5  # never equal to an int
    if as_float != value:
        raise ParserError(
            f"binary cannot encode a value of type int exactly ({value}): its "
            "JavaScript readers hold numbers beyond 32 bits as doubles"
        )
    return b"\xcb" + _F64(as_float)


def _float(value: float) -> bytes:
    if value.is_integer():
        return _int(int(value))  # -0.0 too, as JavaScript writes it
    if value != value:
        return _NAN
    return b"\xcb" + _F64(value)  # the infinities as well


def _write(value: Any, out: list[bytes], depth: int) -> None:
    kind = type(value)
    if kind is str:
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError:
            raise ParserError(
                "binary cannot encode a value of type str holding a lone surrogate"
            ) from None
        out.append(_header(_FIXSTR, b"\xd8", b"\xd9", len(data), "str"))
        out.append(data)
    elif kind is int:
        out.append(_int(value))
    elif value is None:
        out.append(b"\xc0")
    elif kind is bool:
        out.append(b"\xc3" if value else b"\xc2")
    elif kind is float:
        out.append(_float(value))
    elif depth > MAX_DEPTH:
        raise ParserError(f"binary cannot encode values nested deeper than {MAX_DEPTH}")
    elif kind is dict:
        out.append(_header(_FIXMAP, b"\xde", b"\xdf", len(value), "dict"))
        depth += 1
        for key, item in js_items(NAME, value):
            _write(key, out, depth)
            _write(item, out, depth)
    elif kind is list or kind is tuple:
        out.append(_header(_FIXARRAY, b"\xdc", b"\xdd", len(value), "list"))
        depth += 1
        for item in value:
            _write(item, out, depth)
    elif kind is bytes or kind is bytearray or kind is memoryview:
        data = bytes(value)
        out.append(_header(_FIXRAW, b"\xda", b"\xdb", len(data), "bytes"))
        out.append(data)
    else:
        _write_subclass(value, out, depth)


def _write_subclass(value: Any, out: list[bytes], depth: int) -> None:
    bases: tuple[Any, ...] = (
        bool,
        int,
        float,
        str,
        dict,
        list,
        tuple,
        bytes,
        bytearray,
        memoryview,
    )
    for base in bases:
        if isinstance(value, base):
            if base is tuple and hasattr(value, "_fields"):
                break  # a named tuple (JSRegExp...) is not an array
            _write(base(value), out, depth)
            return
    raise unsupported(NAME, value)


def encode(data: Any) -> bytes:
    """
    One value to one binary message (see the module's docstring).

    :raises ParserError: for a value BinaryPack cannot carry unchanged
        (datetimes, sets, ints a double cannot hold, non-``str`` keys...),
        naming its type.
    """
    out: list[bytes] = []
    try:
        _write(data, out, 0)
    except RecursionError:
        raise ParserError(f"binary cannot encode values nested deeper than {MAX_DEPTH}") from None
    return b"".join(out)


# -- reading ------------------------------------------------------------------------

_UNPACK = {
    0xCA: (struct.Struct(">f").unpack_from, 4),
    0xCB: (struct.Struct(">d").unpack_from, 8),
    0xCC: (struct.Struct(">B").unpack_from, 1),
    0xCD: (struct.Struct(">H").unpack_from, 2),
    0xCE: (struct.Struct(">I").unpack_from, 4),
    0xCF: (struct.Struct(">Q").unpack_from, 8),
    0xD0: (struct.Struct(">b").unpack_from, 1),
    0xD1: (struct.Struct(">h").unpack_from, 2),
    0xD2: (struct.Struct(">i").unpack_from, 4),
    0xD3: (struct.Struct(">q").unpack_from, 8),
}
_LENGTH16 = struct.Struct(">H").unpack_from
_LENGTH32 = struct.Struct(">I").unpack_from
_BROWSER_ESTIMATE_LIMIT = 600


class _Short(ParserError):
    pass


def _length(data: bytes, at: int, size: int) -> int:
    if at + size > len(data):
        raise _Short("truncated binary data")
    return (_LENGTH16 if size == 2 else _LENGTH32)(data, at)[0]


def _browser_string_end(data: bytes, start: int, declared: int) -> int:
    """
    Where a string ends if its ``declared`` length is js-binarypack's
    estimate (one per UTF-16 unit below U+0080, two below U+0800, three
    otherwise: six per astral character); -1 if it cannot.
    """
    counted = 0
    at = start
    size = len(data)
    while counted < declared and at < size:
        lead = data[at]
        if lead < 0x80:
            at, counted = at + 1, counted + 1
        elif lead < 0xE0:
            at, counted = at + 2, counted + 2
        elif lead < 0xF0:
            at, counted = at + 3, counted + 3
        else:
            at, counted = at + 4, counted + 6
    return at if counted == declared and at <= size else -1


def _string(data: bytes, start: int, declared: int, browser: bool) -> tuple[str, int]:
    end = start + declared
    if browser and declared <= 3 * _BROWSER_ESTIMATE_LIMIT:
        estimated = _browser_string_end(data, start, declared)
        if estimated >= 0:
            end = estimated
    if end > len(data):
        raise _Short("truncated binary data: a string runs past the end")
    try:
        return data[start:end].decode("utf-8"), end
    except UnicodeDecodeError:
        raise ParserError("invalid UTF-8 in a binary string") from None


def _read(data: bytes, at: int, depth: int, browser: bool) -> tuple[Any, int]:
    if at >= len(data):
        raise _Short("truncated binary data")
    tag = data[at]
    at += 1
    if tag < 0x80:
        return tag, at
    if tag >= 0xE0:
        return tag - 0x100, at
    if tag < 0xA0:
        if tag < 0x90:
            return _read_map(data, at, tag & 0x0F, depth, browser)
        return _read_array(data, at, tag & 0x0F, depth, browser)
    if tag < 0xB0:
        return _raw(data, at, tag & 0x0F)
    if tag < 0xC0:
        return _string(data, at, tag & 0x0F, browser)
    if tag == 0xC0 or tag == 0xC1:
        return None, at
    if tag == 0xC2:
        return False, at
    if tag == 0xC3:
        return True, at
    unpack = _UNPACK.get(tag)
    if unpack is not None:
        reader, size = unpack
        if at + size > len(data):
            raise _Short("truncated binary data")
        return reader(data, at)[0], at + size
    if tag == 0xD8:
        return _string(data, at + 2, _length(data, at, 2), browser)
    if tag == 0xD9:
        return _string(data, at + 4, _length(data, at, 4), browser)
    if tag == 0xDA:
        return _raw(data, at + 2, _length(data, at, 2))
    if tag == 0xDB:
        return _raw(data, at + 4, _length(data, at, 4))
    if tag == 0xDC:
        return _read_array(data, at + 2, _length(data, at, 2), depth, browser)
    if tag == 0xDD:
        return _read_array(data, at + 4, _length(data, at, 4), depth, browser)
    if tag == 0xDE:
        return _read_map(data, at + 2, _length(data, at, 2), depth, browser)
    if tag == 0xDF:
        return _read_map(data, at + 4, _length(data, at, 4), depth, browser)
    raise ParserError(f"unknown binary type byte 0x{tag:02x}")


def _raw(data: bytes, at: int, size: int) -> tuple[bytes, int]:
    end = at + size
    if end > len(data):
        raise _Short("truncated binary data: a binary runs past the end")
    return data[at:end], end


def _read_array(
    data: bytes, at: int, count: int, depth: int, browser: bool
) -> tuple[list[Any], int]:
    if count > len(data) - at:  # every item takes a byte at least
        raise _Short(f"truncated binary data: {count} items announced")
    if depth >= MAX_DEPTH:
        raise ParserError("binary data nested too deep")
    out: list[Any] = []
    append = out.append
    depth += 1
    for _ in range(count):
        item, at = _read(data, at, depth, browser)
        append(item)
    return out, at


def _read_map(
    data: bytes, at: int, count: int, depth: int, browser: bool
) -> tuple[dict[Any, Any], int]:
    if 2 * count > len(data) - at:
        raise _Short(f"truncated binary data: {count} pairs announced")
    if depth >= MAX_DEPTH:
        raise ParserError("binary data nested too deep")
    out = {}
    depth += 1
    for _ in range(count):
        key, at = _read(data, at, depth, browser)
        value, at = _read(data, at, depth, browser)
        try:
            out[key] = value
        except TypeError:
            raise ParserError(f"a binary map key of type {type(key).__name__}") from None
    return out, at


def decode(message: Union[str, bytes]) -> Any:
    """
    One binary message to a value (the first BinaryPack value in it).

    :raises ParserError: for a text message, truncated or malformed data,
        an unused type byte, invalid UTF-8, unhashable map keys or nesting
        deeper than the limit.
    """
    if isinstance(message, str):
        raise ParserError("binary messages are binary; a text message arrived")
    data = bytes(message)
    try:
        value, end = _read(data, 0, 0, False)
    except RecursionError:
        raise ParserError("binary data nested too deep") from None
    except ParserError as error:
        try:
            return _read(data, 0, 0, True)[0]  # a browser's overstated string lengths?
        except (ParserError, RecursionError):
            raise error from None
    if _FOUR_BYTE_LEAD(data) is None or _javascript_wrote(value, end, len(data)):
        return value
    # It parses as written, but no JavaScript writer wrote that: the bytes an
    # overstated length took in may have formed valid UTF-8 by chance.
    try:
        browser, browser_end = _read(data, 0, 0, True)
    except (ParserError, RecursionError):
        return value
    return browser if _javascript_wrote(browser, browser_end, len(data)) else value


#: An astral character's first UTF-8 byte: without one, js-binarypack's
#: estimate is the exact length and both readings are the same.
_FOUR_BYTE_LEAD = re.compile(b"[\xf0-\xf4]").search


def _javascript_wrote(value: Any, end: int, size: int) -> bool:
    """
    Whether a JavaScript writer can have written ``value`` as a whole
    message ending at ``end``: they write nothing after the value, and
    object keys as strings.
    """
    if end != size:
        return False
    pending = [value]
    while pending:
        item = pending.pop()
        if type(item) is dict:
            if not all(type(key) is str for key in item):
                return False
            pending.extend(item.values())
        elif type(item) is list:
            pending.extend(item)
    return True


@implementer(INamedParser)
class BinaryParser(BundledCodec):
    """
    Primus's ``binary`` parser (its browser codec is primus-tx's own).
    """

    name = NAME
    binary = True

    encode = staticmethod(encode)
    decode = staticmethod(decode)


parser = BinaryParser()
