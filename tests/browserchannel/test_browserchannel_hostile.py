"""
Hostile BrowserChannel clients over real TCP (tests/hostile_helpers.py's
harness): a flood of test channels dropped half-way, sessions abandoned
with their back channel, bad session ids, runaway request ids and
oversize bodies.  The harness then checks that no spark, no timer and no
logged failure is left.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import pytest_twisted
from hostile_helpers import hostile_server, sleep, wait_until

pytestmark = pytest.mark.timeout(30)

OPTIONS: dict[str, Any] = {
    "transformer": "browserchannel",
    "ping_interval": 0,
    "transport": {"session_timeout_interval": 0.2, "test_delay": 30},
}


def http(method: str, target: str, body: bytes = b"") -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if method == "POST":
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def bind(h: Any, rid: int = 10) -> tuple[Any, str]:
    client = await h.raw()
    client.send(http("POST", f"/primus/bind?VER=8&RID={rid}", b"count=0"))
    await wait_until(
        h.reactor, lambda: client.http_head() is not None and b'"c"' in client.body(), 2.0, "the session"
    )
    # (the body is HTTP-chunked on the wire: read the id straight off it)
    match = re.search(rb'\[0,\["c","([^"]+)"', client.body())
    assert match is not None
    return client, match.group(1).decode()


async def answer(h: Any, request: bytes) -> Any:
    client = await h.raw()
    client.send(request)
    await wait_until(h.reactor, lambda: client.status_code() is not None or client.lost, 2.0, "an answer")
    return client


@pytest_twisted.ensureDeferred
async def test_test_channel_flood_dropped_half_way(reactor: Any) -> None:
    async with hostile_server(reactor, **OPTIONS) as h:
        server = h.primus._server
        clients = [await h.raw() for _ in range(100)]
        for client in clients:
            client.send(http("GET", "/primus/test?VER=8&TYPE=xmlhttp"))
        await wait_until(reactor, lambda: len(server._tests) == 100, 5.0, "100 test channels")
        for client in clients:
            client.abort()
        await wait_until(reactor, lambda: not server._tests, 5.0, "the test channels released")
        assert h.no_spark_made()


@pytest_twisted.ensureDeferred
async def test_abandoned_sessions_time_out(reactor: Any) -> None:
    async with hostile_server(reactor, **OPTIONS) as h:
        server = h.primus._server
        first, sid = await bind(h)
        back = await h.raw()
        back.send(http("GET", f"/primus/bind?VER=8&RID=rpc&SID={sid}&CI=0&AID=0&TYPE=xmlhttp"))
        await sleep(reactor, 0.3)
        # an attached back channel keeps the session
        assert sid in server.sessions
        back.abort()
        first.abort()
        await wait_until(reactor, lambda: not server.sessions, 2.0, "the session to time out")
        assert h.ended == h.sparks and len(h.sparks) == 1
        # a session nobody ever comes back for
        other, _ = await bind(h, rid=5)
        other.abort()
        await wait_until(reactor, lambda: not server.sessions, 2.0, "the session to time out")


@pytest_twisted.ensureDeferred
async def test_bad_sids_runaway_rids_and_oversize_bodies(reactor: Any) -> None:
    async with hostile_server(reactor, max_length=1000, **OPTIONS) as h:
        server = h.primus._server
        client, sid = await bind(h)
        refused = await answer(h, http("POST", "/primus/bind?VER=8&SID=nope&RID=11", b"count=0"))
        assert refused.status_code() == 400 and b"Unknown SID" in refused.body()
        # the site guard answers an unknown session before its body comes
        unread = await answer(
            h,
            b"POST /primus/bind?VER=8&SID=nope&RID=11 HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 5000\r\n\r\n",
        )
        assert unread.status_code() == 400 and b"Unknown SID" in unread.body()
        # and a body past the limit before it is read
        huge = await answer(
            h,
            f"POST /primus/bind?VER=8&SID={sid}&RID=11 HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {server.max_body + 1}\r\n\r\n".encode(),
        )
        assert huge.status_code() == 413
        far = await answer(h, http("POST", f"/primus/bind?VER=8&SID={sid}&RID=99999", b"count=1&ofs=0&req0__S=1"))
        assert far.status_code() == 400
        big = b"count=1&ofs=0&req0__S=" + b"x" * (server.max_body + 10)
        oversize = await answer(h, http("POST", f"/primus/bind?VER=8&SID={sid}&RID=11", big))
        assert oversize.status_code() == 413
        ok = await answer(h, http("POST", f"/primus/bind?VER=8&SID={sid}&RID=11", b"count=1&ofs=0&req0__S=%221%22"))
        assert ok.status_code() == 200
        await wait_until(reactor, lambda: h.data, 2.0, "the message")
        assert [data for _, data in h.data] == ["1"]
        client.abort()
        await wait_until(reactor, lambda: not server.sessions, 2.0, "the session to time out")
