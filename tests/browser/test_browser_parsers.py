"""
The browser library with each non-JSON parser, in headless Chromium against
a primus-tx server using the same parser: random values go there and back,
compared value by value, and the browser's messages byte by byte with what
primus-tx's Python codec writes for the same values.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from codecs_helpers import has_bytes, js_tagged, random_values, same

from primus_tx.parsers import find_parser

TYPED = (Path(__file__).parent.parent / "js" / "values.js").read_text("utf-8")

#: parser -> what of the random values it carries (see codecs_helpers)
KINDS: dict[str, dict[str, bool]] = {
    "binary": {"dates": False},
    "ejson": {},
    "msgpack": {},
}
CASES = [
    ("binary", "websockets"),
    ("binary", "engine.io"),
    ("binary", "engine.io polling"),
    ("ejson", "websockets"),
    ("ejson", "sockjs"),
    ("msgpack", "websockets"),
    ("msgpack", "engine.io"),
    ("msgpack", "engine.io polling"),
]


def wire_of(message: Any) -> dict[str, str]:
    if isinstance(message, str):
        return {"text": message}
    return {"hex": bytes(message).hex()}


@pytest.mark.parametrize(("name", "transformer"), CASES)
def test_random_values_there_and_back(
    server_factory: Any, page_factory: Any, name: str, transformer: str
) -> None:
    codec = find_parser(name)
    values = random_values(len(name) * 13 + len(transformer), 30, **KINDS[name])
    # "engine.io polling": the client never upgrades (base64 "b" packets)
    options = "{websockets: false}" if transformer.endswith(" polling") else "{}"
    transformer = transformer.split()[0]
    server = server_factory("--parser", name, "--transformer", transformer, "--ping-interval", "0")
    page = page_factory(server.url)
    page.evaluate(TYPED)
    page.evaluate(
        f"() => {{ window.primus = new Primus({options}); window.log = record(window.primus);"
        " window.got = []; window.errors = [];"
        " window.primus.on('data', (d) => window.got.push(typed.describe(d)));"
        " window.primus.on('error', (e) => window.errors.push(String(e && e.message))); }"
    )
    page.wait_for_function("() => window.log.includes('open')")
    tagged = [js_tagged(value) for value in values]
    page.evaluate("(values) => values.forEach((t) => window.primus.write(typed.build(t)))", tagged)
    page.wait_for_function(f"() => window.got.length === {len(values)}", timeout=15000)

    # the server read each browser message as the value, and (but where our
    # browser msgpack sends a Uint8Array, which msgpack-lite also writes as
    # an extension type) the browser wrote what primus-tx writes
    raws = server.control("raw")
    assert len(raws) == len(values)
    for value, raw in zip(values, raws):
        message = raw["text"] if "text" in raw else bytes.fromhex(raw["hex"])
        assert same(codec.decode(message), value), value
        if not (name == "msgpack" and has_bytes(value)):
            assert raw == wire_of(codec.encode(value)), value

    # the echo: the browser read primus-tx's messages as the values
    got = page.evaluate("() => window.got")
    assert got == [js_tagged(value, keep_negative_zero=False) for value in values]
    assert page.evaluate("() => window.errors") == []
    if options != "{}":
        assert page.evaluate("() => window.primus.socket.transport") == "polling"


#: what each browser codec refuses: an unused type byte, an unknown $type
HOSTILE = {
    "binary": "new Uint8Array([0xc4, 1]).buffer",
    "ejson": '\'{"$type":"nobody","$value":1}\'',
    "msgpack": "new Uint8Array([0xc1]).buffer",
}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_undecodable_message_is_an_error_and_the_connection_stays(
    server_factory: Any, page_factory: Any, name: str
) -> None:
    server = server_factory("--parser", name, "--ping-interval", "0")
    page = page_factory(server.url)
    page.evaluate(
        "() => { window.primus = new Primus(); window.log = record(window.primus);"
        " window.got = []; window.errors = [];"
        " window.primus.on('data', (d) => window.got.push(d));"
        " window.primus.on('error', (e) => window.errors.push(String(e && e.message))); }"
    )
    page.wait_for_function("() => window.log.includes('open')")
    # as the transport hands a message over
    page.evaluate(f"() => window.primus.emit('incoming::data', {HOSTILE[name]})")
    assert len(page.evaluate("() => window.errors")) == 1
    assert page.evaluate("() => window.got") == []
    page.evaluate("() => window.primus.write('still here')")
    page.wait_for_function("() => window.got.includes('still here')")
    assert page.evaluate("() => window.primus.readyState") == 3
    assert page.evaluate("() => window.log.filter((e) => e === 'end' || e === 'close')") == []


def test_custom_parser_published_as_a_twisted_plugin(
    server_factory: Any, page_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The docs' example (docs/examples/custom_parser), found by name by the
    # server, its JavaScript half served in /primus/primus.js.
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "custom_parser"
    shutil.copytree(example, tmp_path / "example")
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv(
        "PYTHONPATH", str(tmp_path / "example") + (os.pathsep + path if path else "")
    )
    server = server_factory("--parser", "utf8-json", "--ping-interval", "0")
    page = page_factory(server.url)
    page.evaluate(
        "() => { window.primus = new Primus(); window.log = record(window.primus);"
        " window.got = []; window.primus.on('data', (d) => window.got.push(d)); }"
    )
    page.wait_for_function("() => window.log.includes('open')")
    value = {"text": "h\u00e9llo \U0001f600", "n": [1, 2.5, None, True]}
    page.evaluate("(v) => window.primus.write(v)", value)
    page.wait_for_function("() => window.got.length === 1")
    assert page.evaluate("() => window.got") == [value]
    [raw] = server.control("raw")
    assert bytes.fromhex(raw["hex"]) == json.dumps(
        value, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
