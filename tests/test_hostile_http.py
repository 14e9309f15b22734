"""
Hostile HTTP clients against the surface Primus exposes on a twisted.web
Site: garbage instead of a request, oversize request lines, header floods,
bad header bytes, hostile query strings and proxy headers, broken upgrade
handshakes, and requests Primus must answer (or leave alone) as Node
Primus does (docs/protocol/primus.rst, "Which requests are Primus's" and
"Default middleware").

Each test checks what the offending client sees (a status line, or
nothing), that no spark was made where none should be, that a well-behaved
WebSocket client still gets its echo, and (through ``hostile_server``) that
nothing is left behind and no traceback reached the reactor.
"""

from __future__ import annotations

import pytest
import pytest_twisted
from hostile_helpers import (
    OP_TEXT,
    frame,
    hostile_server,
    upgrade_request,
    wait_until,
)

#: Every hostile client meets both WebSocket engines (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("each_websocket_engine")


async def _answered(h, client, timeout=2.0):
    await wait_until(
        h.reactor,
        lambda: client.http_head() is not None or client.lost,
        timeout,
        "an HTTP answer",
    )
    return client.status_code()


async def _refused(h, request_bytes, *, silent_close_ok=False):
    """
    Send ``request_bytes`` on a fresh connection; expect a 4xx answer, the
    connection closed, no spark, and the neighbour unaffected.

    ``silent_close_ok``: twisted.web drops a connection whose request line
    or header line passes its line limit without answering (Node answers
    431); that is accepted, as long as the connection really is closed.
    """
    good = await h.ws()
    sparks_before = len(h.sparks)
    bad = await h.raw()
    bad.send(request_bytes)
    status = await _answered(h, bad)
    if not (silent_close_ok and status is None and bad.received == b""):
        assert status is not None and 400 <= status < 500, (
            f"status {status}: {bytes(bad.received[:300])!r}"
        )
    await bad.wait_lost(h.reactor)
    assert len(h.sparks) == sparks_before
    await h.echo_round_trip(good)
    return bad


@pytest_twisted.ensureDeferred
async def test_garbage_instead_of_a_request(reactor):
    """
    A TLS ClientHello (the classic wrong-port client) on the plain port.
    """
    hello = bytes.fromhex("160301020001000001fc0303") + bytes(range(32)) + b"\r\n\r\n"
    async with hostile_server(reactor) as h:
        await _refused(h, hello)


@pytest_twisted.ensureDeferred
async def test_garbage_request_line_naming_the_pathname(reactor):
    async with hostile_server(reactor) as h:
        await _refused(h, b"\x00\xff\xfe /primus \x01\x02 garbage\r\n\r\n")


@pytest_twisted.ensureDeferred
async def test_endless_junk_without_a_newline(reactor):
    """
    32 KB with no line end: the line limit must cut it off rather than
    buffer forever.
    """
    async with hostile_server(reactor) as h:
        await _refused(h, b"\xaa" * 32768, silent_close_ok=True)


@pytest_twisted.ensureDeferred
async def test_request_line_of_100_kb(reactor):
    async with hostile_server(reactor) as h:
        await _refused(
            h,
            b"GET /primus/" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            silent_close_ok=True,
        )


@pytest_twisted.ensureDeferred
async def test_a_thousand_headers(reactor):
    headers = tuple((f"X-Flood-{i}", "y") for i in range(1000))
    async with hostile_server(reactor) as h:
        await _refused(h, upgrade_request(extra=headers))


@pytest_twisted.ensureDeferred
async def test_header_value_with_control_bytes(reactor):
    """
    NUL and other control characters in a header value: Node's HTTP parser
    refuses the request with 400; so must we (before any spark exists).
    """
    async with hostile_server(reactor) as h:
        await _refused(h, upgrade_request(raw_extra=b"X-Evil: a\x00b\x01c\x7f\r\n"))


@pytest_twisted.ensureDeferred
async def test_header_name_with_invalid_bytes(reactor):
    async with hostile_server(reactor) as h:
        await _refused(h, upgrade_request(raw_extra=b"X Bad\xff(Name): value\r\n"))


@pytest_twisted.ensureDeferred
async def test_header_value_with_high_bytes_reaches_the_spark_as_text(reactor):
    """
    Bytes 0x80-0xFF are legal (obs-text) in a header value: the upgrade
    succeeds and the spark's headers are ``str`` (latin-1, byte for byte).
    """
    async with hostile_server(reactor) as h:
        good = await h.ws()
        client = await h.ws(request=upgrade_request(raw_extra=b"X-Latin: caf\xe9 \xff\r\n"))
        spark = h.spark_of(-1)
        assert spark.headers["x-latin"] == "caf\xe9 \xff"
        await h.echo_round_trip(client)
        await h.echo_round_trip(good)


@pytest_twisted.ensureDeferred
async def test_query_string_of_50_kb(reactor):
    query = "&".join(f"k{i}=v" for i in range(10_000))[:50_000]
    async with hostile_server(reactor) as h:
        await _refused(h, upgrade_request(path="/primus?" + query), silent_close_ok=True)


@pytest_twisted.ensureDeferred
async def test_query_with_thousands_of_pairs_is_capped(reactor):
    """
    Under the line limit but with 3,000 pairs: accepted, and parsed only as
    far as Node's ``querystring`` would (1,000 pairs).
    """
    query = "&".join(f"{i:x}" for i in range(3000))
    async with hostile_server(reactor) as h:
        client = await h.ws(request=upgrade_request(path="/primus?" + query))
        spark = h.spark_of(-1)
        assert len(spark.query) == 1000
        assert spark.query["0"] == "" and "3e7" in spark.query and "3e8" not in spark.query
        await h.echo_round_trip(client)


@pytest_twisted.ensureDeferred
async def test_query_with_invalid_percent_encoding_and_utf8(reactor):
    """
    Node's ``querystring.parse`` leaves a broken escape as it is and decodes
    invalid UTF-8 with replacement characters; it never fails the upgrade.
    """
    path = "/primus?a=%zz&b=%ff%fe&c=%E2%82&d=caf%C3%A9&e=%&f=100%25&%=x&g=a+b%2Bc"
    async with hostile_server(reactor) as h:
        good = await h.ws()
        client = await h.ws(request=upgrade_request(path=path))
        spark = h.spark_of(-1)
        assert spark.query == {
            "a": "%zz",
            "b": "\ufffd\ufffd",
            "c": "\ufffd",
            "d": "caf\xe9",
            "e": "%",
            "f": "100%",
            "%": "x",
            "g": "a b+c",
        }
        await h.echo_round_trip(client)
        await h.echo_round_trip(good)


@pytest_twisted.ensureDeferred
async def test_query_with_raw_non_ascii_bytes(reactor):
    """
    Raw bytes >= 0x80 in the request target (not percent-encoded): no
    traceback, and if accepted the query values are text.
    """
    async with hostile_server(reactor) as h:
        good = await h.ws()
        bad = await h.raw()
        bad.send(upgrade_request(path="/primus?x=\xe9\xff&y=1"))
        await _answered(h, bad)
        if bad.status_code() == 101:
            spark = h.spark_of(-1)
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in spark.query.items())
            assert spark.query["y"] == "1"
        else:
            assert 400 <= bad.status_code() < 500
            assert len(h.sparks) == 1
        await h.echo_round_trip(good)


# 1,800 addresses (as many as fit in twisted.web's, and Node's, 16 KB of
# headers), sent as two X-Forwarded-For lines that the server joins with
# ", " as Node does.
_LOTS = ["203.0.113.9" + ",1.2.3.4" * 899, ",".join(["1.2.3.4"] * 900)]


@pytest.mark.parametrize(
    ("forwarded_for", "expected_ip"),
    [
        ("garbage", "127.0.0.1"),
        ("1.2.3.4, not-an-ip", "127.0.0.1"),
        ("<script>alert(1)</script>", "127.0.0.1"),
        ("999.1.1.1", "127.0.0.1"),
        ("", "127.0.0.1"),
        (",,,", "127.0.0.1"),
        ("[2001:db8::1]:443", "127.0.0.1"),
        (_LOTS, "203.0.113.9"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:db8::1, 10.0.0.2", "2001:db8::1"),
        ("   203.0.113.7  ,   10.0.0.1   ", "203.0.113.7"),
    ],
    ids=[
        "garbage",
        "one-bad-entry",
        "markup",
        "out-of-range",
        "empty",
        "only-commas",
        "bracketed-v6-with-port",
        "1800-entries",
        "ipv6",
        "ipv6-first",
        "spaces",
    ],
)
@pytest_twisted.ensureDeferred
async def test_hostile_x_forwarded_for(reactor, forwarded_for, expected_ip):
    """
    A proxy header that is not a list of addresses is ignored (the real
    peer is reported); a valid one gives its first entry.  A hostile port
    header gives port 0, as forwarded-for does: the proxy's own port says
    nothing about the client.
    """
    async with hostile_server(reactor) as h:
        values = forwarded_for if isinstance(forwarded_for, list) else [forwarded_for]
        headers = tuple(("X-Forwarded-For", value) for value in values)
        client = await h.ws(
            request=upgrade_request(extra=headers + (("X-Forwarded-Port", "99999999, abc"),))
        )
        spark = h.spark_of(-1)
        address = spark.address
        assert address.ip == expected_ip
        assert isinstance(address.port, int) and 0 <= address.port < 65536
        if expected_ip == "127.0.0.1":
            assert address.port == client.transport.getHost().port
        else:
            assert address.port == 0
        assert address.secure is False
        await h.echo_round_trip(client)


@pytest.mark.parametrize(
    "request_bytes",
    [
        upgrade_request(key="not base64 at all!"),
        upgrade_request(key="c2hvcnQ="),
        upgrade_request(key=None),
        upgrade_request(version="99"),
        upgrade_request(version=None),
        upgrade_request(version="13, 13, 13, 13"),
    ],
    ids=["key-garbage", "key-short", "key-missing", "version-99", "version-missing", "version-list"],
)
@pytest_twisted.ensureDeferred
async def test_bad_websocket_handshake_is_refused_without_a_spark(reactor, request_bytes):
    async with hostile_server(reactor) as h:
        await _refused(h, request_bytes)


@pytest_twisted.ensureDeferred
async def test_upgrade_outside_the_pathname_is_left_to_the_site(reactor):
    """
    ``/other`` is the site's own resource: an upgrade there is not Primus's
    (no 101, no spark).  Node Primus hands it to the server's previous
    upgrade listeners; twisted.web has none, so the site's resource answers.
    """
    async with hostile_server(reactor) as h:
        good = await h.ws()
        bad = await h.raw()
        bad.send(upgrade_request(path="/other"))
        status = await _answered(h, bad)
        assert status == 200
        await wait_until(reactor, lambda: bad.body().endswith(b"not primus"), 2.0, "the body")
        assert len(h.sparks) == 1
        await h.echo_round_trip(good)


@pytest_twisted.ensureDeferred
async def test_upgrade_under_a_prefix_of_the_pathname_is_primus(reactor):
    """
    Primus matches by plain prefix (docs/protocol/primus.rst, "Which requests
    are Primus's"): ``/primusfoo/bar`` becomes a spark.
    """
    async with hostile_server(reactor) as h:
        client = await h.ws(path="/primusfoo/bar")
        assert len(h.sparks) == 1
        await h.echo_round_trip(client)


@pytest.mark.parametrize("path", ["/primus", "/primus/", "/primus/deeper/path?x=1"])
@pytest_twisted.ensureDeferred
async def test_plain_get_under_the_pathname_is_426(reactor, path):
    async with hostile_server(reactor) as h:
        good = await h.ws()
        client = await h.raw()
        client.send(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert await _answered(h, client) == 426
        await client.wait_lost(reactor)
        assert client.header(b"content-type") == b"text/plain"
        assert client.body() == b"Upgrade Required"
        assert client.header(b"cache-control") == b"no-store, no-cache, must-revalidate, max-age=0"
        assert client.header(b"pragma") == b"no-cache"
        assert len(h.sparks) == 1
        await h.echo_round_trip(good)


@pytest_twisted.ensureDeferred
async def test_post_with_a_large_body_under_the_pathname(reactor):
    """
    4 MB of POST body: answered 426 like any plain request, the body thrown
    away, the neighbour unaffected.
    """
    body = b"z" * (4 * 1024 * 1024)
    async with hostile_server(reactor) as h:
        good = await h.ws()
        client = await h.raw()
        client.send(
            b"POST /primus HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/octet-stream\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert await _answered(h, client, timeout=3.0) == 426
        await client.wait_lost(reactor)
        assert client.body() == b"Upgrade Required"
        assert len(h.sparks) == 1
        await h.echo_round_trip(good)


@pytest_twisted.ensureDeferred
async def test_post_announcing_a_huge_body_then_vanishing(reactor):
    """
    ``Content-Length`` of 10 GB, a few bytes: answered 413 at once, before
    the body is read, nothing allocated for the announced size, and
    nothing breaks.
    """
    async with hostile_server(reactor) as h:
        good = await h.ws()
        client = await h.raw()
        client.send(
            b"POST /primus HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n" + b"z" * 1000
        )
        assert await _answered(h, client) == 413
        await client.wait_lost(h.reactor)
        await h.echo_round_trip(good)
        assert len(h.sparks) == 1


@pytest_twisted.ensureDeferred
async def test_chunked_body_with_a_bad_chunk_size(reactor):
    async with hostile_server(reactor) as h:
        await _refused(
            h,
            b"POST /primus HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz-not-hex\r\nabc\r\n0\r\n\r\n",
        )


@pytest.mark.parametrize("count", [2, 40], ids=["two-small", "80kb"])
@pytest_twisted.ensureDeferred
async def test_frames_sent_together_with_the_upgrade_are_not_lost(reactor, count):
    """
    An eager client writes its first messages in the same packet as the
    upgrade request: they must reach ``"data"`` after the connection, in
    order (80 KB is past twisted.web's 16 KB pipelining buffer, which would
    pause the transport).
    """
    texts = [f"m{i}-" + "x" * (2000 if count > 2 else 0) for i in range(count)]
    async with hostile_server(reactor) as h:
        h.echo = False
        eager = upgrade_request() + b"".join(frame(OP_TEXT, f'"{t}"'.encode()) for t in texts)
        client = await h.ws(request=eager)
        spark = h.spark_of(-1)
        await wait_until(
            reactor,
            lambda: len([d for s, d in h.data if s is spark]) == count,
            2.0,
            "every eager message",
        )
        assert [d for s, d in h.data if s is spark] == texts
        h.echo = True
        await h.echo_round_trip(client)
