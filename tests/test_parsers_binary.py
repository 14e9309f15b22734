"""
The binary parser: node-binarypack 0.0.4's bytes (the vectors of Primus's
binary parser), what js-binarypack 0.0.9 (Primus's browser build) sends,
the documented Python mapping, hostile input, and random values compared
with both npm builds and with our browser codec.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
from codecs_helpers import check_against_npm, codec_peer, has_bytes, js_tagged, same, values
from hypothesis import example, given, settings
from hypothesis import strategies as st

from primus_tx import ParserError
from primus_tx.parsers import JSRegExp, binary
from primus_tx.parsers.binary import decode, encode

# (Python value, node-binarypack's bytes for the same JavaScript value)
VECTORS = [
    ("", "b0"),
    ("hello", "b568656c6c6f"),
    ("héllo", "b668c3a96c6c6f"),
    ("€", "b3e282ac"),
    ("😀", "b4f09f9880"),
    ("a" * 15, "bf" + "61" * 15),
    ("a" * 16, "d80010" + "61" * 16),
    ("a" * 31, "d8001f" + "61" * 31),
    ("primus::ping::1700000000000", "d8001b" + b"primus::ping::1700000000000".hex()),
    (0, "00"),
    (-0.0, "00"),
    (-1, "ff"),
    (128, "cc80"),
    (-32, "e0"),
    (-33, "d0df"),
    (255, "ccff"),
    (-128, "d080"),
    (-129, "d1ff7f"),
    (65535, "cdffff"),
    (65536, "ce00010000"),
    (2**31 - 1, "ce7fffffff"),
    (2**31, "ce80000000"),
    (2**32 - 1, "ceffffffff"),
    (-(2**31), "d280000000"),
    (1.5, "cb3ff8000000000000"),
    (0.1, "cb3fb999999999999a"),
    (5e-324, "cb0000000000000001"),
    (math.nan, "cb7ff8000000000000"),
    (3.9999999999999996, "cb400fffffffffffff"),
    (True, "c3"),
    (False, "c2"),
    (None, "c0"),
    ([], "90"),
    ({}, "80"),
    ([1, "a", None, True], "9401b161c0c3"),
    ({"a": None, "b": 1}, "82b161c0b16201"),
    ({"a": {"b": [1, {"c": 2}]}}, "81b16181b162920181b16302"),
    ({"b": 1, "a": 2, "10": 3, "2": 4}, "84b13204b2313003b16201b16102"),
    ({"é😀": 1}, "81b6c3a9f09f988001"),
    (list(range(16)), "dc0010000102030405060708090a0b0c0d0e0f"),
    (b"\x01\x02\x03", "a3010203"),
    (bytes(16), "da0010" + "00" * 16),
]


@pytest.mark.parametrize(("value", "wire"), VECTORS)
def test_vectors_encode(value: Any, wire: str) -> None:
    assert encode(value).hex() == wire


@pytest.mark.parametrize(("value", "wire"), VECTORS)
def test_vectors_decode(value: Any, wire: str) -> None:
    assert same(decode(bytes.fromhex(wire)), value)


@pytest.mark.parametrize(
    ("wire", "value"),
    [
        ("b6f09f9880", "😀"),  # js-binarypack's overstated length for an astral character
        ("92b6f09f9880b26162", ["😀", "ab"]),
        ("81b8c3a9f09f988001", {"é😀": 1}),
        # js-binarypack's 6 for "\U00010000" spans "\U00010000\xb2" (valid
        # UTF-8), and the rest parses as written: {"\U00010000\xb2": 48, 48: None}
        ("82b6f0908080c2b23030c0", {"\U00010000": False, "00": None}),
        # ... where js-binarypack's ["\U00010000", False, "00"] is the same
        # bytes as node-binarypack's ["\U00010000\xb2", 48, 48]: read as written
        ("93b6f0908080c2b23030", ["\U00010000\xb2", 48, 48]),
        # node-binarypack's exact lengths, which js-binarypack's estimate
        # would cut short: read as written
        ("b7f0908080616263", "\U00010000abc"),
        ("81b7f090808061626301", {"\U00010000abc": 1}),
        ("b4f09f98806162", "😀"),  # as written: trailing bytes ignored
        ("d90000000161", "a"),
        ("0102", 1),
        ("810102", {1: 2}),
        ("ca3fc00000", 1.5),
        ("cf0000000000000001", 1),  # node-binarypack reads NaN: we read it right
        ("d3ffffffffffffffff", -1),  # node-binarypack overflows its stack
        ("c1", None),  # undefined
        ("a0", b""),
    ],
)
def test_decoding_what_other_writers_send(wire: str, value: Any) -> None:
    assert same(decode(bytes.fromhex(wire)), value)


# -- the mapping ------------------------------------------------------------------------


def test_ints_beyond_32_bits_are_float64_when_exact() -> None:
    assert encode(2**32).hex() == "cb41f0000000000000"
    assert encode(-(2**31) - 1).hex() == "cbc1e0000000200000"
    assert encode(2**60) == encode(float(2**60))
    assert decode(encode(2**53)) == 2**53
    for value in (2**53 + 1, -(2**53) - 1, 2**64 + 1, 10**400):
        with pytest.raises(ParserError, match="int"):
            encode(value)


def test_floats() -> None:
    assert encode(3.0) == b"\x03"
    assert encode(1e20).hex() == "cb4415af1d78b58c40"
    assert encode(math.inf).hex() == "cb7ff0000000000000"
    assert decode(encode(-math.inf)) == -math.inf


def test_bytes_like_and_tuples() -> None:
    assert encode(b"") == b"\xa0"
    assert encode(bytearray(b"ab")) == encode(memoryview(b"ab")) == b"\xa2ab"
    assert encode((1, (2,))) == encode([1, [2]])
    assert decode(encode((1, (2,)))) == [1, [2]]


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("a\ud800", "str"),
        (JSRegExp("a", "g"), "JSRegExp"),
        (2**53 + 1, "int"),
    ],
)
def test_unencodable_values_name_their_type(value: Any, named: str) -> None:
    with pytest.raises(ParserError, match=named):
        encode(value)


# -- hostile input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wire",
    [
        b"",
        bytes.fromhex("b56865"),  # truncated string
        bytes.fromhex("d8"),
        bytes.fromhex("cb3ff8"),
        bytes.fromhex("c4"),  # unused type bytes
        bytes.fromhex("c403010203"),
        bytes.fromhex("c9"),
        bytes.fromhex("d4"),
        bytes.fromhex("d7"),
        bytes.fromhex("d9ffffffff61"),  # a 4 GiB string in 6 bytes
        bytes.fromhex("dbffffffff"),  # a 4 GiB raw
        bytes.fromhex("ddffffffff"),  # 4 billion items
        bytes.fromhex("dfffffffff"),  # 4 billion pairs
        b"\x91" * 100_000,  # nesting 100,000 deep
        b"\x81\xb1a" * 100_000 + b"\xc0",
        bytes.fromhex("b2fffe"),  # invalid UTF-8
        bytes.fromhex("81b2c328" + "01"),  # invalid UTF-8 in a key
        bytes.fromhex("819001"),  # an array as a map key
        "hello",  # a text message
    ],
)
def test_hostile_input_is_a_parser_error(wire: Any) -> None:
    with pytest.raises(ParserError):
        decode(wire)


# -- properties -------------------------------------------------------------------------


def test_deep_input_does_not_reach_the_recursion_limit() -> None:
    # 400 levels decode; the limit (512) is an error, not a RecursionError
    assert decode(b"\x91" * 400 + b"\x01") is not None
    assert sys.getrecursionlimit() >= 1000


@settings(max_examples=150, deadline=None)
@given(values(dates=False, int_range=(-(2**53), 2**53)))
def test_round_trip(value: Any) -> None:
    assert same(decode(encode(value)), value)


# -- against node-binarypack, js-binarypack and our browser codec -----------------------


def _walk(value: Any) -> Any:
    yield value
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _walk(item)


def node_writes_the_same(value: Any) -> bool:
    # node-binarypack writes int64 beyond 32 bits (which it cannot read),
    # refuses the infinities, integral values beyond 2**64 and empty buffers
    for item in _walk(value):
        if type(item) is int and not -(2**31) <= item < 2**32:
            return False
        if type(item) is float and (
            not math.isfinite(item) or (item.is_integer() and not -(2**31) <= item < 2**32)
        ):
            return False
        if isinstance(item, bytes) and not item:
            return False
    return True


def _astral(item: Any) -> bool:
    return isinstance(item, str) and any(ord(char) > 0xFFFF for char in item)


def browser_reads(value: Any) -> bool:
    # js-binarypack's reader garbles astral characters, subnormals and NaN
    for item in _walk(value):
        if _astral(item):
            return False
        if type(item) is float and (item != item or (item and abs(item) < 2.2250738585072014e-308)):
            return False
    return True


def _js_binarypack(value: Any) -> bytes:
    # js-binarypack's bytes for the values browser_writes allows: ours, with
    # its estimated length for strings of up to 600 UTF-16 units
    if isinstance(value, str):
        units = len(value.encode("utf-16-le")) // 2
        if units > 600:
            return encode(value)
        size = sum(
            1 if c < "\x80" else 2 if c < "\u0800" else 3 if c < "\U00010000" else 6 for c in value
        )
        head = bytes((0xB0 | size,)) if size < 16 else b"\xd8" + size.to_bytes(2, "big")
        return head + value.encode("utf-8")
    if isinstance(value, list):
        return encode([None] * len(value))[: -len(value) or None] + b"".join(
            _js_binarypack(item) for item in value
        )
    if isinstance(value, dict):
        return encode({key: None for key in value})[: 1 if len(value) < 16 else 3] + b"".join(
            _js_binarypack(key) + _js_binarypack(item) for key, item in value.items()
        )
    return encode(value)


def _ambiguous(value: Any) -> bool:
    # js-binarypack's bytes that are also another value's exact bytes (no
    # reader can tell which was meant; we read them as written)
    wire = _js_binarypack(value)
    try:
        written, end = binary._read(wire, 0, 0, False)
    except ParserError:
        return False
    return binary._javascript_wrote(written, end, len(wire)) and not same(written, value)


def browser_writes(value: Any) -> bool:
    # js-binarypack's writer: NaN as 0.0, some doubles near powers of two
    # wrong, long astral strings right but short ones overstated (which we
    # read, unless the bytes are another value's too), a view's whole buffer
    # (a Node Buffer is a view of a shared pool), and the same refusals as
    # node-binarypack
    return (
        node_writes_the_same(value)
        and not has_bytes(value)
        and not any(type(item) is float and not item.is_integer() for item in _walk(value))
        and not (any(_astral(item) for item in _walk(value)) and _ambiguous(value))
    )


def test_browser_bytes_of_another_value_are_read_as_written() -> None:
    value = ["\U00010000", False, "00"]
    result = codec_peer("binary", encode=[js_tagged(value)])
    wire = bytes.fromhex(result["encode"][0]["browser"]["hex"])
    assert wire == _js_binarypack(value) == encode(["\U00010000\xb2", 48, 48])
    assert _ambiguous(value) and not _ambiguous({"\U00010000": False, "00": None})


def test_vectors_against_the_npm_codecs_and_ours() -> None:
    check_against_npm(
        "binary",
        [value for value, _ in VECTORS],
        npm_writes_the_same=node_writes_the_same,
        browser_reads=browser_reads,
        browser_writes=browser_writes,
    )


@settings(max_examples=8, deadline=None)
@given(st.lists(values(dates=False), min_size=20, max_size=20))
# js-binarypack writes the key's length as 6: its first 6 bytes are valid
# UTF-8 ("\U00010000\xb2") and the rest parses too
@example([{"\U00010000": False, "00": None}])
def test_random_values_against_the_npm_codecs(batch: list[Any]) -> None:
    check_against_npm(
        "binary",
        batch,
        npm_writes_the_same=node_writes_the_same,
        browser_reads=browser_reads,
        browser_writes=browser_writes,
    )


def test_browser_build_astral_strings_are_read() -> None:
    strings = ["😀", "a😀b", {"k😀": ["😀" * 10]}, "😀" * 700]
    result = codec_peer("binary", encode=[["str", "😀"], ["str", "a😀b"]])
    assert result["encode"][0]["browser"] == {"hex": "b6f09f9880"}
    assert decode(bytes.fromhex(result["encode"][0]["browser"]["hex"])) == "😀"
    assert decode(bytes.fromhex(result["encode"][1]["browser"]["hex"])) == "a😀b"
    for value in strings:
        assert decode(encode(value)) == value


def test_npm_decode_errors_match_ours() -> None:
    hostile = [bytes.fromhex("b56865"), bytes.fromhex("d9ffffffff61"), "hello"]
    result = codec_peer("binary", decode=hostile)
    for row in result["decode"]:
        assert "error" in row["npm"] and "error" in row["ours"]
