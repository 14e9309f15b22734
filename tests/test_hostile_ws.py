"""
Hostile WebSocket clients against the websockets transformer: malformed,
truncated, oversize and protocol-violating frames, and clients that vanish.

Each test checks what the offending client sees, what the server reports
(spark ``"error"``, server ``"log"``), that a well-behaved client connected
at the same time still gets its echo, and (through ``hostile_server``) that
nothing is left behind and no traceback reached the reactor.

The expected answers are Primus 8's (docs/protocol/primus.rst, "Framing" and
"Ending a connection"): a message that does not decode is reported and dropped
with the connection kept; a WebSocket-level violation closes the connection
with the ws library's code (1002 protocol error, 1007 invalid payload, 1009 too
big) and is reported on the spark as an error before it ends.
"""

from __future__ import annotations

import struct
import zlib

import pytest
import pytest_twisted
from hostile_helpers import (
    OP_BINARY,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    frame,
    hostile_server,
    sleep,
    upgrade_request,
    wait_until,
)

from primus_tx import ParserError

#: Every hostile client meets both WebSocket engines (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("each_websocket_engine")


class PeakMemory:
    """
    How much memory the block allocated at its peak: tracemalloc's figure
    where the runtime has it (CPython), else the growth of the process's
    maximum resident size (PyPy has no tracemalloc).
    """

    def __enter__(self) -> PeakMemory:
        try:
            import tracemalloc
        except ImportError:
            tracemalloc = None  # type: ignore[assignment]
        self._tracemalloc = tracemalloc
        if tracemalloc is not None:
            tracemalloc.start()
        else:
            self._before = _max_rss()
        self.peak = 0
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._tracemalloc is not None:
            _, self.peak = self._tracemalloc.get_traced_memory()
            self._tracemalloc.stop()
        else:
            self.peak = _max_rss() - self._before


def _max_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def _closed_with(h, client, code):
    await wait_until(h.reactor, lambda: client.close_received or client.lost, 2.0, "a close frame")
    assert client.close_received, f"no close frame; got {bytes(client.received[:200])!r}"
    assert client.close_code == code
    await client.wait_lost(h.reactor)


@pytest_twisted.ensureDeferred
async def test_well_behaved_echo_baseline(reactor):
    """
    The harness itself: two clients, echoes, clean close, nothing left.
    """
    async with hostile_server(reactor) as h:
        good = await h.ws()
        other = await h.ws()
        await h.echo_round_trip(good, "one")
        await h.echo_round_trip(other, "two")
        assert h.primus.connected == 2
        good.close()
        await _closed_with(h, good, 1000)
        await wait_until(reactor, lambda: h.primus.connected == 1, 2.0, "the spark to end")
        assert h.errors == []


@pytest_twisted.ensureDeferred
async def test_invalid_json_is_reported_and_the_connection_kept(reactor):
    async with hostile_server(reactor) as h:
        good = await h.ws()
        bad = await h.ws()
        spark = h.spark_of(-1)
        bad.send_text("{not json")
        await wait_until(reactor, lambda: h.errors_of(spark), 2.0, "the spark error")

        [error] = h.errors_of(spark)
        assert isinstance(error, ParserError)
        assert str(error).startswith("Failed to decode incoming data: ")
        assert error in h.logged_errors()
        # The message is dropped, the connection stays open...
        assert [d for s, d in h.data if s is spark] == []
        assert not bad.close_received and not bad.lost
        assert spark.ready_state == spark.OPEN
        # ...and the next good message is delivered.
        await h.echo_round_trip(bad, "after the junk")
        assert [d for s, d in h.data if s is spark] == ["after the junk"]
        await h.echo_round_trip(good)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "[" * 100_000, '{"a":', "NaN", "undefined", "'single'", '"unterminated'],
    ids=["empty", "blank", "nested-100k", "truncated", "nan", "undefined", "single-quotes", "open-string"],
)
@pytest_twisted.ensureDeferred
async def test_undecodable_text_variants_keep_the_connection(reactor, text):
    """
    What ``JSON.parse`` throws on is a ParserError here too (never a
    RecursionError escaping, even 100,000 levels deep), and the connection
    survives it.
    """
    async with hostile_server(reactor) as h:
        client = await h.ws()
        spark = h.spark_of(-1)
        client.send_text(text)
        await wait_until(reactor, lambda: h.errors_of(spark), 2.0, "the spark error")
        [error] = h.errors_of(spark)
        assert isinstance(error, ParserError)
        assert str(error).startswith("Failed to decode incoming data: ")
        assert error in h.logged_errors()
        await h.echo_round_trip(client, "next")
        assert [d for s, d in h.data if s is spark] == ["next"]


@pytest_twisted.ensureDeferred
async def test_json_javascript_accepts_is_accepted(reactor):
    """
    Inputs ``JSON.parse`` accepts although they are awkward: a lone
    surrogate escape, a NUL escape, an overflowing number (Infinity, which
    ``JSON.stringify`` writes back as ``null``), ``__proto__`` as a key.
    """
    async with hostile_server(reactor) as h:
        client = await h.ws()
        spark = h.spark_of(-1)
        for text in ['"\\ud800"', '"a\\u0000b"', "1e999999", '{"__proto__":1}']:
            client.send_text(text)
        await wait_until(
            reactor, lambda: len(client.user_texts()) == 4, 2.0, "four echoes"
        )
        assert [d for s, d in h.data if s is spark][:2] == ["\ud800", "a\x00b"]
        assert client.user_texts() == ['"\\ud800"', '"a\\u0000b"', "null", '{"__proto__":1}']
        assert h.errors == []


@pytest_twisted.ensureDeferred
async def test_binary_junk_is_delivered_as_bytes(reactor):
    """
    Primus's JSON decoder passes non-string input through: a binary frame
    arrives as the raw bytes, no error.
    """
    junk = bytes(range(256)) + b"\xff\xfe{not json"
    async with hostile_server(reactor) as h:
        good = await h.ws()
        bad = await h.ws()
        spark = h.spark_of(-1)
        bad.send(frame(OP_BINARY, junk))
        await wait_until(reactor, lambda: any(s is spark for s, _ in h.data), 2.0, "data")
        assert [d for s, d in h.data if s is spark] == [junk]
        assert h.errors == [] and h.logged_errors() == []
        # Echoed back as a binary message.
        await wait_until(reactor, lambda: (OP_BINARY, junk) in bad.messages, 2.0, "binary echo")
        await h.echo_round_trip(good)
        await h.echo_round_trip(bad, "still open")


@pytest_twisted.ensureDeferred
async def test_invalid_utf8_text_frame_closes_with_1007(reactor):
    async with hostile_server(reactor) as h:
        good = await h.ws()
        bad = await h.ws()
        spark = h.spark_of(-1)
        bad.send(frame(OP_TEXT, b'"caf\xc3\x28 \xff"'))
        await _closed_with(h, bad, 1007)
        await wait_until(reactor, lambda: spark in h.ended, 2.0, "the spark to end")
        assert [d for s, d in h.data if s is spark] == []
        await h.echo_round_trip(good)
        # Primus (docs/protocol/primus.rst, "Ending a connection"): a socket
        # error is reported on the spark and logged before the spark ends.
        assert h.errors_of(spark), "invalid UTF-8 closed the spark without an 'error' event"
        assert h.errors_of(spark)[0] in h.logged_errors()


@pytest_twisted.ensureDeferred
async def test_truncated_frame_then_client_vanishes(reactor):
    async with hostile_server(reactor) as h:
        good = await h.ws()
        bad = await h.ws()
        spark = h.spark_of(-1)
        whole = frame(OP_TEXT, b'"' + b"x" * 500 + b'"')
        bad.send(whole[: len(whole) // 3])
        await sleep(reactor, 0.05)
        assert spark.ready_state == spark.OPEN
        bad.abort()
        await wait_until(reactor, lambda: spark in h.ended, 2.0, "the spark to end")
        assert h.primus.connected == 1
        assert [d for s, d in h.data if s is spark] == []
        await h.echo_round_trip(good)


@pytest_twisted.ensureDeferred
async def test_announced_payload_over_max_length_closes_1009_before_payload(reactor):
    """
    A header announcing 512 MiB against a 64 KiB limit is refused from the
    header alone: 1009 arrives although no payload byte was sent, and the
    server allocates nothing like the announced size.
    """
    async with hostile_server(reactor, max_length=65536) as h:
        good = await h.ws()
        bad = await h.ws()
        spark = h.spark_of(-1)
        with PeakMemory() as memory:
            bad.send(frame(OP_BINARY, b"", announced_length=512 * 1024 * 1024))
            await _closed_with(h, bad, 1009)
        assert memory.peak < 8 * 1024 * 1024
        await wait_until(reactor, lambda: spark in h.ended, 2.0, "the spark to end")
        [error] = h.errors_of(spark)
        assert "Max payload size exceeded" in str(error)
        assert error in h.logged_errors()
        assert [d for s, d in h.data if s is spark] == []
        await h.echo_round_trip(good)


@pytest_twisted.ensureDeferred
async def test_fragmented_message_over_max_length_closes_1009(reactor):
    """
    Every fragment is under the limit; their sum is not.
    """
    async with hostile_server(reactor, max_length=4096) as h:
        good = await h.ws()
        bad = await h.ws()
        spark = h.spark_of(-1)
        piece = b"a" * 1500
        bad.send(frame(OP_TEXT, b'"' + piece, fin=False))
        bad.send(frame(OP_CONT, piece, fin=False))
        bad.send(frame(OP_CONT, piece, fin=False))
        bad.send(frame(OP_CONT, piece + b'"', fin=True))
        await _closed_with(h, bad, 1009)
        await wait_until(reactor, lambda: spark in h.ended, 2.0, "the spark to end")
        [error] = h.errors_of(spark)
        assert "Max payload size exceeded" in str(error)
        assert [d for s, d in h.data if s is spark] == []
        await h.echo_round_trip(good)


@pytest_twisted.ensureDeferred
async def test_message_of_exactly_max_length_is_accepted(reactor):
    """
    The boundary of the two tests above: the limit itself is allowed.
    """
    async with hostile_server(reactor, max_length=4096) as h:
        client = await h.ws()
        spark = h.spark_of(-1)
        text = "b" * (4096 - 2)
        client.send_text('"' + text + '"')
        await wait_until(reactor, lambda: any(s is spark for s, _ in h.data), 2.0, "data")
        assert [d for s, d in h.data if s is spark] == [text]
        assert h.errors == []


async def _protocol_error(reactor, bad_bytes):
    async with hostile_server(reactor) as h:
        good = await h.ws()
        bad = await h.ws()
        spark = h.spark_of(-1)
        bad.send(bad_bytes)
        await _closed_with(h, bad, 1002)
        await wait_until(reactor, lambda: spark in h.ended, 2.0, "the spark to end")
        assert [d for s, d in h.data if s is spark] == []
        await h.echo_round_trip(good)
        # Primus (docs/protocol/primus.rst, "Ending a connection"): the ws
        # error reaches the spark and the log.
        assert h.errors_of(spark), "a protocol error closed the spark without an 'error' event"
        assert h.errors_of(spark)[0] in h.logged_errors()


@pytest_twisted.ensureDeferred
async def test_unmasked_client_frame_is_a_protocol_error(reactor):
    await _protocol_error(reactor, frame(OP_TEXT, b'"naked"', mask=False))


@pytest_twisted.ensureDeferred
async def test_reserved_opcode_is_a_protocol_error(reactor):
    await _protocol_error(reactor, frame(0x3, b'"what"'))


@pytest_twisted.ensureDeferred
async def test_reserved_bits_without_extension_are_a_protocol_error(reactor):
    await _protocol_error(reactor, frame(OP_TEXT, b'"rsv"', rsv=0b100))


@pytest_twisted.ensureDeferred
async def test_control_frame_over_125_bytes_is_a_protocol_error(reactor):
    await _protocol_error(reactor, frame(OP_PING, b"p" * 126))


@pytest_twisted.ensureDeferred
async def test_fragmented_control_frame_is_a_protocol_error(reactor):
    await _protocol_error(reactor, frame(OP_PING, b"p", fin=False))


@pytest_twisted.ensureDeferred
async def test_continuation_without_a_message_is_a_protocol_error(reactor):
    await _protocol_error(reactor, frame(OP_CONT, b'"orphan"'))


@pytest_twisted.ensureDeferred
async def test_client_reset_mid_message(reactor):
    """
    The first fragment of a message, then a TCP reset: nothing delivered,
    the spark ends, the neighbour is untouched.
    """
    async with hostile_server(reactor) as h:
        good = await h.ws()
        bad = await h.ws()
        spark = h.spark_of(-1)
        bad.send(frame(OP_TEXT, b'"first half', fin=False))
        await sleep(reactor, 0.05)
        bad.reset()
        await wait_until(reactor, lambda: spark in h.ended, 2.0, "the spark to end")
        assert spark.ready_state == spark.CLOSED
        assert [d for s, d in h.data if s is spark] == []
        assert h.primus.connected == 1
        await h.echo_round_trip(good)


@pytest_twisted.ensureDeferred
async def test_client_reset_right_after_a_message(reactor):
    """
    A message followed at once by a reset: the message that arrived whole
    is still delivered (nothing else lost), then the spark ends.
    """
    async with hostile_server(reactor) as h:
        good = await h.ws()
        bad = await h.ws()
        spark = h.spark_of(-1)
        h.echo = False
        bad.send(frame(OP_TEXT, b'"last words"'))
        await wait_until(reactor, lambda: any(s is spark for s, _ in h.data), 2.0, "data")
        bad.reset()
        await wait_until(reactor, lambda: spark in h.ended, 2.0, "the spark to end")
        assert [d for s, d in h.data if s is spark] == ["last words"]
        # Writing to the vanished client is refused, not an exception.
        assert spark.write("anyone?") is False
        h.echo = True
        await h.echo_round_trip(good)


@pytest_twisted.ensureDeferred
async def test_close_frame_with_invalid_code_is_a_protocol_error(reactor):
    await _protocol_error(reactor, frame(0x8, struct.pack("!H", 999)))


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    body = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert body.endswith(b"\x00\x00\xff\xff")
    return body[:-4]


@pytest_twisted.ensureDeferred
async def test_compression_bomb_is_stopped_at_max_length(reactor):
    """
    With ``compression=True``, a permessage-deflate message of a few KB that
    inflates to 4 MB against a 64 KB limit is refused with 1009 and
    reported, as ws does; a small compressed message still works.
    """
    from primus_tx.transformers.websockets.server import bounded_inflation

    if not bounded_inflation():
        # This Autobahn inflates whole frames before checking the limit:
        # Primus refuses to turn compression on rather than be bombed.
        from twisted.internet.task import Clock

        from primus_tx import Primus, PrimusError

        with pytest.raises(PrimusError, match="compression bomb"):
            Primus(None, compression=True, reactor=Clock())
        return
    offer = upgrade_request(extra=(("Sec-WebSocket-Extensions", "permessage-deflate"),))
    async with hostile_server(reactor, compression=True, max_length=65536) as h:
        good = await h.ws(request=offer)
        assert b"permessage-deflate" in (good.header(b"sec-websocket-extensions") or b"")
        good.send(frame(OP_TEXT, _deflate(b'"small"'), rsv=0b100))
        await wait_until(reactor, lambda: any(d == "small" for _, d in h.data), 2.0, "inflated data")

        bad = await h.ws(request=offer)
        spark = h.spark_of(-1)
        bomb = _deflate(b'"' + b"0" * (4 * 1024 * 1024) + b'"')
        assert len(bomb) < 65536
        with PeakMemory() as memory:
            bad.send(frame(OP_TEXT, bomb, rsv=0b100))
            await _closed_with(h, bad, 1009)
        assert memory.peak < 8 * 1024 * 1024
        await wait_until(reactor, lambda: spark in h.ended, 2.0, "the spark to end")
        [error] = h.errors_of(spark)
        assert "Max payload size exceeded" in str(error)
        assert [d for s, d in h.data if s is spark] == []
        # The good client's replies are compressed: check it still gets a
        # message back rather than decoding it.
        before = len(good.messages)
        good.send(frame(OP_TEXT, _deflate(b'"again"'), rsv=0b100))
        await wait_until(reactor, lambda: len(good.messages) > before, 2.0, "the echo")
