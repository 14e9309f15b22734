"""
The msgpack parser: msgpack-lite 0.1.26's bytes (the vectors of Primus's
msgpack parser), the documented Python mapping, hostile input, and random
values compared with the npm codec and with our browser codec.
"""

from __future__ import annotations

import array
import json
import math
import subprocess
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from codecs_helpers import check_against_npm, codec_peer, has_bytes, same, values
from hypothesis import example, given, settings
from hypothesis import strategies as st
from nodepeer import node_path

from primus_tx import ParserError
from primus_tx.parsers import JSRegExp, find_parser
from primus_tx.parsers.msgpack import decode, encode

UTC = timezone.utc

# (Python value, msgpack-lite bytes for the same JavaScript value)
VECTORS = [
    ("", "a0"),
    ("hello", "a568656c6c6f"),
    ("😀", "a4f09f9880"),
    ("a" * 31, "bf" + "61" * 31),
    ("a" * 32, "d920" + "61" * 32),
    ("€" * 11, "d921" + "e282ac" * 11),
    ("primus::ping::1700000000000", "bb" + b"primus::ping::1700000000000".hex()),
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
    (2**31, "cb41e0000000000000"),
    (-(2**31), "d280000000"),
    (-(2**31) - 1, "cbc1e0000000200000"),
    (2**32, "cb41f0000000000000"),
    (1e21, "cb444b1ae4d6e2ef50"),
    (1.5, "cb3ff8000000000000"),
    (0.1, "cb3fb999999999999a"),
    (1e-7, "cb3e7ad7f29abcaf48"),
    (math.nan, "cb7ff8000000000000"),
    (math.inf, "cb7ff0000000000000"),
    (True, "c3"),
    (None, "c0"),
    ([1, "a", None, True], "9401a161c0c3"),
    ({"a": None, "b": 1}, "82a161c0a16201"),
    ({"b": 1, "a": 2, "10": 3, "2": 4}, "84a13204a2313003a16201a16102"),
    ({"é😀": 1}, "81a6c3a9f09f988001"),
    (list(range(16)), "dc0010000102030405060708090a0b0c0d0e0f"),
    (b"\x01\x02\x03", "c403010203"),
    (bytes(255), "c500ff" + "00" * 255),
    (array.array("H", [1, 258]), "d61401000201"),
    (datetime(1970, 1, 1, tzinfo=UTC), "d40d00"),
    (datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), "c7090dcb4278bcfe56800000"),
    (JSRegExp("a.b", "gi"), "d70a92a3612e62a26769"),
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
        ("0102", 1),  # trailing bytes ignored, as msgpack-lite does
        ("810102", {1: 2}),
        ("81c001", {None: 1}),
        ("cfffffffffffffffff", 2**64 - 1),
        ("d38000000000000000", -(2**63)),
        ("ca3fc00000", 1.5),
        ("c70312010203", b"\x01\x02\x03"),  # Uint8Array
        ("c7031a010203", b"\x01\x02\x03"),  # ArrayBuffer
        ("d41b01", b"\x01"),  # Buffer as an extension
        ("c7090dcb7ff8000000000000", None),  # an invalid Date
        ("d6ff00000000", datetime(1970, 1, 1, tzinfo=UTC)),  # msgpack's timestamp
        ("d40b" + "c3", True),  # Boolean object
    ],
)
def test_decoding_what_other_writers_send(wire: str, value: Any) -> None:
    assert same(decode(bytes.fromhex(wire)), value)


def test_error_objects_decode_to_their_fields() -> None:
    fields = {"name": "Error", "message": "x", "stack": None}
    assert decode(b"\xc7" + bytes((len(encode(fields)),)) + b"\x0e" + encode(fields)) == fields


# -- the mapping ------------------------------------------------------------------------


def test_ints_keep_their_value() -> None:
    for value in (2**31, 2**53, -(2**53), 2**53 + 1, 2**64 - 1, -(2**63)):
        decoded = decode(encode(value))
        assert decoded == value and int(decoded) == value
    # beyond 2**53 the wire keeps every bit (uint64/int64)
    assert encode(2**53 + 1).hex() == "cf0020000000000001"
    assert encode(-(2**63)).hex() == "d38000000000000000"


def test_integral_floats_travel_as_integers() -> None:
    assert encode(3.0) == encode(3) == b"\x03"
    assert encode(2.0**31) == encode(2**31)


def test_datetimes() -> None:
    moment = datetime(2020, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert decode(encode(moment)) == moment
    assert decode(encode(moment)).tzinfo is UTC
    whole = datetime(2020, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    assert encode(whole)[2:3] == b"\x0d" and decode(encode(whole)) == whole


def test_tuples_are_arrays_and_bytes_like_are_binary() -> None:
    assert encode((1, 2)) == encode([1, 2])
    assert encode(bytearray(b"ab")) == encode(memoryview(b"ab")) == encode(b"ab")
    assert decode(encode((1, (2,)))) == [1, [2]]


def test_typed_arrays_round_trip() -> None:
    for code in "bhHiIfd":
        value = array.array(code, [1, 2, 3])
        assert decode(encode(value)) == value
    assert decode(encode(array.array("B", [1, 2]))) == b"\x01\x02"


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (2**64, "int"),
        (-(2**63) - 1, "int"),
        ("a\ud800", "str"),
        (array.array("q", [1]), "array"),
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
        bytes.fromhex("a56865"),  # truncated string
        bytes.fromhex("c1"),  # the one unused type byte
        bytes.fromhex("dbffffffff61"),  # a 4 GiB string in 6 bytes
        bytes.fromhex("c6ffffffff"),  # a 4 GiB binary
        bytes.fromhex("ddffffffff"),  # 4 billion array items
        bytes.fromhex("dfffffffff"),  # 4 billion map pairs
        bytes.fromhex("c9ffffffff0d"),  # a 4 GiB extension
        b"\x91" * 100_000,  # nesting 100,000 deep
        b"\x81\xa1a" * 100_000 + b"\xc0",
        bytes.fromhex("d40500"),  # extension type 5 (RangeError) holding no map
        bytes.fromhex("d42a00"),  # extension type 42: nobody registered it
        bytes.fromhex("d47f00"),
        bytes.fromhex("a2fffe"),  # invalid UTF-8
        bytes.fromhex("81a2c328" + "01"),  # invalid UTF-8 in a key
        bytes.fromhex("819001"),  # an array as a map key
        bytes.fromhex("d70dcb7ff0000000000000"),  # Date(Infinity)
        bytes.fromhex("c7031301"),  # an Int16Array with half an element (and short)
        "hello",  # a text message
    ],
)
def test_hostile_input_is_a_parser_error(wire: Any) -> None:
    with pytest.raises(ParserError):
        decode(wire)


# -- properties -------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(values(int_range=(-(2**63), 2**64 - 1)))
def test_round_trip(value: Any) -> None:
    assert same(decode(encode(value)), value)


# -- against msgpack-lite and our browser codec -----------------------------------------


def test_vectors_against_the_npm_codec_and_ours() -> None:
    # Our browser codec has no Node Buffer: it sends a Uint8Array, as an
    # extension type (as msgpack-lite in a browser does).
    check_against_npm(
        "msgpack", [value for value, _ in VECTORS], lambda value: not has_bytes(value)
    )


@settings(max_examples=8, deadline=None)
@given(st.lists(values(), min_size=20, max_size=20))
# astral characters (surrogate pairs in JavaScript) in keys and values
@example([{"\U00010000": False, "00": None}, {"a😀": ["😀" * 20, {"\U0010ffff": "é€😀"}]}])
def test_random_values_against_the_npm_codec(batch: list[Any]) -> None:
    check_against_npm("msgpack", batch, lambda value: not has_bytes(value))


def test_npm_decode_errors_match_ours() -> None:
    hostile = [b"", bytes.fromhex("a56865"), bytes.fromhex("c1"), bytes.fromhex("dbffffffff61")]
    result = codec_peer("msgpack", decode=hostile)
    for row in result["decode"]:
        assert "error" in row["npm"] and "error" in row["ours"]


def test_our_browser_codec_writes_node_buffers_as_bin() -> None:
    # Where the library runs in Node (a Buffer exists), a Buffer is `bin`,
    # as msgpack-lite writes it; elsewhere a Uint8Array is extension 0x12.
    node = node_path()
    script = (
        find_parser("msgpack").library()
        + """
const out = [];
encoder(Buffer.from([1, 2, 3]), (err, b) => out.push(Buffer.from(b).toString('hex')));
encoder(new Uint8Array([1, 2, 3]), (err, b) => out.push(Buffer.from(b).toString('hex')));
encoder(Buffer.alloc(255), (err, b) => out.push(Buffer.from(b).subarray(0, 3).toString('hex')));
process.stdout.write(JSON.stringify(out));
"""
    )
    result = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["c403010203", "c70312010203", "c500ff"]
