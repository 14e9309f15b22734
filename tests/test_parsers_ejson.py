"""
The ejson parser: npm ejson 2.2.3's text (the vectors of Primus's ejson
parser), the documented Python mapping, hostile input, and random values
compared with the npm codec and with our browser codec.
"""

from __future__ import annotations

import json
import math
import subprocess
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from codecs_helpers import check_against_npm, codec_peer, same, values
from hypothesis import example, given, settings
from hypothesis import strategies as st
from nodepeer import node_path

from primus_tx import ParserError, PrimusError
from primus_tx.parsers import JSRegExp, find_parser
from primus_tx.parsers.ejson import (
    add_type,
    decode,
    encode,
    js_number,
    remove_type,
)

UTC = timezone.utc


def at_ms(ms: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


# (Python value, the text npm ejson writes for the same JavaScript value)
VECTORS = [
    ("", '""'),
    ("😀", '"😀"'),
    ("a\u2028b", '"a\\u2028b"'),
    ('\n\t"\\\x01\x7f/', '"\\n\\t\\"\\\\\\u0001\x7f/"'),
    (-0.0, "0"),
    (1.5, "1.5"),
    (math.nan, '{"$InfNaN":0}'),
    (math.inf, '{"$InfNaN":1}'),
    (-math.inf, '{"$InfNaN":-1}'),
    (True, "true"),
    (None, "null"),
    ({"b": 1, "a": 2, "10": 3, "2": 4}, '{"2":4,"10":3,"b":1,"a":2}'),
    (b"\x01\x02\x03", '{"$binary":"AQID"}'),
    (b"", '{"$binary":""}'),
    (bytes([255, 254, 253, 252]), '{"$binary":"//79/A=="}'),
    (at_ms(0), '{"$date":0}'),
    (at_ms(1700000000000), '{"$date":1700000000000}'),
    (at_ms(-1), '{"$date":-1}'),
    ({"$date": 5}, '{"$escape":{"$date":5}}'),
    ({"$escape": 1}, '{"$escape":{"$escape":1}}'),
    ({"$type": "x", "$value": 1}, '{"$escape":{"$type":"x","$value":1}}'),
    ({"$binary": "AQID", "x": 1}, '{"$binary":"AQID","x":1}'),
    ({"$InfNaN": 1, "y": 2}, '{"$InfNaN":1,"y":2}'),
    (JSRegExp("a.b", "gi"), '{"$regexp":"a.b","$flags":"gi"}'),
    ({"a": {"$date": at_ms(5)}}, '{"a":{"$escape":{"$date":{"$date":5}}}}'),
    ([math.nan, -0.0, math.inf], '[{"$InfNaN":0},0,{"$InfNaN":1}]'),
    ({"x": {"$escape": {"$date": 1}}}, '{"x":{"$escape":{"$escape":{"$escape":{"$date":1}}}}}'),
    (2**53, "9007199254740992"),
    (1e21, "1e+21"),
    (1e-7, "1e-7"),
    (1e-6, "0.000001"),
    (1e16, "10000000000000000"),
    (2.0**63, "9223372036854776000"),
    (5e-324, "5e-324"),
    ("primus::ping::1700000000000", '"primus::ping::1700000000000"'),
]


@pytest.mark.parametrize(("value", "wire"), VECTORS)
def test_vectors_encode(value: Any, wire: str) -> None:
    assert encode(value) == wire


@pytest.mark.parametrize(("value", "wire"), VECTORS)
def test_vectors_decode(value: Any, wire: str) -> None:
    assert same(decode(wire), value)


@pytest.mark.parametrize(
    ("wire", "value"),
    [
        ('{"$date":"2020-01-02T03:04:05Z"}', datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ('{"$date":1.5}', at_ms(1.5)),
        ('{"$date":null}', at_ms(0)),
        ('{"$binary":"AQI="}', b"\x01\x02"),
        ('{"$binary":"AQI"}', b"\x01\x02"),
        ('{"$binary":"!!!!"}', b"\x00\x00\x00"),
        ('{"$InfNaN":5}', math.inf),
        ('[{"$InfNaN":-1}]', [-math.inf]),
        ('{"$escape":{"a":{"$date":5}}}', {"a": at_ms(5)}),
        ('{"$escape":5}', {}),
        ('{"$date":5,"$x":1}', {"$date": 5, "$x": 1}),
        ('{"$date":5,"x":1}', {"$date": 5, "x": 1}),
        ('{"$regexp":"a","$flags":"gxgi"}', JSRegExp("a", "gi")),
        ('{"a":[{"$date":0}]}', {"a": [at_ms(0)]}),
        (' {"a" : 1} ', {"a": 1}),
        ('"\\u2028"', "\u2028"),
    ],
)
def test_decoding_edge_cases(wire: str, value: Any) -> None:
    assert same(decode(wire), value)


def test_js_number_layout() -> None:
    for value, text in [
        (123.456, "123.456"),
        (1.5e-6, "0.0000015"),
        (-1e-7, "-1e-7"),
        (1e20, "100000000000000000000"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (123456789012345680000.0, "123456789012345680000"),
        (3.0, "3"),
    ]:
        assert js_number(value) == text


# -- the mapping ------------------------------------------------------------------------


def test_datetimes_keep_microseconds_for_python_peers() -> None:
    moment = datetime(2020, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=-3)))
    assert encode(moment) == '{"$date":1588759689123.456}'
    assert decode(encode(moment)) == moment


def test_big_ints_keep_every_digit() -> None:
    assert encode(2**70) == str(2**70)
    assert decode(encode([2**64 + 1])) == [2**64 + 1]


def test_custom_types() -> None:
    class Point:
        def __init__(self, x: int, y: int) -> None:
            self.x, self.y = x, y

    add_type("point", Point, lambda p: [p.x, p.y], lambda v: Point(*v))
    try:
        with pytest.raises(PrimusError):
            add_type("point", Point, lambda p: p, lambda v: v)
        assert encode({"p": Point(1, 2)}) == '{"p":{"$type":"point","$value":[1,2]}}'
        back = decode(encode({"p": Point(1, 2)}))["p"]
        assert isinstance(back, Point) and (back.x, back.y) == (1, 2)
    finally:
        remove_type("point")
    with pytest.raises(ParserError, match="Custom EJSON type point is not defined"):
        decode('{"$type":"point","$value":[1,2]}')


# -- hostile input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wire",
    [
        "",
        '{"a":',  # truncated
        "[1,]",
        "NaN",
        "\ufeff1",
        '"a\tb"',  # a raw control character
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        '{"$type":"nobody","$value":1}',
        '{"$binary":5}',
        '{"$binary":"=AAA"}',
        '{"$date":"yesterday"}',
        '{"$date":1e300}',
        '{"$regexp":1,"$flags":"g"}',
        b'"\xff\xfe"',  # a binary frame (here: invalid UTF-8 too)
        b"{}",
    ],
)
def test_hostile_input_is_a_parser_error(wire: Any) -> None:
    with pytest.raises(ParserError):
        decode(wire)


# -- properties -------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(values(int_range=(-(2**70), 2**70)))
def test_round_trip(value: Any) -> None:
    message = encode(value)
    assert "\u2028" not in message and "\u2029" not in message
    assert same(decode(message), value)


# -- against npm ejson and our browser codec --------------------------------------------


def test_vectors_against_the_npm_codec_and_ours() -> None:
    check_against_npm("ejson", [value for value, _ in VECTORS])


@settings(max_examples=8, deadline=None)
@given(st.lists(values(), min_size=20, max_size=20))
# astral characters (surrogate pairs in JavaScript) in keys and values
@example([{"\U00010000": False, "00": None}, {"a😀": ["😀" * 20, {"\U0010ffff": "é€😀"}]}])
def test_random_values_against_the_npm_codec(batch: list[Any]) -> None:
    check_against_npm("ejson", batch)


def test_npm_decode_errors_match_ours() -> None:
    hostile = ["", '{"a":', "NaN", '{"$type":"nobody","$value":1}', b"{}"]
    result = codec_peer("ejson", decode=hostile)
    for row in result["decode"]:
        assert "error" in row["npm"] and "error" in row["ours"]


def test_custom_types_in_our_browser_codec() -> None:
    # Primus.EJSON.addType, as the docs say, in the library's own scope
    # (`Primus` exists there), against the Python registration.
    node = node_path()
    script = (
        "const Primus = {};\n"
        + find_parser("ejson").library()
        + """
function Point(x, y) { this.x = x; this.y = y; }
Point.prototype.typeName = function () { return 'point'; };
Point.prototype.toJSONValue = function () { return [this.x, this.y]; };
Primus.EJSON.addType('point', (v) => new Point(v[0], v[1]));
const out = {};
encoder({ p: new Point(1, 2) }, (err, text) => { out.text = text; });
decoder(out.text, (err, value) => { out.back = value.p instanceof Point && value.p.y === 2; });
decoder('{"$type":"nobody","$value":1}', (err) => { out.error = String(err && err.message); });
process.stdout.write(JSON.stringify(out));
"""
    )
    result = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)

    class Point:
        def __init__(self, x: int, y: int) -> None:
            self.x, self.y = x, y

    add_type("point", Point, lambda p: [p.x, p.y], lambda v: Point(*v))
    try:
        assert out["text"] == encode({"p": Point(1, 2)})
    finally:
        remove_type("point")
    assert out["back"] is True
    assert out["error"] == "Custom EJSON type nobody is not defined"
