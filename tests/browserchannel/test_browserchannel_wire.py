"""
BrowserChannel's wire format without I/O: chunk lengths in UTF-16 code
units, arrays as JavaScript writes them, forward-channel maps.
"""

from __future__ import annotations

import pytest

from primus_tx.transformers.browserchannel._wire import (
    BadData,
    array_json,
    chunk,
    frame_arrays,
    parse_chunks,
    parse_forward,
    utf16_length,
)


def test_lengths_count_utf16_code_units() -> None:
    assert utf16_length("abc") == 3
    assert utf16_length("\u00e9") == 1
    assert utf16_length("\U0001f600") == 2
    assert chunk("[\"\U0001f600\"]\n") == "7\n[\"\U0001f600\"]\n"


def test_arrays_as_javascript_writes_them() -> None:
    assert array_json("a\u2028b\u2029\u00e9") == '"a\\u2028b\\u2029\u00e9"'
    assert array_json(["c", "sid", None, 8]) == '["c","sid",null,8]'
    assert frame_arrays([(0, '["noop"]'), (1, '"x"')]) == '[[0,["noop"]],[1,"x"]]\n'
    with pytest.raises(ValueError):
        array_json(float("nan"))


def test_parse_chunks_keeps_partial_chunks() -> None:
    text = chunk('[[1,"\U0001f600"]]\n') + chunk("[[2,\"b\"]]\n")
    for cut in range(len(text) + 1):
        first, rest = parse_chunks(text[:cut])
        second, left = parse_chunks(rest + text[cut:])
        assert first + second == ['[[1,"\U0001f600"]]\n', '[[2,"b"]]\n'] and left == ""
    with pytest.raises(ValueError):
        parse_chunks("x\n[]")
    with pytest.raises(ValueError):
        parse_chunks("1" * 30)


def test_parse_forward() -> None:
    assert parse_forward(b"count=0", None) is None
    assert parse_forward(b"count=2&ofs=5&req0__S=a+b&req1_JSON=%7B%7D", None) == (5, ["a b", "{}"])
    assert parse_forward(b"count=1&ofs=0&req0_type=_badmap", None) == (0, [None])
    assert parse_forward(b"count=1&ofs=0&req0__S=%FF", None) == (0, ["\ufffd"])
    assert parse_forward(b'{"ofs":3,"data":["x",[1]]}', b"application/json") == (3, ["x", "[1]"])
    with pytest.raises(BadData):
        parse_forward(b"[" * 100000, b"application/json")
    for bad in (b"count=-1", b"count=1&ofs=0", b"ofs=0&req0__S=a", b"count=1&ofs=0&req0__S=a&req7__S=b"):
        with pytest.raises(BadData):
            parse_forward(bad, None)
