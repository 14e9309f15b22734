"""
The engine.io transformer over HTTP long-polling, on fakes (a ``Clock`` and
``treq.testing.StubTreq``): the checks of the official Engine.IO v4
protocol test-suite, ported, plus the Primus-level rules (spark identity,
flow control, closing) and the hostile inputs of the issue.
"""

from __future__ import annotations

import json

import pytest
from eio_fakes import Engine, pending, result

from primus_tx import PrimusError, Spark
from primus_tx.transformers.engineio.server import EngineIOError


@pytest.fixture
def engine():
    e = Engine()
    yield e
    e.primus.destroy()
    e.clock.advance(0)


def _json(body: bytes) -> dict:
    return json.loads(body.decode("utf-8"))


# -- handshake (protocol test-suite "handshake / HTTP long-polling") ---------


def test_handshake_has_exactly_the_five_fields(engine):
    status, body, headers = engine.call("GET", engine.url())
    assert status == 200
    assert headers.getRawHeaders(b"content-type") == [b"text/plain; charset=UTF-8"]
    assert b"no-store" in headers.getRawHeaders(b"cache-control")[0]
    assert body.startswith(b"0")
    info = _json(body[1:])
    assert set(info) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert isinstance(info["sid"], str) and len(info["sid"]) == 20
    assert info["upgrades"] == ["websocket"]
    assert (info["pingInterval"], info["pingTimeout"], info["maxPayload"]) == (300, 200, 1000000)


def test_sids_are_unique_and_url_safe(engine):
    sids = {engine.handshake()[0] for _ in range(20)}
    assert len(sids) == 20
    assert all(s.replace("-", "").replace("_", "").isalnum() for s in sids)


@pytest.mark.parametrize("query", ["transport=polling", "EIO=abc&transport=polling", "EIO=3&transport=polling"])
def test_bad_eio_version_is_400_code_5(engine, query):
    status, body, _ = engine.call("GET", f"http://127.0.0.1/engine.io/?{query}")
    assert status == 400
    assert _json(body) == {"code": 5, "message": "Unsupported protocol version"}


@pytest.mark.parametrize("query", ["EIO=4", "EIO=4&transport=abc", "EIO=4&transport=constructor"])
def test_bad_transport_is_400_code_0(engine, query):
    status, body, _ = engine.call("GET", f"http://127.0.0.1/engine.io/?{query}")
    assert status == 400
    assert _json(body) == {"code": 0, "message": "Transport unknown"}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_handshake_needs_get(engine, method):
    status, body, _ = engine.call(method, engine.url())
    assert status == 400
    assert _json(body) == {"code": 2, "message": "Bad handshake method"}
    assert engine.server.sessions == {}


def test_websocket_transport_without_upgrade_is_400_code_3(engine):
    status, body, _ = engine.call("GET", "http://127.0.0.1/engine.io/?EIO=4&transport=websocket")
    assert status == 400
    assert _json(body)["code"] == 3


def test_unknown_sid_is_400_code_1(engine):
    for method in ("GET", "POST"):
        status, body, _ = engine.call(method, engine.url("nope"), b"4x" if method == "POST" else None)
        assert status == 400
        assert _json(body) == {"code": 1, "message": "Session ID unknown"}


def test_websocket_upgrade_on_unknown_session_is_refused(engine):
    headers = {"Upgrade": ["websocket"], "Connection": ["Upgrade"],
               "Sec-WebSocket-Key": ["dGhlIHNhbXBsZSBub25jZQ=="], "Sec-WebSocket-Version": ["13"]}
    url = "http://127.0.0.1/engine.io/?EIO=4&transport=websocket&sid=unknown"
    status, body, _ = engine.call("GET", url, headers=headers)
    assert status == 400
    assert _json(body) == {"code": 1, "message": "Session ID unknown"}
    status, body, _ = engine.call("GET", "http://127.0.0.1/engine.io/?EIO=3&transport=websocket", headers=headers)
    assert (status, _json(body)["code"]) == (400, 5)


def test_extra_query_parameters_are_ignored_and_reach_the_spark(engine):
    status, _body, _ = engine.call("GET", engine.url(t="abc", token="s3cret", j="x"))
    assert status == 200
    assert engine.sparks[0].query["token"] == "s3cret"


# -- spark identity -------------------------------------------------------------


def test_spark_id_address_headers_and_query_come_from_the_handshake(engine):
    _status, body, _ = engine.call("GET", engine.url(foo="bar"), headers={"X-Custom": ["yes"]})
    sid = _json(body.split(b"\x1e")[0][1:])["sid"]
    spark = engine.sparks[0]
    assert spark.id == sid
    assert engine.primus.spark(sid) is spark
    assert spark.query["foo"] == "bar"
    assert spark.query["EIO"] == "4"
    assert spark.headers["x-custom"] == "yes"
    assert spark.address.ip == "127.0.0.1"
    assert spark.socket is engine.server.sessions[sid]


def test_writes_made_by_connection_listeners_go_out_with_the_open_packet():
    e = Engine(echo=False)
    e.primus.on("connection", lambda spark: spark.write("welcome"))
    _status, body, _ = e.call("GET", e.url())
    packets = body.decode().split("\x1e")
    assert packets[0].startswith("0{")
    assert packets[1:] == ["4welcome"]


# -- messages (protocol test-suite "message / HTTP long-polling") -----------------


@pytest.mark.parametrize(
    "payload",
    [b"4hello", b"4test1\x1e4test2\x1e4test3", b"4hello\x1ebAQIDBA==", "4h\u00e9llo \u2603".encode()],
)
def test_payloads_echo(engine, payload):
    sid, _ = engine.handshake()
    assert engine.post(sid, payload)[:2] == (200, b"ok")
    status, body, _ = engine.answer(engine.get(sid))
    assert (status, body) == (200, payload)


def test_binary_reaches_the_spark_as_bytes(engine):
    sid, _ = engine.handshake()
    engine.post(sid, b"4text\x1ebAQIDBA==\x1e4")
    assert engine.data == ["text", b"\x01\x02\x03\x04", ""]


def test_a_poll_waits_until_something_is_written(engine):
    sid, _ = engine.handshake()
    d = engine.get(sid)
    engine.clock.advance(0.1)
    assert pending(d)
    engine.sparks[0].write("later")
    assert engine.answer(d)[:2] == (200, b"4later")


def test_a_poll_carries_at_most_16_packets(engine):
    sid, _ = engine.handshake()
    for n in range(20):
        engine.sparks[0].write(f"m{n}")
    first = engine.answer(engine.get(sid))[1].decode().split("\x1e")
    second = engine.answer(engine.get(sid))[1].decode().split("\x1e")
    assert first == [f"4m{n}" for n in range(16)]
    assert second == [f"4m{n}" for n in range(16, 20)]


def test_broadcast_reaches_every_session(engine):
    a, _ = engine.handshake()
    b, _ = engine.handshake()
    engine.primus.write("all")
    engine.primus.write(b"\x00\xff")
    for sid in (a, b):
        assert engine.answer(engine.get(sid))[1] == b"4all\x1ebAP8="


@pytest.mark.parametrize("body", [b"abc", b"4ok\x1e9nine", b"bnot base64!", b"\xff\xfe", b""])
def test_malformed_payload_closes_the_session(engine, body):
    sid, _ = engine.handshake()
    status, _, _ = engine.post(sid, body)
    assert status == 400
    assert engine.data == []
    assert engine.call("GET", engine.url(sid))[0] == 400
    assert isinstance(engine.errors[0], EngineIOError)
    engine.assert_clean()


def test_duplicate_polls_close_the_session(engine):
    sid, _ = engine.handshake()
    first = engine.get(sid)
    second = engine.request("GET", engine.url(sid, t="burst"))
    assert engine.answer(first)[:2] == (200, b"1")
    assert engine.answer(second)[0] == 400
    assert engine.call("GET", engine.url(sid))[0] == 400
    engine.assert_clean()


def test_a_cancelled_poll_closes_the_session(engine):
    sid, _ = engine.handshake()
    d = engine.get(sid)
    d.cancel()
    engine.st.flush()
    assert engine.ended == engine.sparks
    assert engine.call("GET", engine.url(sid))[0] == 400
    engine.assert_clean()


def test_octet_stream_posts_are_refused(engine):
    sid, _ = engine.handshake()
    status, _, _ = engine.call(
        "POST", engine.url(sid), b"4x", headers={"Content-Type": ["application/octet-stream"]}
    )
    assert status == 400
    engine.assert_clean()


def test_other_methods_on_a_session_are_500(engine):
    sid, _ = engine.handshake()
    assert engine.call("PUT", engine.url(sid), b"4x")[0] == 500
    assert sid in engine.server.sessions


def test_options_without_cors_preflight_is_204(engine):
    status, body, _ = engine.call("OPTIONS", engine.url())
    assert (status, body) == (204, b"")
    assert engine.server.sessions == {}


def test_cors_headers_on_polls_and_errors(engine):
    origin = {"Origin": ["http://example.com"]}
    status, _body, headers = engine.call("GET", engine.url(), headers=origin)
    assert headers.getRawHeaders(b"access-control-allow-origin") == [b"http://example.com"]
    assert headers.getRawHeaders(b"access-control-allow-credentials") == [b"true"]
    status, _, headers = engine.call("GET", engine.url("unknown"), headers=origin)
    assert status == 400
    assert headers.getRawHeaders(b"access-control-allow-origin") == [b"http://example.com"]
    status, _, headers = engine.call(
        "OPTIONS", engine.url(), headers={**origin, "Access-Control-Request-Method": ["POST"]}
    )
    assert status in (200, 204)
    assert b"POST" in headers.getRawHeaders(b"access-control-allow-methods")[0]


# -- size limits ---------------------------------------------------------------------


def test_a_body_over_max_payload_is_413_and_keeps_the_session():
    """
    As engine.io: the oversized POST is refused, the session goes on.
    (Attached to a Site, the guard refuses it before reading the body:
    tests/test_guard.py.)
    """
    e = Engine(transport={"max_payload": 100})
    sid, info = e.handshake()
    assert info["maxPayload"] == 100
    assert e.post(sid, b"4" + b"x" * 99)[0] == 200
    assert e.post(sid, b"4" + b"x" * 100)[0] == 413
    assert e.post(sid, b"4after")[0] == 200
    assert e.data == ["x" * 99, "after"]
    assert sid in e.server.sessions


def test_primus_max_length_is_the_default_max_payload():
    e = Engine(max_length=1234, transport={"max_payload": None})
    assert e.handshake()[1]["maxPayload"] == 1234


def test_unknown_transport_options_are_refused():
    with pytest.raises(PrimusError, match=r"Unknown engine\.io transport option"):
        Engine(transport={"pingInterval": 3})
    with pytest.raises(PrimusError, match="ping_interval"):
        Engine(transport={"ping_interval": "soon"})


# -- heartbeat (protocol test-suite "heartbeat / HTTP long-polling") ---------------


def test_ping_pong(engine):
    sid, _ = engine.handshake()
    for _ in range(3):
        d = engine.get(sid)
        assert pending(d)
        engine.clock.advance(0.3)
        assert engine.answer(d)[:2] == (200, b"2")
        engine.clock.advance(0.15)
        assert engine.post(sid, b"3")[0] == 200
    assert sid in engine.server.sessions


def test_ping_timeout_closes_the_session(engine):
    sid, _ = engine.handshake()
    engine.clock.advance(0.3)
    engine.clock.advance(0.2)
    assert engine.call("GET", engine.url(sid))[0] == 400
    assert engine.ended == engine.sparks
    engine.assert_clean()


def test_ping_timeout_releases_a_pending_poll_with_close(engine):
    sid, _ = engine.handshake()
    engine.clock.advance(0.3)
    assert engine.answer(engine.get(sid))[1] == b"2"
    d = engine.get(sid)
    engine.clock.advance(0.2)
    assert engine.answer(d)[1] == b"1"
    engine.assert_clean()


def test_a_ping_from_the_client_is_an_error(engine):
    sid, _ = engine.handshake()
    engine.post(sid, b"2")
    assert engine.call("GET", engine.url(sid))[0] == 400
    assert "heartbeat" in str(engine.errors[0])


def test_ping_interval_zero_sends_no_pings():
    e = Engine(transport={"ping_interval": 0})
    sid, info = e.handshake()
    assert info["pingInterval"] == 0
    d = e.get(sid)
    e.clock.advance(100)
    assert pending(d)


def test_primus_heartbeat_runs_inside_message_packets():
    e = Engine(parser="json", ping_interval=5, transport={"ping_interval": 60, "ping_timeout": 60})
    sid, _ = e.handshake()
    e.clock.advance(5)
    body = e.answer(e.get(sid))[1].decode()
    assert body.startswith('4"primus::ping::')
    e.post(sid, b'4"primus::pong::1"')
    assert e.sparks[0].alive
    e.primus.destroy()


# -- closing (protocol test-suite "close / HTTP long-polling") ----------------------


def test_client_close_releases_the_poll_with_noop(engine):
    sid, _ = engine.handshake()
    d = engine.get(sid)
    assert engine.post(sid, b"1")[0] == 200
    assert engine.answer(d)[:2] == (200, b"6")
    assert engine.call("GET", engine.url(sid))[0] == 400
    assert engine.ended == engine.sparks
    engine.assert_clean()


def test_spark_end_sends_close_in_the_pending_poll(engine):
    sid, _ = engine.handshake()
    d = engine.get(sid)
    engine.sparks[0].end()
    assert engine.answer(d)[1] == b"4primus::server::close"
    assert sid in engine.server.sessions  # the close packet waits for the next poll
    assert engine.answer(engine.get(sid))[1] == b"1"
    assert engine.call("GET", engine.url(sid))[0] == 400
    engine.assert_clean()


def test_spark_end_without_a_poll_waits_for_the_next_one(engine):
    sid, _ = engine.handshake()
    engine.sparks[0].end(reconnect=True)
    assert engine.answer(engine.get(sid))[1] == b"1"
    engine.assert_clean()


def test_close_packet_nobody_polls_for_expires(engine):
    sid, _ = engine.handshake()
    engine.sparks[0].end(reconnect=True)
    assert sid in engine.server.sessions
    engine.clock.advance(30)
    engine.assert_clean()


def test_destroy_closes_every_session(engine):
    a, _ = engine.handshake()
    _b, _ = engine.handshake()
    d = engine.get(a)
    server = engine.server
    result(engine.primus.destroy())
    assert engine.answer(d)[1] == b"4primus::server::close"
    engine.clock.advance(0)
    assert server.sessions == {}
    assert [c for c in engine.clock.getDelayedCalls() if c.active()] == []
    assert len(engine.ended) == 2


def test_nothing_leaks_after_many_sessions(engine):
    for n in range(10):
        sid, _ = engine.handshake()
        if n % 3 == 0:
            engine.post(sid, b"1")
        elif n % 3 == 1:
            engine.sparks[-1].end()
            engine.answer(engine.get(sid))
        else:
            engine.post(sid, b"zzz")
    engine.assert_clean()


# -- flow control -------------------------------------------------------------------


def test_write_returns_false_past_the_high_water_mark_and_drain_follows():
    e = Engine(echo=False, transport={"high_water": 100, "low_water": 10})
    sid, _ = e.handshake()
    spark = e.sparks[0]
    drains = []
    spark.on("drain", lambda: drains.append(True))
    assert spark.write("x" * 50) is True
    assert spark.write("y" * 60) is False
    assert spark.write("z") is False
    assert drains == []
    assert e.server.sessions[sid].bufferedAmount() > 100
    body = e.answer(e.get(sid))[1]
    assert body == b"4" + b"x" * 50 + b"\x1e4" + b"y" * 60 + b"\x1e4z"
    assert drains == [True]
    assert spark.write("again") is True


def test_a_paused_spark_holds_posts_until_resumed(engine):
    sid, _ = engine.handshake()
    spark: Spark = engine.sparks[0]
    spark.pauseProducing()
    d = engine.request("POST", engine.url(sid), b"4one")
    assert pending(d)
    assert engine.data == []
    overlapping = engine.request("POST", engine.url(sid), b"4two")
    assert engine.answer(overlapping)[0] == 400
    engine.assert_clean()


def test_resuming_accepts_the_held_post(engine):
    sid, _ = engine.handshake()
    spark: Spark = engine.sparks[0]
    spark.pauseProducing()
    d = engine.request("POST", engine.url(sid), b"4one\x1e4two")
    assert pending(d)
    spark.resumeProducing()
    assert engine.answer(d)[:2] == (200, b"ok")
    assert engine.data == ["one", "two"]
