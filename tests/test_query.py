"""
Query strings parsed as Node's ``querystring.parse`` does (what a Primus
spark's ``query`` is), checked on examples and against Node itself.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from primus_tx._http import query_of
from primus_tx._query import MAX_PAIRS, parse_query
from tests.conftest import require_tool
from tests.fakes import make_request

CASES = {
    "": {},
    "foo=bar": {"foo": "bar"},
    "foo=bar&foo=baz": {"foo": ["bar", "baz"]},
    "a=1&a=2&a=3&b=4": {"a": ["1", "2", "3"], "b": "4"},
    "x=a+b&y=a%20b&z=%2B": {"x": "a b", "y": "a b", "z": "+"},
    "a": {"a": ""},
    "a=": {"a": ""},
    "=b": {"": "b"},
    "a=1=2": {"a": "1=2"},
    "&&a=1&": {"a": "1"},
    "a[]=1&a[]=2": {"a[]": ["1", "2"]},
    "%C3%A9t%C3%A9=caf%C3%A9": {"été": "café"},
    "bad=%zz&worse=%": {"bad": "%zz", "worse": "%"},
    "k+1=v+1": {"k 1": "v 1"},
    "_primuscb=Q8Kql_y&x=1": {"_primuscb": "Q8Kql_y", "x": "1"},
}


@pytest.mark.parametrize(("query", "expected"), list(CASES.items()))
def test_parse_query(query: str, expected: dict) -> None:
    assert parse_query(query) == expected


def test_stops_after_max_pairs() -> None:
    query = "&".join(f"k{i}=v" for i in range(MAX_PAIRS + 50))
    parsed = parse_query(query)
    assert len(parsed) == MAX_PAIRS == 1000
    assert "k999" in parsed and "k1000" not in parsed


def test_same_as_node_querystring() -> None:
    node = require_tool("node")
    script = (
        "const qs=require('querystring');let s='';"
        "process.stdin.on('data',c=>s+=c).on('end',()=>{"
        "process.stdout.write(JSON.stringify(JSON.parse(s).map(q=>qs.parse(q))))})"
    )
    queries = list(CASES)
    result = subprocess.run(
        [node, "-e", script],
        input=json.dumps(queries).encode(),
        capture_output=True,
        timeout=30,
        check=True,
    )
    expected = json.loads(result.stdout)
    assert [parse_query(q) for q in queries] == expected


def test_query_of_a_request() -> None:
    assert query_of(make_request(b"/primus?foo=bar&foo=baz&x=a+b")) == {
        "foo": ["bar", "baz"],
        "x": "a b",
    }
    assert query_of(make_request(b"/primus")) == {}
    assert query_of(make_request(b"/primus?")) == {}
