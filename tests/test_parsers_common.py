"""
What every primus-tx codec promises beyond its own wire format: a value it
cannot carry unchanged is a ParserError naming the value's type, and so is
a value nested too deep or circular (never a RecursionError).
"""

from __future__ import annotations

import json
import random
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nodepeer import node_path

import primus_tx.parsers
from primus_tx import ParserError
from primus_tx.interfaces import INamedParser, IParser
from primus_tx.parsers import find_parser

PARSERS = ["binary", "ejson", "msgpack"]


@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({1, 2}, "set"),
        (frozenset(), "frozenset"),
        ({1: 2}, "dict key of type int"),
        ({(1, 2): 2}, "dict key of type tuple"),
        (datetime(2020, 1, 1), "datetime"),
        (object(), "object"),
        (1j, "complex"),
        ([1, {"a": {2, 3}}], "set"),
    ],
)
def test_unencodable_values_name_their_type(name: str, value: Any, named: str) -> None:
    with pytest.raises(ParserError, match=named):
        find_parser(name).encode(value)


@pytest.mark.parametrize("name", PARSERS)
def test_deep_and_circular_values_are_refused(name: str) -> None:
    encode = find_parser(name).encode
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ParserError, match="nested"):
        encode(deep)
    circular: dict[str, Any] = {}
    circular["self"] = circular
    with pytest.raises(ParserError):
        encode(circular)
    listed: list[Any] = []
    listed.append({"x": listed})
    with pytest.raises(ParserError):
        encode(listed)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PARSERS), st.binary(max_size=200) | st.text(max_size=60))
def test_random_input_decodes_or_fails_cleanly(name: str, message: Any) -> None:
    try:
        find_parser(name).decode(message)
    except ParserError:
        pass


@pytest.mark.parametrize(
    ("name", "binary"), [("binary", True), ("ejson", False), ("msgpack", True)]
)
def test_parser_objects(name: str, binary: bool) -> None:
    parser = find_parser(name)
    assert IParser.providedBy(parser) and INamedParser.providedBy(parser)
    assert parser.name == name and parser.binary is binary
    assert find_parser(name.upper()) is parser and find_parser(parser) is parser
    source = parser.library()
    assert "function encoder(" in source and "function decoder(" in source


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("msgpack", "dbffffffff61"),  # a 4 GiB string
        ("msgpack", "c6ffffffff"),  # binary
        ("msgpack", "c9ffffffff0d"),  # extension
        ("msgpack", "ddffffffff"),  # array
        ("msgpack", "dfffffffff"),  # map
        ("binary", "d9ffffffff61"),
        ("binary", "dbffffffff"),
        ("binary", "ddffffffff"),
        ("binary", "dfffffffff"),
    ],
)
def test_declared_lengths_beyond_the_message_are_not_allocated(name: str, message: str) -> None:
    try:
        import tracemalloc
    except ImportError:  # PyPy: the refusal is still checked
        tracemalloc = None  # type: ignore[assignment]
    if tracemalloc is not None:
        tracemalloc.start()
    try:
        with pytest.raises(ParserError):
            find_parser(name).decode(bytes.fromhex(message))
        if tracemalloc is not None:
            assert tracemalloc.get_traced_memory()[1] < 1 << 20
    finally:
        if tracemalloc is not None:
            tracemalloc.stop()


@pytest.mark.parametrize("name", PARSERS)
def test_the_served_library_carries_the_parsers_browser_codec(name: str) -> None:
    from twisted.internet.task import Clock

    from primus_tx import Primus

    primus = Primus(None, parser=name, reactor=Clock())
    assert find_parser(name).library() in primus.library()
    assert primus.spec["parser"] == name


def test_utf8_without_text_encoder_is_what_text_encoder_does() -> None:
    # common.js carries its own UTF-8 for browsers without TextEncoder and
    # TextDecoder: astral characters, lone surrogates and invalid bytes as
    # they (and Node, and the npm codecs) handle them.
    rng = random.Random(8)
    texts = ["\U00010000", "a😀b", "\U0010ffff", "é€😀" * 3, "x", ""]
    lone = ["\\ud800", "x\\udc00", "\\ud83d\\ude00\\ud83d"]  # JavaScript escapes
    hexes = ["f0908080", "f48fbfbf", "f4908080", "f08f8080", "eda080", "e08080", "c0af"]
    hexes += ["f8808080", "ff", "f09080", "f0908041", "e0a0", "edbfbf", "c2", "80"]
    for _ in range(3000):
        hexes.append(
            bytes(
                rng.choice((rng.randrange(0x80, 0xC0), rng.randrange(256)))
                for _ in range(rng.randrange(1, 7))
            ).hex()
        )
    common = (Path(primus_tx.parsers.__file__).parent / "common.js").read_text("utf-8")
    script = f"""
const vm = require('vm');
const box = vm.createContext({{ Uint8Array, ArrayBuffer, DataView }});
vm.runInContext({json.dumps(common)} + '\\nthis.e = encodeUtf8; this.d = decodeUtf8;', box);
const texts = {json.dumps(texts)}.concat([{", ".join(f'"{s}"' for s in lone)}]);
const hexes = {json.dumps(hexes)};
const wrong = [];
for (const t of texts) {{
  const ours = Buffer.from(box.e(t)).toString('hex');
  if (ours !== Buffer.from(t).toString('hex')) wrong.push(['encode', t, ours]);
}}
for (const h of hexes) {{
  const ours = box.d(new Uint8Array(Buffer.from(h, 'hex')));
  if (ours !== new TextDecoder().decode(Buffer.from(h, 'hex'))) wrong.push(['decode', h, ours]);
}}
process.stdout.write(JSON.stringify(wrong));
"""
    result = subprocess.run([node_path(), "-e", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
