"""
The engine.io transformer on a real loopback server: the WebSocket and
upgrade checks of the official Engine.IO v4 protocol test-suite (ported),
which fakes cannot model, and session clean-up after real disconnects.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
import pytest_twisted
from eio_loopback import LiveEngine
from hostile_helpers import (
    OP_BINARY,
    OP_TEXT,
    WSClient,
    connect_raw,
    connect_ws,
    frame,
    sleep,
    upgrade_request,
    wait_until,
)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + "?" + parts.query


async def _ws(live: LiveEngine, sid: str = "") -> WSClient:
    client = await connect_ws(live.reactor, live.number, request=upgrade_request(_path(live.url("websocket", sid))))
    client.auto_pong = False
    return client


async def _next(live: LiveEngine, client: WSClient, count: int) -> list:
    await wait_until(live.reactor, lambda: len(client.messages) >= count or client.lost, 2.0, f"{count} messages")
    return client.messages[count - 1] if len(client.messages) >= count else None


async def _probed(live: LiveEngine) -> tuple[str, WSClient]:
    """
    A polling session whose probe WebSocket has answered, its pending poll
    released: the moment a client sends ``5``.
    """
    sid = await live.handshake()
    client = await _ws(live, sid)
    client.send_text("2probe")
    assert await _next(live, client, 1) == (OP_TEXT, b"3probe")
    assert await live.fetch("GET", live.url("polling", sid)) == (200, b"6")
    return sid, client


@pytest_twisted.async_yield_fixture()
async def live(reactor):
    server = LiveEngine(reactor)
    yield server
    await server.stop()


@pytest_twisted.ensureDeferred
async def test_websocket_session_opens_with_no_upgrades(live):
    client = await _ws(live)
    op, payload = await _next(live, client, 1)
    text = payload.decode()
    assert op == OP_TEXT and text.startswith("0")
    info = json.loads(text[1:])
    assert set(info) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert info["upgrades"] == []
    assert live.sparks[0].id == info["sid"]
    client.close()
    await wait_until(live.reactor, lambda: not live.server.sessions, 2.0, "the session to go")


@pytest.mark.parametrize("query", ["transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc"])
@pytest_twisted.ensureDeferred
async def test_websocket_bad_query_is_refused(live, query):
    client = await connect_raw(live.reactor, live.number, WSClient)
    client.send(upgrade_request(f"/engine.io/?{query}"))
    await wait_until(live.reactor, lambda: client.lost, 2.0, "the refusal")
    assert bytes(client.received).startswith(b"HTTP/1.1 400")
    assert live.server.sessions == {}


@pytest_twisted.ensureDeferred
async def test_websocket_text_and_binary_echo(live):
    client = await _ws(live)
    await _next(live, client, 1)
    client.send_text("4hello")
    assert await _next(live, client, 2) == (OP_TEXT, b"4hello")
    client.send(frame(OP_BINARY, b"\x01\x02\x03\x04"))
    assert await _next(live, client, 3) == (OP_BINARY, b"\x01\x02\x03\x04")
    assert live.data == ["hello", b"\x01\x02\x03\x04"]
    client.close()


@pytest.mark.parametrize("bad", ["abc", "1"])
@pytest_twisted.ensureDeferred
async def test_websocket_invalid_packet_or_close_packet_closes(live, bad):
    client = await _ws(live)
    await _next(live, client, 1)
    client.send_text(bad)
    await wait_until(live.reactor, lambda: client.lost, 2.0, "the server to close")
    assert live.server.sessions == {} and live.primus.connections == {}


@pytest_twisted.ensureDeferred
async def test_websocket_ping_pong_and_ping_timeout(live):
    client = await _ws(live)
    await _next(live, client, 1)
    for n in range(3):
        assert await _next(live, client, 2 + n) == (OP_TEXT, b"2")
        client.send_text("3")
    await wait_until(live.reactor, lambda: client.lost, 2.0, "the ping timeout")
    assert live.server.sessions == {}


@pytest_twisted.ensureDeferred
async def test_upgrade_from_polling(live):
    sid, client = await _probed(live)
    client.send_text("5")
    client.send_text("4hello")
    assert await _next(live, client, 2) == (OP_TEXT, b"4hello")
    assert live.server.sessions[sid].transport == "websocket"
    client.close()
    await wait_until(live.reactor, lambda: not live.server.sessions, 2.0, "the session to go")


@pytest_twisted.ensureDeferred
async def test_spark_end_during_an_upgrade_goes_out_on_the_new_transport(live):
    # Once the probe has answered, engine.io-client stops polling until it
    # has switched: the close packet waits for the switch rather than for a
    # poll that will not come (closing the probe would leave the client
    # waiting for its ping timeout).
    _, client = await _probed(live)
    live.sparks[0].end()
    await sleep(live.reactor, 0.05)
    assert not client.lost
    client.send_text("5")
    await wait_until(live.reactor, lambda: client.close_received, 2.0, "the close frame")
    texts = [payload for op, payload in client.messages if op == OP_TEXT]
    assert texts[-2:] == [b"4primus::server::close", b"1"]
    await wait_until(live.reactor, lambda: not live.server.sessions, 2.0, "the session to go")


@pytest_twisted.ensureDeferred
async def test_upgrade_probe_then_upgrade_without_waiting(live):
    sid = await live.handshake()
    client = await _ws(live, sid)
    client.send_text("2probe")
    client.send_text("5")
    await _next(live, client, 1)
    status, body = await live.fetch("GET", live.url("polling", sid))
    assert status == 400 and json.loads(body)["code"] == 3
    client.send_text("4hello")
    assert await _next(live, client, 2) == (OP_TEXT, b"4hello")
    client.close()


@pytest_twisted.ensureDeferred
async def test_second_websocket_for_an_upgraded_session_is_accepted_then_closed(live):
    """
    As engine.io (protocol test-suite "ignores WebSocket connection with
    same sid after upgrade"): the handshake succeeds, then the socket is
    closed; the session goes on over the first one.
    """
    sid = await live.handshake()
    client = await _ws(live, sid)
    client.send_text("2probe")
    await _next(live, client, 1)
    client.send_text("5")
    other = await connect_raw(live.reactor, live.number, WSClient)
    other.send(upgrade_request(_path(live.url("websocket", sid))))
    await wait_until(live.reactor, lambda: other.lost or other.close_received, 2.0, "the close")
    assert bytes(other.received).startswith(b"HTTP/1.1 101")
    assert other.messages == [] and other.close_received
    client.send_text("4hello")
    assert await _next(live, client, 2) == (OP_TEXT, b"4hello")
    client.close()


@pytest_twisted.ensureDeferred
async def test_bad_probe_leaves_the_session_on_polling(live):
    sid = await live.handshake()
    client = await _ws(live, sid)
    client.send_text("4sneaky")
    await wait_until(live.reactor, lambda: client.lost, 2.0, "the probe to close")
    session = live.server.sessions[sid]
    assert session.transport == "polling" and session.probe is None
    assert await live.fetch("POST", live.url("polling", sid), b"4still here") == (200, b"ok")
    assert await live.fetch("GET", live.url("polling", sid)) == (200, b"4still here")


@pytest_twisted.ensureDeferred
async def test_a_vanished_websocket_ends_the_spark(live):
    client = await _ws(live)
    await _next(live, client, 1)
    client.tcp.abortConnection()
    await wait_until(live.reactor, lambda: not live.primus.connections, 2.0, "the spark to end")
    assert live.server.sessions == {}
    assert live.sparks[0].ready_state == live.sparks[0].CLOSED


@pytest_twisted.ensureDeferred
async def test_a_client_vanishing_mid_poll_ends_the_session(live):
    sid = await live.handshake()
    raw = await connect_raw(live.reactor, live.number)
    raw.send(f"GET {_path(live.url('polling', sid))} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await sleep(live.reactor, 0.05)
    assert live.server.sessions[sid]._poll is not None
    raw.tcp.abortConnection()
    await wait_until(live.reactor, lambda: not live.server.sessions, 2.0, "the session to go")
    assert live.primus.connections == {}


@pytest_twisted.ensureDeferred
async def test_spark_end_sends_the_close_packet_over_websocket(live):
    client = await _ws(live)
    await _next(live, client, 1)
    live.sparks[0].end()
    await wait_until(live.reactor, lambda: client.close_received, 2.0, "the close frame")
    texts = [payload for op, payload in client.messages if op == OP_TEXT]
    assert texts[-2:] == [b"4primus::server::close", b"1"]


@pytest_twisted.ensureDeferred
async def test_server_close_sends_the_close_packet_over_websocket(live):
    client = await _ws(live)
    await _next(live, client, 1)
    await live.primus.destroy()
    await wait_until(live.reactor, lambda: client.close_received, 2.0, "the close frame")
    assert client.messages[-1] == (OP_TEXT, b"1")
