"""
The BrowserChannel server's rules on fakes: a Clock for the test channel,
keep-alives and session timeouts, DummyRequest for the HTTP side, so that
nothing waits for real seconds.  Hostile input (bad session ids, reused
and runaway request ids, oversize and malformed maps, abandoned sessions,
a flood of test channels) ends with the same check: no session, no test
channel and no timer left behind.
"""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any, Optional
from urllib.parse import urlencode

import pytest
from fakes import body, header, make_request
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from primus_tx import Primus
from primus_tx._errors import PrimusError
from primus_tx._query import parse_query
from primus_tx.transformers._shared import HIGH_WATER
from primus_tx.transformers.browserchannel._wire import parse_chunks
from primus_tx.transformers.browserchannel.server import MAX_TEST_CHANNELS


def make(clock: Clock, **options: Any) -> tuple[Primus, Any, list[Any], list[Any]]:
    primus = Primus(None, transformer="browserchannel", ping_interval=0, reactor=clock, **options)
    sparks: list[Any] = []
    received: list[Any] = []

    def connection(spark: Any) -> None:
        sparks.append(spark)
        spark.on("data", received.append)

    primus.on("connection", connection)
    clock.advance(0)  # Primus's own start-up call
    return primus, primus._server, sparks, received


def call(
    server: Any,
    path: str,
    query: dict[str, Any],
    method: bytes = b"GET",
    data: Optional[bytes] = None,
    content_type: bytes = b"application/x-www-form-urlencoded",
) -> Any:
    text = urlencode(query)
    request = make_request(f"/primus{path}?{text}".encode(), method)
    request.query = parse_query(text)
    request.content = BytesIO(data or b"")
    if data is not None:
        request.requestHeaders.setRawHeaders(b"content-type", [content_type])
    server.request(request)
    return request


def maps(ofs: int, *messages: str) -> bytes:
    fields = {"count": len(messages), "ofs": ofs}
    for n, message in enumerate(messages):
        fields[f"req{n}__S"] = message
    return urlencode(fields).encode()


def arrays(request: Any) -> list[Any]:
    chunks, rest = parse_chunks(body(request).decode("utf-8"))
    assert rest == ""
    return [item for chunk in chunks for item in json.loads(chunk)]


def open_session(server: Any, rid: int = 100, data: bytes = b"count=0", **query: Any) -> tuple[str, Any]:
    request = call(server, "/bind", dict({"VER": 8, "RID": rid}, **query), b"POST", data)
    assert request.responseCode == 200 and request.finished
    first = arrays(request)[0]
    assert first[0] == 0 and first[1][0] == "c" and first[1][2:] == [None, 8]
    return first[1][1], request


def back_channel(server: Any, sid: str, aid: int = 0, ci: str = "0") -> Any:
    return call(server, "/bind", {"VER": 8, "RID": "rpc", "SID": sid, "CI": ci, "AID": aid, "TYPE": "xmlhttp"})


def post(server: Any, sid: str, rid: int, data: bytes, aid: int = 0) -> Any:
    return call(server, "/bind", {"VER": 8, "SID": sid, "RID": rid, "AID": aid}, b"POST", data)


def assert_nothing_left(primus: Any, server: Any, clock: Clock) -> None:
    assert server.sessions == {}
    assert server._tests == {}
    assert clock.getDelayedCalls() == []
    assert primus.connected == 0


# -- the test channel ------------------------------------------------------------------


def test_test_channel_phases_and_abandoned_test_channels() -> None:
    clock = Clock()
    primus, server, _, _ = make(clock)
    init = call(server, "/test", {"VER": 8, "MODE": "init"})
    assert init.responseCode == 200 and body(init) == b"[null,null]"
    assert header(init, b"x-accept") == b"application/json; application/x-www-form-urlencoded"
    assert header(init, b"x-content-type-options") == b"nosniff"
    second = call(server, "/test", {"VER": 8, "TYPE": "xmlhttp"})
    assert body(second) == b"11111" and not second.finished
    clock.advance(1.9)
    assert not second.finished
    clock.advance(0.2)
    assert body(second) == b"111112" and second.finished
    # an abandoned test channel leaves no timer behind
    gone = call(server, "/test", {"VER": 8, "TYPE": "xmlhttp"})
    gone.processingFailed(Failure(ConnectionDone()))
    assert_nothing_left(primus, server, clock)
    assert call(server, "/test", {"MODE": "init"}).responseCode == 400


def test_a_flood_of_test_channels_is_capped_and_released() -> None:
    clock = Clock()
    primus, server, _, _ = make(clock)
    held = [call(server, "/test", {"VER": 8}) for _ in range(MAX_TEST_CHANNELS)]
    assert len(server._tests) == MAX_TEST_CHANNELS
    # past the cap, both phases at once: the client then long-polls
    late = call(server, "/test", {"VER": 8})
    assert body(late) == b"111112" and late.finished
    for request in held[:10]:
        request.processingFailed(Failure(ConnectionDone()))
    assert len(server._tests) == MAX_TEST_CHANNELS - 10
    primus.destroy()
    assert all(request.finished for request in held[10:])
    assert_nothing_left(primus, server, clock)


# -- routes and refusals ----------------------------------------------------------------


def test_routes_and_errors() -> None:
    clock = Clock()
    primus, server, sparks, _ = make(clock)
    request = call(server, "", {})
    assert request.responseCode == 404 and body(request) == b"Not Found"
    request = call(server, "/nope", {})
    assert request.responseCode == 404 and body(request) == b"Not found"
    request = call(server, "/bind", {"RID": 1}, b"POST", b"count=0")
    assert request.responseCode == 400 and request.responseMessage == b"Version 8 required"
    request = call(server, "/bind", {"VER": 8, "SID": "nope", "RID": 1}, b"POST", b"count=0")
    assert request.responseCode == 400 and b"Unknown SID" in body(request)
    request = call(server, "/bind", {"VER": 8, "RID": "rpc", "SID": "nope", "TYPE": "xmlhttp"})
    assert request.responseCode == 400 and b"Unknown SID" in body(request)
    request = call(server, "/bind", {"VER": 8, "RID": "rpc", "TYPE": "xmlhttp"})
    assert request.responseCode == 400
    request = call(server, "/bind", {"VER": 8}, b"PUT")
    assert request.responseCode == 405
    request = call(server, "/bind", {"VER": 8, "RID": "x"}, b"POST", b"count=0")
    assert request.responseCode == 400 and request.responseMessage == b"Bad RID"
    sid, _ = open_session(server)
    request = call(server, "/bind", {"VER": 8, "RID": 5, "SID": sid, "TYPE": "xmlhttp"})
    assert request.responseCode == 400 and request.responseMessage == b"Expected RPC"
    request = call(server, "/bind", {"VER": 8, "RID": "rpc", "SID": sid, "TYPE": "html"})
    assert request.responseCode == 400
    # the site guard's early answer: an unknown session's body is never read
    assert server.refuse_body(b"POST", b"/primus/bind?VER=8&SID=nope&RID=2")[0] == 400
    assert server.refuse_body(b"POST", f"/primus/bind?VER=8&SID={sid}&RID=2".encode()) is None
    assert server.refuse_body(b"POST", b"/primus/bind?VER=8&RID=2") is None
    assert len(sparks) == 1
    primus.destroy()
    assert_nothing_left(primus, server, clock)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"ofs=0",
        b"count=x",
        b"count=2&ofs=0&req0__S=a",
        b"count=1&req0__S=a",
        b"count=1&ofs=0&req1__S=a",
        b"count=1&ofs=0&reqx__S=a",
        b"count=1&ofs=0&req0_=a",
        b"count=1001&ofs=0",
        b"&".join([b"count=1&ofs=0"] + [b"req0_k%d=v" % n for n in range(5000)]),
    ],
)
def test_malformed_maps_open_nothing(data: bytes) -> None:
    clock = Clock()
    primus, server, sparks, _ = make(clock)
    request = call(server, "/bind", {"VER": 8, "RID": 1}, b"POST", data)
    assert request.responseCode == 400 and request.responseMessage == b"Bad data"
    assert sparks == []
    assert_nothing_left(primus, server, clock)


@pytest.mark.parametrize(
    "data", [b"{", b"[]", b'{"ofs": -1, "data": []}', b'{"ofs": 0, "data": {}}', b'{"ofs": true, "data": []}']
)
def test_malformed_json_bodies(data: bytes) -> None:
    clock = Clock()
    primus, server, _sparks, received = make(clock)
    sid, _ = open_session(server)
    request = post(server, sid, 101, data)
    assert request.responseCode == 400
    good = call(server, "/bind", {"VER": 8, "SID": sid, "RID": 101}, b"POST",
                b'{"ofs": 0, "data": ["\\"json\\"", {"k": 1}]}', b"application/json")
    assert good.responseCode == 200
    assert received == ["json", {"k": 1}]
    primus.destroy()
    assert_nothing_left(primus, server, clock)


# -- sessions ---------------------------------------------------------------------------


def test_maps_with_the_bind_request_and_the_spark() -> None:
    clock = Clock()
    primus, server, sparks, received = make(clock)
    sid, request = open_session(
        server, data=maps(0, '"first"', '{"a":1}'), who="me", CVER="7"
    )
    spark = sparks[0]
    assert spark.id == sid and spark.query["who"] == "me" and spark.query["VER"] == "8"
    assert spark.headers["content-type"] == "application/x-www-form-urlencoded"
    assert spark.address.ip == "10.0.0.1" and spark.address.port == 40000
    assert received == ["first", {"a": 1}]
    assert header(request, b"cache-control") == b"no-cache, no-store, max-age=0, must-revalidate"
    primus.destroy()
    assert_nothing_left(primus, server, clock)


def test_streaming_and_long_polling_back_channels() -> None:
    clock = Clock()
    primus, server, sparks, _ = make(clock)
    sid, _ = open_session(server)
    stream = back_channel(server, sid, ci="0")
    sparks[0].write("one")
    sparks[0].write("two")
    assert arrays(stream) == [[1, '"one"'], [2, '"two"']] and not stream.finished
    # a stream ends past 10 KiB so the browser can drop what it holds
    sparks[0].write("x" * 11000)
    assert stream.finished
    # long polling: each response ends after what it carries
    poll = back_channel(server, sid, aid=3, ci="1")
    assert not poll.finished
    sparks[0].write("three")
    assert arrays(poll) == [[4, '"three"']] and poll.finished
    # the forward channel reports the back channel's state
    status = post(server, sid, 101, b"count=0", aid=3)
    assert json.loads(body(status).split(b"\n", 1)[1]) == [0, 4, len('["\\"three\\""]')]
    primus.destroy()
    assert_nothing_left(primus, server, clock)


def test_unacknowledged_arrays_are_resent_and_count_as_buffered() -> None:
    clock = Clock()
    primus, server, sparks, _ = make(clock)
    sid, _ = open_session(server)
    spark = sparks[0]
    drained: list[int] = []
    spark.on("drain", lambda: drained.append(1))
    stream = back_channel(server, sid)
    big = "y" * (HIGH_WATER // 5)
    results = [spark.write(big) for _ in range(5)]
    assert results[:4] == [True] * 4 and results[4] is False
    stream.processingFailed(Failure(ConnectionDone()))
    # a new back channel gets everything not acknowledged, from array 1
    again = back_channel(server, sid, aid=2)
    assert [item[0] for item in arrays(again)] == [3, 4, 5]
    assert drained == []
    post(server, sid, 101, b"count=0", aid=5)
    assert drained == [1] and server.sessions[sid].bufferedAmount() == 0
    primus.destroy()
    assert_nothing_left(primus, server, clock)


def test_abort_drops_what_the_client_has_not_acknowledged() -> None:
    clock = Clock()
    primus, server, sparks, _ = make(clock)
    sid, _ = open_session(server)
    session = server.sessions[sid]
    for _ in range(3):
        sparks[0].write("z" * 1000)
    assert session.bufferedAmount() > 3000
    session.abort()
    assert session.bufferedAmount() == 0
    sparks[0].end(reconnect=True)
    stream = back_channel(server, sid)
    assert arrays(stream) == [[4, ["stop"]]]
    assert_nothing_left(primus, server, clock)


def test_reused_and_early_request_ids() -> None:
    clock = Clock()
    primus, server, _sparks, received = make(clock)
    sid, _ = open_session(server, rid=100, data=maps(0, '"a"'))
    # a retried request (same RID, same maps) delivers nothing twice
    post(server, sid, 101, maps(1, '"b"'))
    post(server, sid, 101, maps(1, '"b"'))
    # a request that overtakes the one before it waits for it
    post(server, sid, 103, maps(3, '"d"'))
    assert received == ["a", "b"]
    post(server, sid, 102, maps(2, '"c"'))
    assert received == ["a", "b", "c", "d"]
    # a request id far ahead is refused, the session lives on
    far = post(server, sid, 100000, maps(4, '"e"'))
    assert far.responseCode == 400
    ok = post(server, sid, 104, maps(4, '"e"'))
    assert ok.responseCode == 200 and received[-1] == "e"
    primus.destroy()
    assert_nothing_left(primus, server, clock)


def test_what_waits_for_a_gap_is_bounded() -> None:
    clock = Clock()
    primus, server, _, received = make(clock, max_length=1000)
    sid, _ = open_session(server, rid=100)
    # maps past a gap that never fills: held up to max_body characters
    statuses = [post(server, sid, 101 + n, maps(1 + n, "m" * 1000)).responseCode for n in range(20)]
    held = statuses.index(400)
    assert statuses[:held] == [200] * held and held * 1000 <= server.max_body < (held + 1) * 1000
    assert received == []
    # requests past a missing one: four at most
    statuses = [post(server, sid, 121 + n, b"count=0").responseCode for n in range(1, 7)]
    assert statuses == [200, 200, 200, 400, 400, 400]
    primus.destroy()
    assert_nothing_left(primus, server, clock)


def test_oversize_messages_and_bodies() -> None:
    clock = Clock()
    primus, server, sparks, received = make(clock, max_length=20)
    errors: list[Any] = []
    sid, _ = open_session(server)
    sparks[0].on("error", errors.append)
    big = post(server, sid, 101, maps(0, '"' + "\u00e9" * 10 + '"'))
    assert big.responseCode == 413
    assert received == [] and len(errors) == 1
    assert sparks[0].ready_state == sparks[0].CLOSED
    # an oversize first bind opens nothing
    request = call(server, "/bind", {"VER": 8, "RID": 1}, b"POST", maps(0, "z" * 21))
    assert request.responseCode == 413 and len(sparks) == 1
    # a body past the limit is refused before it is parsed
    request = call(server, "/bind", {"VER": 8, "RID": 1}, b"POST", b"count=0&" + b"p" * server.max_body)
    assert request.responseCode == 413
    clock.advance(60)
    assert_nothing_left(primus, server, clock)


def test_keep_alive_timeout_and_terminate() -> None:
    clock = Clock()
    primus, server, sparks, _ = make(clock, transport={"keep_alive_interval": 20, "session_timeout_interval": 30})
    ended: list[str] = []
    sid, _ = open_session(server)
    sparks[0].on("end", lambda: ended.append(sid))
    stream = back_channel(server, sid)
    clock.advance(20)
    assert arrays(stream) == [[1, ["noop"]]]
    clock.advance(100)  # a back channel keeps the session alive
    assert sid in server.sessions and ended == []
    stream.processingFailed(Failure(ConnectionDone()))
    clock.advance(29.9)
    assert sid in server.sessions
    clock.advance(0.2)
    assert ended == [sid]
    assert_nothing_left(primus, server, clock)
    # the client's goodbye ends a session at once
    sid, _ = open_session(server, rid=7)
    request = call(server, "/bind", {"VER": 8, "SID": sid, "RID": 8, "TYPE": "terminate"})
    assert request.responseCode == 200 and sid not in server.sessions
    assert_nothing_left(primus, server, clock)


def test_stop_waits_for_a_back_channel() -> None:
    clock = Clock()
    primus, server, sparks, _ = make(clock)
    sid, _ = open_session(server)
    ended: list[int] = []
    sparks[0].on("end", lambda: ended.append(1))
    sparks[0].end("bye")
    assert ended == [1] and sid in server.sessions
    stream = back_channel(server, sid)
    assert arrays(stream) == [[1, '"bye"'], [2, '"primus::server::close"'], [3, ["stop"]]]
    assert stream.finished and sid not in server.sessions
    # a stopped session nobody comes back for times out
    sid, _ = open_session(server, rid=50)
    sparks[1].end(reconnect=True)
    clock.advance(30)
    assert_nothing_left(primus, server, clock)


def test_reconnection_ends_the_old_session() -> None:
    clock = Clock()
    primus, server, sparks, _ = make(clock)
    old, _ = open_session(server)
    new, _ = open_session(server, rid=9, OSID=old, OAID=0)
    assert list(server.sessions) == [new]
    assert sparks[0].ready_state == sparks[0].CLOSED
    primus.destroy()
    assert_nothing_left(primus, server, clock)


def test_paused_reading_holds_forward_answers() -> None:
    clock = Clock()
    primus, server, sparks, received = make(clock)
    sid, _ = open_session(server)
    sparks[0].pauseProducing()
    request = post(server, sid, 101, maps(0, '"a"'))
    assert not request.finished and received == []
    sparks[0].resumeProducing()
    assert request.finished and received == ["a"]
    primus.destroy()
    assert_nothing_left(primus, server, clock)


@pytest.mark.parametrize("parser", ["msgpack", "binary"])
def test_binary_parsers_are_refused(parser: str) -> None:
    """
    Forward maps are URL-encoded text and back-channel arrays JSON text:
    a binary parser's messages could not travel, so neither the server nor
    the Python client is built.
    """
    from primus_tx.client import Socket

    with pytest.raises(PrimusError, match="carries text only"):
        Primus(None, transformer="browserchannel", parser=parser)
    with pytest.raises(PrimusError, match="carries text only"):
        Primus.create_socket(transformer="browserchannel", parser=parser)
    with pytest.raises(PrimusError, match="carries text only"):
        Socket("http://127.0.0.1:1/primus", transformer="browserchannel", parser=parser, manual=True)
    # text parsers are fine
    Primus(None, transformer="browserchannel", parser="ejson", reactor=Clock()).destroy()


def test_options_are_checked() -> None:
    with pytest.raises(PrimusError):
        Primus(None, transformer="browserchannel", transport={"hostPrefixes": ["a"]})
    with pytest.raises(PrimusError):
        Primus(None, transformer="browserchannel", transport={"session_timeout_interval": 0})
    with pytest.raises(PrimusError):
        Primus(None, transformer="browserchannel", transport={"headers": ["x"]})
    primus = Primus(None, transformer="browserchannel", ping_interval=0, reactor=Clock(),
                    transport={"headers": {"X-Extra": "1", "content-type": "text/html"}})
    request = call(primus._server, "/test", {"VER": 8, "MODE": "init"})
    assert header(request, b"x-extra") == b"1" and header(request, b"content-type") == b"text/html"
