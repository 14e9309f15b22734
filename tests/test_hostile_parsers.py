"""
Hostile messages for every non-JSON parser, through a real server: each is
answered with Primus's "Failed to decode incoming data" error on the spark,
the message is dropped, the connection stays open and the next message gets
through.  (The codecs' own tests cover many more inputs; this proves the
whole path.)
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from hostile_helpers import OP_BINARY, OP_TEXT, frame, hostile_server, wait_until

from primus_tx import ParserError
from primus_tx.parsers import find_parser

HOSTILE: dict[str, dict[str, Any]] = {
    "msgpack": {
        "truncated": bytes.fromhex("a56865"),
        "unknown type byte": bytes.fromhex("c1"),
        "length beyond the frame": bytes.fromhex("dbffffffff61"),
        "count beyond the frame": bytes.fromhex("ddffffffff"),
        "nested 100,000 deep": b"\x91" * 100_000,
        "unregistered extension type": bytes.fromhex("d42a00"),
        "invalid UTF-8 in a string": bytes.fromhex("a2fffe"),
        "a text frame": "hello",
    },
    "binary": {
        "truncated": bytes.fromhex("b56865"),
        "unknown type byte": bytes.fromhex("c403010203"),
        "length beyond the frame": bytes.fromhex("d9ffffffff61"),
        "count beyond the frame": bytes.fromhex("ddffffffff"),
        "nested 100,000 deep": b"\x91" * 100_000,
        "invalid UTF-8 in a string": bytes.fromhex("b2fffe"),
        "a text frame": "hello",
    },
    "ejson": {
        "truncated": '{"a":[1,',
        "not JSON": "{'a': 1}",
        "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
        "unregistered $type": '{"$type":"nobody","$value":1}',
        "bad $binary": '{"$binary":"=AAA"}',
        # a text frame of invalid UTF-8 is a WebSocket violation (closed
        # 1007, as ws does) before any parser sees it; in a binary frame it
        # reaches the parser, which refuses binary as EJSON.parse does
        "invalid UTF-8 (in a binary frame)": b'"\xff\xfe"',
    },
}
CASES = [(name, case) for name in sorted(HOSTILE) for case in HOSTILE[name]]


@pytest.mark.parametrize(("name", "case"), CASES)
@pytest_twisted.ensureDeferred
async def test_hostile_message_is_reported_dropped_and_survived(
    reactor: Any, name: str, case: str
) -> None:
    parser = find_parser(name)
    async with hostile_server(reactor, parser=name, ping_interval=0) as h:
        client = await h.ws()
        spark = h.spark_of(-1)
        hostile = HOSTILE[name][case]
        if isinstance(hostile, str):
            client.send(frame(OP_TEXT, hostile.encode("utf-8")))
        else:
            client.send(frame(OP_BINARY, hostile))
        await wait_until(reactor, lambda: h.errors_of(spark), 3.0, "the spark error")

        [error] = h.errors_of(spark)
        assert isinstance(error, ParserError)
        assert str(error).startswith("Failed to decode incoming data: ")
        assert [d for s, d in h.data if s is spark] == []
        assert not client.close_received and not client.lost
        assert spark.ready_state == spark.OPEN

        # the next message arrives and is echoed, in the parser's frame type
        value = {"next": [1, "two", None]}
        message = parser.encode(value)
        opcode = OP_BINARY if parser.binary else OP_TEXT
        payload = message if isinstance(message, bytes) else message.encode("utf-8")
        client.send(frame(opcode, payload))
        await wait_until(reactor, lambda: (opcode, payload) in client.messages, 3.0, "the echo")
        assert [d for s, d in h.data if s is spark] == [value]
        assert len(h.errors_of(spark)) == 1
