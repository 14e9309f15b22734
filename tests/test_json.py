"""
primus_tx._json: JSON read from peers, with errors that say where the text
stops being JSON and never quote it.
"""

from __future__ import annotations

import json

import pytest

from primus_tx import ParserError
from primus_tx._json import dumps_compact, loads
from primus_tx.parsers import ejson
from primus_tx.parsers import json as json_parser
from primus_tx.transformers.browserchannel._wire import BadData, parse_forward

# Not JSON at the first character: ASCII, non-ASCII (PyPy 3.9's decoder
# quoted these by one byte of their UTF-8, a str the interpreter cannot
# format), U+FFFD (what a "replace" decode of bad UTF-8 leaves), a lone
# surrogate, and a secret a client should not see echoed into logs.
_NOT_JSON = ["xyzzy", "\xe9", "\u20acx", "\ufffd", "\ud800", "s3cr\xe9t-token"]


def test_dumps_compact_is_json_stringify() -> None:
    assert dumps_compact({"a": [1, "\xe9"]}) == '{"a":[1,"\xe9"]}'


def test_loads_reads_json() -> None:
    assert loads('{"a":[1,"\xe9"]}') == {"a": [1, "\xe9"]}
    assert loads(b"[1]") == [1]


@pytest.mark.parametrize("text", _NOT_JSON)
def test_a_syntax_error_says_where_and_not_what(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        loads(text)
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.pos, error.lineno, error.colno) == (0, 1, 1)
    # (An f-string, as error messages and logs format it.)
    assert f"{error}" == "JSON syntax error: line 1 column 1 (char 0)"
    assert text not in str(error)


@pytest.mark.parametrize("text", ["[1,\xe9]", '{"a":\n\ufffd}', "[1 \xe9]"])
def test_the_position_is_of_the_first_wrong_character(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        loads(text)
    error = caught.value
    assert f"{error}" == (
        f"JSON syntax error: line {error.lineno} column {error.colno} (char {error.pos})"
    )


def test_other_errors_pass_through() -> None:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is refused")

    with pytest.raises(ValueError, match=r"^NaN is refused$"):
        loads("[NaN]", parse_constant=refuse)
    with pytest.raises(RecursionError):
        loads("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize("text", _NOT_JSON)
def test_the_json_parsers_refuse_without_quoting(text: str) -> None:
    for decode in (json_parser.parser.decode, ejson.parser.decode):
        with pytest.raises((ValueError, ParserError)) as caught:
            decode(text)
        message = f"{caught.value}"
        assert message.endswith("JSON syntax error: line 1 column 1 (char 0)")
        assert text not in message


@pytest.mark.parametrize("body", [b"\xa38\xceg!", "\xe9".encode(), b"\xff{}"])
def test_a_browserchannel_json_body_that_is_not_json(body: bytes) -> None:
    # (The first is what hypothesis found: bad UTF-8, read as U+FFFD.)
    with pytest.raises(BadData) as caught:
        parse_forward(body, b"application/json")
    assert f"{caught.value}" == "body is not JSON: JSON syntax error: line 1 column 1 (char 0)"
