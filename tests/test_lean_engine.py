"""
primus-tx's own WebSocket engine (``websockets`` and ``uws``) over real
loopback connections: what the hostile suites, which run against both
engines, do not already show — frames cut at every byte, text split inside
a character, the close handshake from either side, broadcasts, and the
fall-back to Autobahn when compression is asked for.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

import pytest
import pytest_twisted
from hostile_helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    frame,
    hostile_server,
    sleep,
    upgrade_request,
    wait_until,
)

from primus_tx.transformers.websockets import lean as _engine
from primus_tx.transformers.websockets.lean import allowed_close_code, unmask
from primus_tx.transformers.websockets.lean import frame as server_frame
from primus_tx.transformers.websockets.lean_server import LeanServer, accept_key
from primus_tx.transformers.websockets.server import WebSocketsServer


def test_accept_key_is_the_rfc_example() -> None:
    # RFC 6455 §1.3's worked example.
    assert accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize(
    "unmask", [unmask, _engine._unmask_by_int, _engine._unmask_by_loop, _engine._unmask_pypy]
)
@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 125, 126, 159, 160, 163, 65535, 65536, 100003])
def test_unmask_is_its_own_inverse(length: int, unmask: Any) -> None:
    # Every implementation, whichever this runtime uses.
    data = bytes(range(256)) * (length // 256 + 1)
    data = data[:length]
    mask = b"\x01\x80\xfe\x7f"
    masked = unmask(data, mask)
    assert masked == bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    assert unmask(masked, mask) == data


@pytest.mark.parametrize(("length", "head"), [(5, 2), (126, 4), (65535, 4), (65536, 10)])
def test_server_frames_are_unmasked_and_final(length: int, head: int) -> None:
    framed = server_frame(0x01, b"x" * length)
    assert framed[0] == 0x81
    assert not framed[1] & 0x80
    assert len(framed) == head + length


def test_close_codes() -> None:
    assert all(allowed_close_code(c) for c in (1000, 1001, 1002, 1003, 1007, 1011, 3000, 4999))
    assert not any(allowed_close_code(c) for c in (0, 999, 1004, 1005, 1006, 1012, 2999, 5000))


@pytest.mark.parametrize("size", [10, 300, 70000])
@pytest_twisted.ensureDeferred
async def test_a_frame_cut_at_every_byte_arrives_whole(reactor, size: int) -> None:
    async with hostile_server(reactor, transformer="websockets") as h:
        assert isinstance(h.primus._server, LeanServer)
        client = await h.ws()
        text = "é" * (size // 2)
        whole = frame(OP_TEXT, json.dumps(text).encode("utf-8"))
        step = 1 if size < 1000 else 997
        for start in range(0, len(whole), step):
            client.send(whole[start : start + step])
            if size < 1000:
                await sleep(reactor, 0)
        await wait_until(reactor, lambda: h.data, 5.0, "the message")
        assert [d for _, d in h.data] == [text]
        await wait_until(reactor, lambda: client.user_texts(), 5.0, "the echo")
        assert json.loads(client.user_texts()[0]) == text


@pytest_twisted.ensureDeferred
async def test_fragments_split_inside_a_character(reactor) -> None:
    async with hostile_server(reactor, transformer="websockets") as h:
        client = await h.ws()
        encoded = json.dumps("κόσμε").encode("utf-8")
        # Cut inside the two-byte characters, with a ping between fragments.
        client.send(frame(OP_TEXT, encoded[:4], fin=False))
        client.send(frame(OP_PING, b"between"))
        client.send(frame(OP_CONT, encoded[4:7], fin=False))
        client.send(frame(OP_CONT, encoded[7:], fin=True))
        client.send(frame(OP_BINARY, b"\x00\xff"))
        await wait_until(reactor, lambda: len(h.data) == 2, 2.0, "two messages")
        assert [d for _, d in h.data] == ["κόσμε", b"\x00\xff"]
        assert h.errors == []


@pytest_twisted.ensureDeferred
async def test_invalid_utf8_is_refused_before_the_message_ends(reactor) -> None:
    """
    The first fragment is already invalid: the 1007 comes without waiting
    for the rest of the message.
    """
    async with hostile_server(reactor, transformer="websockets") as h:
        client = await h.ws()
        spark = h.spark_of(-1)
        client.send(frame(OP_TEXT, b'"ok \xf4\x90\x80\x80', fin=False))
        await wait_until(reactor, lambda: client.close_received, 2.0, "a close frame")
        assert client.close_code == 1007
        await client.wait_lost(reactor)
        assert h.errors_of(spark)


@pytest_twisted.ensureDeferred
async def test_ping_is_answered_and_counts_as_a_heartbeat(reactor) -> None:
    async with hostile_server(reactor, transformer="websockets") as h:
        client = await h.ws()
        spark = h.spark_of(-1)
        beats: list[None] = []
        spark.on("heartbeat", lambda: beats.append(None))
        pongs: list[bytes] = []
        original = client._frame

        def record(fin: bool, opcode: int, payload: bytes) -> None:
            if opcode == 0x0A:
                pongs.append(payload)
            original(fin, opcode, payload)

        client._frame = record  # type: ignore[method-assign]
        client.send(frame(OP_PING, b"are you there"))
        await wait_until(reactor, lambda: pongs, 2.0, "a pong")
        assert pongs == [b"are you there"]
        assert beats == [None]


@pytest_twisted.ensureDeferred
async def test_client_close_is_echoed_and_the_server_ends_tcp(reactor) -> None:
    async with hostile_server(reactor, transformer="websockets") as h:
        client = await h.ws()
        spark = h.spark_of(-1)
        client.answer_close = False
        client.send(frame(OP_CLOSE, struct.pack("!H", 4001) + b"bye"))
        await wait_until(reactor, lambda: client.close_received, 2.0, "the close echo")
        assert client.close_code == 4001
        await client.wait_lost(reactor)
        await wait_until(reactor, lambda: spark in h.ended, 2.0, "the spark to end")
        assert h.errors == []


@pytest_twisted.ensureDeferred
async def test_spark_end_closes_without_a_code_and_waits_for_the_answer(reactor) -> None:
    async with hostile_server(reactor, transformer="websockets") as h:
        client = await h.ws()
        h.spark_of(-1).end()
        await wait_until(reactor, lambda: client.close_received, 2.0, "a close frame")
        assert client.close_code is None  # the peer sees 1005, as with Node Primus
        await client.wait_lost(reactor)


@pytest_twisted.ensureDeferred
async def test_a_client_that_never_answers_the_close_is_cut_off(reactor) -> None:
    async with hostile_server(reactor, transformer="websockets") as h:
        client = await h.ws()
        client.answer_close = False
        h.spark_of(-1).end()
        await wait_until(reactor, lambda: client.close_received, 2.0, "a close frame")
        assert not client.lost
        await client.wait_lost(reactor, timeout=3.0)


@pytest_twisted.ensureDeferred
async def test_destroy_waits_for_a_close_already_under_way(reactor, each_websocket_engine: str) -> None:
    # The spark is gone from Primus at once, but its connection is still
    # waiting for the peer's close frame: destroy() waits for it too, so
    # nothing of the connection outlives the Deferred it returns.
    async with hostile_server(reactor) as h:
        client = await h.ws()
        client.answer_close = False
        spark = h.spark_of(-1)
        closed = spark._connection.whenClosed()
        spark.end()
        await wait_until(reactor, lambda: client.close_received, 2.0, "a close frame")
        assert h.primus.connected == 0 and not client.lost
        await h.primus.destroy()
        assert closed.called


@pytest_twisted.ensureDeferred
async def test_nagle_is_off(reactor, each_websocket_engine: str, monkeypatch: Any) -> None:
    # Small messages written one after another leave at once instead of
    # waiting for the peer's delayed acknowledgement, as with ws and
    # Autobahn.  Recent twisted.web releases switch Nagle off on every HTTP
    # connection; 24.7, the oldest primus-tx supports, does not, as here.
    from twisted.web.http import HTTPChannel

    made = HTTPChannel.connectionMade

    def as_in_twisted_24_7(channel: Any) -> None:
        made(channel)
        channel.transport.setTcpNoDelay(False)

    monkeypatch.setattr(HTTPChannel, "connectionMade", as_in_twisted_24_7)
    async with hostile_server(reactor) as h:
        await h.ws()
        handle = h.spark_of(-1)._connection.transport.getHandle()
        assert handle.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


@pytest_twisted.ensureDeferred
async def test_broadcast_reaches_every_client(reactor) -> None:
    async with hostile_server(reactor, transformer="websockets") as h:
        clients = [await h.ws() for _ in range(5)]
        h.primus.write({"to": "all", "bytes": "é" * 200})
        await wait_until(
            reactor, lambda: all(c.user_texts() for c in clients), 2.0, "the broadcast"
        )
        for client in clients:
            assert json.loads(client.user_texts()[0]) == {"to": "all", "bytes": "é" * 200}


@pytest_twisted.ensureDeferred
async def test_extension_offers_are_refused(reactor) -> None:
    async with hostile_server(reactor, transformer="websockets") as h:
        offer = upgrade_request(
            extra=(("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),)
        )
        client = await h.ws(request=offer)
        assert client.header(b"sec-websocket-extensions") is None
        await h.echo_round_trip(client)


def test_compression_or_autobahn_options_mean_autobahn() -> None:
    from fakes import make_primus

    from primus_tx.transformers.websockets.server import bounded_inflation

    for name in ("websockets", "uws"):
        assert isinstance(make_primus(transformer=name)[0]._server, LeanServer)
        options = make_primus(transformer=name, transport={"autoPingInterval": 5})[0]
        assert isinstance(options._server, WebSocketsServer)
        if bounded_inflation():
            compressed = make_primus(transformer=name, compression=True)[0]
            assert isinstance(compressed._server, WebSocketsServer)
    assert isinstance(make_primus(transformer="faye")[0]._server, WebSocketsServer)


def test_the_engine_option_names_the_engine() -> None:
    """
    ``transport={"engine": ...}`` overrides the name's engine either way;
    the Autobahn engine never sees the key.
    """
    from fakes import make_primus

    autobahn = make_primus(transport={"engine": "autobahn"})[0]._server
    assert isinstance(autobahn, WebSocketsServer)
    assert isinstance(make_primus(transformer="faye", transport={"engine": "lean"})[0]._server, LeanServer)
    tuned = make_primus(transport={"engine": "autobahn", "autoPingInterval": 5})[0]._server
    assert tuned.factory.autoPingInterval == 5


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"transport": {"engine": "uwebsockets"}}, r"Unknown WebSocket engine 'uwebsockets'.*lean, autobahn"),
        ({"transport": {"engine": "lean"}, "compression": True}, r"does not compress"),
        ({"transport": {"engine": "lean", "autoPingInterval": 5}}, r"no transport options \(autoPingInterval\)"),
    ],
)
def test_an_impossible_engine_choice_fails_at_construction(options: dict[str, Any], message: str) -> None:
    from fakes import make_primus

    from primus_tx import PrimusError

    with pytest.raises(PrimusError, match=message):
        make_primus(**options)
