"""
Helpers for the parser tests: values as JavaScript sees them, tagged the
way tests/js/values.js tags them, and the npm codecs run side by side with
primus-tx's browser codecs by tests/js/codec_peer.js.
"""

from __future__ import annotations

import array
import base64
import json
import math
import struct
import subprocess
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st
from nodepeer import JS_DIR, node_path

from primus_tx.parsers._values import JSRegExp, js_items, ms_from_datetime

__all__ = [
    "codec_peer",
    "js_tagged",
    "same",
    "tagged_value",
    "values",
]

_TYPED_NAMES = {
    "b": "Int8Array",
    "h": "Int16Array",
    "H": "Uint16Array",
    "i": "Int32Array",
    "I": "Uint32Array",
    "f": "Float32Array",
    "d": "Float64Array",
}


def _num(value: float) -> list[str]:
    if math.isnan(value):
        return ["num", "nan"]
    return ["num", struct.pack(">d", value).hex()]


def js_tagged(value: Any, *, keep_negative_zero: bool = True) -> Any:
    """
    ``value`` as the JavaScript value a JavaScript peer builds or decodes
    for it, tagged (see tests/js/values.js).
    """
    kind = type(value)
    if value is None:
        return ["null"]
    if kind is bool:
        return ["bool", value]
    if kind is int:
        return _num(float(value))
    if kind is float:
        if value == 0 and not keep_negative_zero:
            value = 0.0
        return _num(value)
    if kind is str:
        return ["str", value]
    if kind in (bytes, bytearray, memoryview):
        return ["bytes", base64.b64encode(bytes(value)).decode("ascii")]
    if kind is array.array:
        return ["typed", _TYPED_NAMES[value.typecode], base64.b64encode(value.tobytes()).decode()]
    if kind is datetime:
        return ["date", _num(float(ms_from_datetime("test", value)))[1]]
    if kind is JSRegExp:
        return ["regexp", value.source, value.flags]
    if kind in (list, tuple):
        return ["list", [js_tagged(item, keep_negative_zero=keep_negative_zero) for item in value]]
    if kind is dict:
        return [
            "dict",
            [
                [key, js_tagged(item, keep_negative_zero=keep_negative_zero)]
                for key, item in js_items("test", value)
            ],
        ]
    raise TypeError(kind)


def tagged_value(tagged: Any) -> Any:
    """
    A tagged value back as the Python value primus-tx decodes it to.
    """
    tag = tagged[0]
    if tag == "null":
        return None
    if tag in ("bool", "str"):
        return tagged[1]
    if tag == "num":
        return math.nan if tagged[1] == "nan" else struct.unpack(">d", bytes.fromhex(tagged[1]))[0]
    if tag == "bytes":
        return base64.b64decode(tagged[1])
    if tag == "date":
        ms = struct.unpack(">d", bytes.fromhex(tagged[1]))[0]
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)
    if tag == "list":
        return [tagged_value(item) for item in tagged[1]]
    if tag == "dict":
        return {key: tagged_value(item) for key, item in tagged[1]}
    raise ValueError(tag)


def same(left: Any, right: Any) -> bool:
    """
    Equal as values: NaN equals NaN, an int equals the float of the same
    value (JavaScript has one number type), lists equal tuples.
    """
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, (bytes, bytearray, memoryview)) and isinstance(
        right, (bytes, bytearray, memoryview)
    ):
        return bytes(left) == bytes(right)
    if type(left) is bool or type(right) is bool:
        return type(left) is type(right) and left == right
    if {type(left), type(right)} == {int, float}:
        # JSON texts write a float of 2**53 or more as digits: same double
        return float(left) == float(right)
    return bool(left == right)


def packet(message: Any) -> dict[str, str]:
    """
    One encoded message as codec_peer.js takes and gives it.
    """
    if isinstance(message, str):
        return {"text": message}
    return {"hex": bytes(message).hex()}


def codec_peer(
    parser: str,
    encode: list[Any] = (),
    decode: list[Any] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """
    Run tests/js/codec_peer.js: the npm codec and primus-tx's browser codec
    of ``parser`` encode the tagged values ``encode`` and decode the
    packets ``decode``.
    """
    from primus_tx.parsers import find_parser

    job = {
        "parser": parser,
        "ours": find_parser(parser).library(),
        "encode": list(encode),
        "decode": [packet(item) for item in decode],
    }
    result = subprocess.run(
        [node_path(), str(JS_DIR / "codec_peer.js")],
        input=json.dumps(job).encode("utf-8"),
        capture_output=True,
        timeout=120,
        check=False,
    )
    if result.returncode:
        raise AssertionError(result.stderr.decode("utf-8", "replace"))
    return json.loads(result.stdout)  # type: ignore[no-any-return]


# -- strategies: values every JavaScript peer represents exactly ---------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
#: JavaScript objects cannot hold a "__proto__" key (setting it sets the
#: prototype): Python peers keep it, JavaScript peers lose it (documented).
_keys = _text.filter(lambda key: key != "__proto__")
_datetimes = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.just(timezone.utc),
).map(lambda d: d.replace(microsecond=d.microsecond - d.microsecond % 1000))


def values(
    *,
    floats: bool = True,
    nan: bool = True,
    dates: bool = True,
    binary: bool = True,
    int_range: tuple[int, int] = (-(2**53), 2**53),
    empty_binary: bool = True,
) -> st.SearchStrategy[Any]:
    """
    Random values that a JavaScript peer can represent exactly.
    """
    leaves = [st.none(), st.booleans(), st.integers(*int_range), _text]
    if floats:
        leaves.append(st.floats(allow_nan=nan, allow_infinity=nan))
    if dates:
        leaves.append(_datetimes)
    if binary:
        leaves.append(st.binary(min_size=0 if empty_binary else 1, max_size=300))
    return st.recursive(
        st.one_of(*leaves),
        lambda children: (
            st.lists(children, max_size=6) | st.dictionaries(_keys, children, max_size=6)
        ),
        max_leaves=20,
    )


def random_values(seed: int, count: int, **kinds: bool) -> list[Any]:
    """
    ``count`` random values a JavaScript peer represents exactly, from a
    seeded generator (for the interop tests, where hypothesis cannot drive
    a reactor): the kinds of :func:`values` (``floats``, ``nan``, ``dates``,
    ``binary``, ``empty_binary``) and ``wide_numbers`` (ints beyond 32 bits,
    infinities) are on unless turned off.
    """
    import random

    rng = random.Random(seed)
    want = {
        "floats": True,
        "nan": True,
        "dates": True,
        "binary": True,
        "empty_binary": True,
        "wide_numbers": True,
    }
    want.update(kinds)
    alphabet = 'aé€😀 \u2028\u2029"\\\n\x00\x7f\u0420\u05e9\u0642'

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.choice((0, 1, 5, 20, 40))))

    def leaf() -> Any:
        choices: list[Any] = [
            lambda: None,
            lambda: rng.random() < 0.5,
            lambda: rng.randint(-40, 200),
            lambda: rng.randint(-(2**53), 2**53),
            lambda: rng.randint(-(2**31) - 5, 2**32 + 5),
            text,
        ]
        if want["floats"]:
            choices += [
                lambda: rng.uniform(-1e6, 1e6),
                lambda: struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0],
                lambda: rng.choice((0.5, -0.0, 1e21, 1e-7, 5e-324, 1.7976931348623157e308)),
            ]
            choices.append(lambda: rng.choice((math.nan, math.inf, -math.inf)))
        if want["dates"]:
            choices.append(
                lambda: (
                    datetime(1970, 1, 1, tzinfo=timezone.utc)
                    + timedelta(milliseconds=rng.randint(-(10**13), 10**13))
                )
            )
        if want["binary"]:
            low = 0 if want["empty_binary"] else 1
            choices.append(
                lambda: bytes(rng.getrandbits(8) for _ in range(rng.choice((low, 3, 255, 300))))
            )
        value = rng.choice(choices)()
        if isinstance(value, float) and not math.isfinite(value) and not want["nan"]:
            return 0.25
        if not want["wide_numbers"] and isinstance(value, (int, float)) and type(value) is not bool:
            # node-binarypack writes only 32-bit integers and finite numbers
            if isinstance(value, int) and not -(2**31) <= value < 2**32:
                return value % 2**32
            if isinstance(value, float) and (
                math.isinf(value) or (value.is_integer() and not -(2**31) <= value < 2**32)
            ):
                return 0.25
        return value

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth > 3 or roll < 0.5:
            return leaf()
        if roll < 0.75:
            return [value(depth + 1) for _ in range(rng.choice((0, 1, 3, 16)))]
        return {text() or "k": value(depth + 1) for _ in range(rng.choice((0, 1, 3, 16)))}

    return [value(0) for _ in range(count)]


def has_bytes(value: Any) -> bool:
    """
    Whether ``value`` holds ``bytes`` somewhere.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return True
    if isinstance(value, (list, tuple)):
        return any(has_bytes(item) for item in value)
    if isinstance(value, dict):
        return any(has_bytes(item) for item in value.values())
    return False


def check_against_npm(
    name: str,
    batch: list[Any],
    ours_writes_the_same: Any = lambda value: True,
    *,
    npm_writes_the_same: Any = lambda value: True,
    browser_reads: Any = lambda value: True,
    browser_writes: Any = lambda value: True,
) -> None:
    """
    Acceptance for parser ``name``: for each value of ``batch``, the npm
    codec (in Node) writes the bytes primus-tx writes (where
    ``npm_writes_the_same(value)``) and, where ``ours_writes_the_same(value)``,
    so does our browser codec; both read primus-tx's message back as the
    JavaScript value expected for it; and primus-tx reads the npm codec's
    message back as the value.  For ``binary``, the browser build
    (js-binarypack) is checked too, where its known bugs allow.
    """
    from primus_tx.parsers import find_parser

    codec = find_parser(name)
    wires = [codec.encode(value) for value in batch]
    result = codec_peer(name, encode=[js_tagged(value) for value in batch], decode=wires)
    for value, wire, row, back in zip(batch, wires, result["encode"], result["decode"]):
        expected = js_tagged(value, keep_negative_zero=False)
        assert back["npm"] == expected, value
        assert back["ours"] == expected, value
        if "browser" in back and browser_reads(value):
            assert back["browser"] == expected, value
        if ours_writes_the_same(value):
            assert row["ours"] == packet(wire), value
        if npm_writes_the_same(value):
            assert row["npm"] == packet(wire), value
        for side, writes in (("npm", npm_writes_the_same), ("browser", browser_writes)):
            sent = row.get(side)
            if sent is not None and "error" not in sent and writes(value):
                message = sent["text"] if "text" in sent else bytes.fromhex(sent["hex"])
                assert same(codec.decode(message), value), (side, value)
