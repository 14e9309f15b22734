"""
The checks of the official SockJS 0.3.3 protocol suite
(sockjs/sockjs-protocol ``sockjs-protocol.py``), rewritten for
pytest-twisted against the four services of ``sockjs_protocol_server`` on
real loopback, reading streaming responses chunk by chunk as the suite
does.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred

from tests.sockjs.sockjs_helpers import connect, fetch, websocket
from tests.sockjs.sockjs_protocol_server import build_site

NO_CACHE = "no-store, no-cache, no-transform, must-revalidate, max-age=0"


@pytest_twisted.async_yield_fixture()
async def port(reactor: Any) -> Any:
    site, servers = build_site(disconnect_delay=1.0, heartbeat_delay=10.0)
    listening = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield listening.getHost().port
    for primus in servers:
        await primus.destroy()
        assert primus._server is None
    await listening.stopListening()


def sid() -> str:
    return "/000/" + str(uuid.uuid4())


def content_type(response: Any) -> str:
    return (response.header("content-type") or "").replace(" ", "")


def verify_cors(response: Any, origin: Any = None) -> None:
    if origin:
        assert response.header("access-control-allow-origin") == origin
        assert response.header("access-control-allow-credentials") == "true"
    else:
        assert response.header("access-control-allow-origin") == "*"
        assert not response.header("access-control-allow-credentials")


def verify_not_cached(response: Any) -> None:
    assert response.header("cache-control") == NO_CACHE
    assert not response.header("expires")
    assert not response.header("last-modified")


def verify405(response: Any) -> None:
    assert response.status == 405
    assert not response.header("content-type")
    assert response.header("allow")
    assert not response.body


async def verify_options(reactor: Any, port: int, path: str, methods: str) -> None:
    for origin in ("test", "null"):
        r = await fetch(
            reactor, port, "OPTIONS", path,
            {"Access-Control-Request-Method": methods, "Origin": origin},
        )
        assert r.status in (200, 204)
        assert "public" in r.header("cache-control")
        assert re.search("max-age=[1-9][0-9]{6}", r.header("cache-control"))
        assert r.header("expires")
        assert int(r.header("access-control-max-age")) > 1000000
        for method in methods.split(","):
            assert method.strip() in r.header("access-control-allow-methods")
        assert not r.body
        verify_cors(r, origin)


async def sleep(reactor: Any, seconds: float) -> None:
    d: Deferred[None] = Deferred()
    reactor.callLater(seconds, d.callback, None)
    await d


# -- greeting, iframe, info ------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_greeting_and_not_found(reactor: Any, port: int) -> None:
    for path in ("/echo", "/echo/"):
        r = await fetch(reactor, port, "GET", path)
        assert r.status == 200
        assert content_type(r) == "text/plain;charset=UTF-8"
        assert r.body == b"Welcome to SockJS!\n"
        assert not r.header("set-cookie")
    for suffix in ("/a", "/a.html", "//", "///", "/a/a", "/a/a/", "/a/"):
        assert (await fetch(reactor, port, "GET", "/echo" + suffix)).status == 404


IFRAME = re.compile(
    r"""^<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="(?P<sockjs_url>[^"]*)"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe\(\);
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>$"""
)


@pytest_twisted.ensureDeferred
async def test_iframe(reactor: Any, port: int) -> None:
    for suffix in (
        "/iframe.html", "/iframe-a.html", "/iframe-.html", "/iframe-0.1.2.html",
        "/iframe-0.1.2abc-dirty.2144.html", "/iframe-a.html?t=1234",
    ):
        r = await fetch(reactor, port, "GET", "/echo" + suffix)
        assert r.status == 200
        assert content_type(r) == "text/html;charset=UTF-8"
        assert "public" in r.header("cache-control")
        assert re.search("max-age=[1-9][0-9]{6}", r.header("cache-control"))
        assert r.header("expires") and r.header("etag")
        assert not r.header("last-modified") and not r.header("set-cookie")
        match = IFRAME.match(r.body.decode().strip())
        assert match and match.group("sockjs_url").startswith(("/", "http"))
    for suffix in ("/iframe.htm", "/iframe", "/IFRAME.HTML", "/IFRAME", "/iframe.HTML",
                   "/iframe.xml", "/iframe-/.html"):
        assert (await fetch(reactor, port, "GET", "/echo" + suffix)).status == 404
    r1 = await fetch(reactor, port, "GET", "/echo/iframe.html")
    r2 = await fetch(reactor, port, "GET", "/echo/iframe.html")
    assert r1.header("etag") == r2.header("etag")
    r = await fetch(reactor, port, "GET", "/echo/iframe.html", {"If-None-Match": r1.header("etag")})
    assert r.status == 304
    assert not r.header("content-type") and not r.body


@pytest_twisted.ensureDeferred
async def test_info(reactor: Any, port: int) -> None:
    r = await fetch(reactor, port, "GET", "/echo/info", {"Origin": "test"})
    assert r.status == 200
    assert content_type(r) == "application/json;charset=UTF-8"
    assert not r.header("set-cookie")
    verify_not_cached(r)
    verify_cors(r, "test")
    data = json.loads(r.body)
    assert data["websocket"] is True
    assert data["cookie_needed"] is False
    assert data["origins"] == ["*:*"]
    assert isinstance(data["entropy"], int) and 0 <= data["entropy"] < 2**32
    again = json.loads((await fetch(reactor, port, "GET", "/echo/info")).body)
    assert again["entropy"] != data["entropy"]
    await verify_options(reactor, port, "/echo/info", "OPTIONS, GET")
    r = await fetch(reactor, port, "OPTIONS", "/echo/info",
                    {"Origin": "null", "Access-Control-Request-Method": "POST"})
    assert r.status in (200, 204) and not r.body
    assert r.header("access-control-allow-origin") == "null"
    r = await fetch(reactor, port, "GET", "/disabled_websocket_echo/info")
    assert json.loads(r.body)["websocket"] is False
    r = await fetch(reactor, port, "GET", "/cookie_needed_echo/info")
    assert json.loads(r.body)["cookie_needed"] is True
    assert not r.header("set-cookie")


# -- sessions and framing -----------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_session_urls(reactor: Any, port: int) -> None:
    n = str(uuid.uuid4())[:8]
    for part in ("/a/a" + n, "/_/_" + n, "/1/" + n, "/abcdefgh_i-j%20/abcdefg_i-j%20" + n):
        r = await fetch(reactor, port, "POST", "/echo" + part + "/xhr")
        assert (r.status, r.body) == (200, b"o\n")
    for part in ("//", "/a./a", "/a/a.", "/./.", "/", "///"):
        assert (await fetch(reactor, port, "GET", "/echo" + part + "/xhr")).status == 404
        assert (await fetch(reactor, port, "POST", "/echo" + part + "/xhr")).status == 404
    # Only the session id names a session.
    session = str(uuid.uuid4())
    assert (await fetch(reactor, port, "POST", f"/echo/000/{session}/xhr")).body == b"o\n"
    r = await fetch(reactor, port, "POST", f"/echo/000/{session}/xhr_send", body=b'["a"]')
    assert (r.status, r.body) == (204, b"")
    r = await fetch(reactor, port, "POST", f"/echo/999/{session}/xhr")
    assert (r.status, r.body) == (200, b'a["a"]\n')


@pytest_twisted.ensureDeferred
async def test_simple_session_and_second_receiver(reactor: Any, port: int) -> None:
    url = "/echo" + sid()
    assert (await fetch(reactor, port, "POST", url + "/xhr")).body == b"o\n"
    r = await fetch(reactor, port, "POST", url + "/xhr_send", body=b'["a"]')
    assert r.status == 204
    assert (await fetch(reactor, port, "POST", url + "/xhr")).body == b'a["a"]\n'
    r = await fetch(reactor, port, "POST", "/echo/000/bad_session/xhr_send", body=b'["a"]')
    assert r.status == 404
    first = await connect(reactor, port)
    first.send_request("POST", url + "/xhr", body=b"")
    await sleep(reactor, 0.1)
    r2 = await fetch(reactor, port, "POST", url + "/xhr")
    assert (r2.status, r2.body) == (200, b'c[2010,"Another connection still open"]\n')
    first.close()


@pytest_twisted.ensureDeferred
async def test_close_session(reactor: Any, port: int) -> None:
    url = "/close" + sid()
    assert (await fetch(reactor, port, "POST", url + "/xhr")).body == b"o\n"
    for _ in range(2):
        r = await fetch(reactor, port, "POST", url + "/xhr")
        assert (r.status, r.body) == (200, b'c[3000,"Go away!"]\n')


# -- websocket ---------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_websocket_http_errors(reactor: Any, port: int) -> None:
    assert (await fetch(reactor, port, "GET", "/echo/0/0/websocket")).status == 400
    r = await fetch(reactor, port, "GET", "/echo/0/0/websocket",
                    {"Upgrade": "WebSocket", "Connection": "close"})
    assert r.status == 400 and b"Not a valid websocket request" in r.body
    for headers in ({"Upgrade": "WebSocket", "Connection": "Upgrade"}, {}):
        verify405(await fetch(reactor, port, "POST", "/echo/0/0/websocket", headers, b""))
    # websocket off: the endpoints do not exist
    ws = await websocket(reactor, port, "/disabled_websocket_echo/0/0/websocket")
    assert ws.handshake.status == 404
    ws.close()


@pytest_twisted.ensureDeferred
async def test_websocket_transport(reactor: Any, port: int) -> None:
    url = "/echo" + sid() + "/websocket"
    ws = await websocket(reactor, port, url)
    assert ws.handshake.status == 101
    assert ws.handshake.header("connection").lower() == "upgrade"
    assert ws.handshake.header("upgrade").lower() == "websocket"
    assert not ws.handshake.header("content-length")
    assert await ws.text(0) == "o"
    ws.send("")
    ws.send("[]")
    ws.send('["a"]')
    assert await ws.text(1) == 'a["a"]'
    ws.send('"b"')
    assert await ws.text(2) == 'a["b"]'
    # the same session id may be used by another connection at once
    other = await websocket(reactor, port, url)
    assert await other.text(0) == "o"
    other.send('["c"]')
    assert await other.text(1) == 'a["c"]'
    ws.close()
    other.close()


@pytest_twisted.ensureDeferred
async def test_websocket_close_and_broken_json(reactor: Any, port: int) -> None:
    ws = await websocket(reactor, port, "/close" + sid() + "/websocket")
    assert await ws.text(0) == "o"
    assert await ws.text(1) == 'c[3000,"Go away!"]'
    await ws.raw.until(lambda: ws.raw.closed)
    ws = await websocket(reactor, port, "/echo" + sid() + "/websocket")
    assert await ws.text(0) == "o"
    ws.send('["a')
    await ws.raw.until(lambda: ws.raw.closed)
    assert ws.texts() == ["o"]


@pytest_twisted.ensureDeferred
async def test_websocket_headers_sanity(reactor: Any, port: int) -> None:
    raw = await connect(reactor, port)
    raw.send_request("GET", "/echo" + sid() + "/websocket", {
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Origin": "http://asd", "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw==",
    })
    r = await raw.head()
    assert r.status == 101
    assert r.header("sec-websocket-accept") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk="
    assert not r.header("content-length")
    raw.close()


@pytest_twisted.ensureDeferred
async def test_raw_websocket(reactor: Any, port: int) -> None:
    ws = await websocket(reactor, port, "/echo/websocket")
    assert ws.handshake.status == 101
    ws.send("Hello world!\uffff")
    assert await ws.text(0) == "Hello world!\uffff"
    ws.close()
    ws = await websocket(reactor, port, "/close/websocket")
    await ws.raw.until(ws.close_frame)
    assert ws.close_frame() == (3000, "Go away!")
    assert ws.texts() == []
    ws.close()
    assert (await fetch(reactor, port, "GET", "/echo/websocket")).status == 400
    verify405(await fetch(reactor, port, "POST", "/echo/websocket", body=b""))


# -- xhr polling and streaming ----------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_xhr_polling(reactor: Any, port: int) -> None:
    for suffix in ("/xhr", "/xhr_send"):
        await verify_options(reactor, port, "/echo/abc/abc" + suffix, "OPTIONS, POST")
    url = "/echo" + sid()
    r = await fetch(reactor, port, "POST", url + "/xhr", {"Origin": "test"})
    assert (r.status, r.body) == (200, b"o\n")
    assert content_type(r) == "application/javascript;charset=UTF-8"
    verify_cors(r, "test")
    verify_not_cached(r)
    r = await fetch(reactor, port, "POST", url + "/xhr_send", {"Origin": "test"}, b'["x"]')
    assert (r.status, r.body) == (204, b"")
    assert content_type(r) == "text/plain;charset=UTF-8"
    verify_cors(r, "test")
    verify_not_cached(r)
    assert (await fetch(reactor, port, "POST", url + "/xhr")).body == b'a["x"]\n'


@pytest_twisted.ensureDeferred
async def test_xhr_bad_input(reactor: Any, port: int) -> None:
    r = await fetch(reactor, port, "POST", "/echo" + sid() + "/xhr_send", body=b'["x"]')
    assert r.status == 404
    url = "/echo" + sid()
    assert (await fetch(reactor, port, "POST", url + "/xhr")).body == b"o\n"
    r = await fetch(reactor, port, "POST", url + "/xhr_send", body=b'["x')
    assert r.status == 500 and b"Broken JSON encoding." in r.body
    r = await fetch(reactor, port, "POST", url + "/xhr_send", body=b"")
    assert r.status == 500 and b"Payload expected." in r.body
    r = await fetch(reactor, port, "POST", url + "/xhr_send", body=b'{"a": 1}')
    assert r.status == 500 and b"Payload expected." in r.body
    r = await fetch(reactor, port, "POST", url + "/xhr_send", body=b"[]")
    assert r.status == 204
    types = ["text/plain", "T", "application/json", "application/xml", "",
             "application/json; charset=utf-8", "text/xml; charset=utf-8", "text/xml"]
    for kind in types:
        r = await fetch(reactor, port, "POST", url + "/xhr_send", {"Content-Type": kind}, b'["a"]')
        assert (r.status, r.body) == (204, b"")
    r = await fetch(reactor, port, "POST", url + "/xhr")
    assert r.body == b"a[" + b",".join([b'"a"'] * len(types)) + b"]\n"


@pytest_twisted.ensureDeferred
async def test_request_headers_cors(reactor: Any, port: int) -> None:
    base = {"Origin": "test", "Access-Control-Request-Method": "POST"}
    r = await fetch(reactor, port, "OPTIONS", "/echo" + sid() + "/xhr",
                    dict(base, **{"Access-Control-Request-Headers": "a, b, c"}))
    assert r.status in (200, 204)
    verify_cors(r, "test")
    assert r.header("access-control-allow-headers") == "a, b, c"
    for extra in ({"Access-Control-Request-Headers": ""}, {}):
        r = await fetch(reactor, port, "OPTIONS", "/echo" + sid() + "/xhr", dict(base, **extra))
        verify_cors(r, "test")
        assert not r.header("access-control-allow-headers")


@pytest_twisted.ensureDeferred
async def test_xhr_streaming(reactor: Any, port: int) -> None:
    await verify_options(reactor, port, "/echo/abc/abc/xhr_streaming", "OPTIONS, POST")
    url = "/echo" + sid()
    stream = await connect(reactor, port)
    stream.send_request("POST", url + "/xhr_streaming", {"Origin": "test"}, b"")
    r = await stream.head()
    assert r.status == 200
    assert content_type(r) == "application/javascript;charset=UTF-8"
    verify_cors(r, "test")
    verify_not_cached(r)
    assert await stream.chunk(0) == b"h" * 2048 + b"\n"
    assert await stream.chunk(1) == b"o\n"
    r1 = await fetch(reactor, port, "POST", url + "/xhr_send", body=b'["x"]')
    assert (r1.status, r1.body) == (204, b"")
    assert await stream.chunk(2) == b'a["x"]\n'
    stream.close()


@pytest_twisted.ensureDeferred
async def test_xhr_streaming_response_limit(reactor: Any, port: int) -> None:
    url = "/echo" + sid()
    stream = await connect(reactor, port)
    stream.send_request("POST", url + "/xhr_streaming", body=b"")
    assert await stream.chunk(1) == b"o\n"
    msg = b'"' + b"x" * 128 + b'"'
    for i in range(31):
        r1 = await fetch(reactor, port, "POST", url + "/xhr_send", body=b"[" + msg + b"]")
        assert r1.status == 204
        assert await stream.chunk(2 + i) == b"a[" + msg + b"]\n"
        if i < 30:
            assert not stream.response().complete
    assert (await stream.complete()).complete
    stream.close()


@pytest_twisted.ensureDeferred
async def test_eventsource(reactor: Any, port: int) -> None:
    url = "/echo" + sid()
    stream = await connect(reactor, port)
    stream.send_request("GET", url + "/eventsource")
    r = await stream.head()
    assert r.status == 200
    assert r.header("content-type") == "text/event-stream"
    verify_not_cached(r)
    assert await stream.chunk(0) == b"\r\n"
    assert await stream.chunk(1) == b"data: o\r\n\r\n"
    r1 = await fetch(reactor, port, "POST", url + "/xhr_send", body=b'["x"]')
    assert (r1.status, r1.body) == (204, b"")
    assert await stream.chunk(2) == b'data: a["x"]\r\n\r\n'
    await fetch(reactor, port, "POST", url + "/xhr_send", body=rb'["  \u0000\n\r "]')
    assert await stream.chunk(3) == b'data: a["  \\u0000\\n\\r "]\r\n\r\n'
    await fetch(reactor, port, "POST", url + "/xhr_send", body=b'["100%"]')
    assert await stream.chunk(4) == b'data: a["100%25"]\r\n\r\n'
    stream.close()
    # response limit
    url = "/echo" + sid()
    stream = await connect(reactor, port)
    stream.send_request("GET", url + "/eventsource")
    assert await stream.chunk(1) == b"data: o\r\n\r\n"
    msg = b'"' + b"x" * 4096 + b'"'
    await fetch(reactor, port, "POST", url + "/xhr_send", body=b"[" + msg + b"]")
    assert await stream.chunk(2) == b"data: a[" + msg + b"]\r\n\r\n"
    assert (await stream.complete()).complete
    stream.close()


HTMLFILE_HEAD = """<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.%s;
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>"""


@pytest_twisted.ensureDeferred
async def test_htmlfile(reactor: Any, port: int) -> None:
    url = "/echo" + sid()
    stream = await connect(reactor, port)
    stream.send_request("GET", url + "/htmlfile?c=%63allback")
    r = await stream.head()
    assert r.status == 200
    assert content_type(r) == "text/html;charset=UTF-8"
    verify_not_cached(r)
    head = await stream.chunk(0)
    assert head.decode().strip() == HTMLFILE_HEAD % "callback"
    assert len(head) > 1024
    assert await stream.chunk(1) == b'<script>\np("o");\n</script>\r\n'
    await fetch(reactor, port, "POST", url + "/xhr_send", body=b'["x"]')
    assert await stream.chunk(2) == b'<script>\np("a[\\"x\\"]");\n</script>\r\n'
    stream.close()
    for transport in ("htmlfile", "jsonp"):
        r = await fetch(reactor, port, "GET", f"/echo/a/a/{transport}")
        assert r.status == 500 and b'"callback" parameter required' in r.body
        for callback in ("%20", "*", "abc(", "abc%28"):
            r = await fetch(reactor, port, "GET", f"/echo/a/a/{transport}?c={callback}")
            assert r.status == 500 and b'invalid "callback" parameter' in r.body
    # response limit
    url = "/echo" + sid()
    stream = await connect(reactor, port)
    stream.send_request("GET", url + "/htmlfile?c=callback")
    assert await stream.chunk(1) == b'<script>\np("o");\n</script>\r\n'
    msg = "x" * 4096
    await fetch(reactor, port, "POST", url + "/xhr_send", body=f'["{msg}"]'.encode())
    expected = '<script>\np("a[\\"' + msg + '\\"]");\n</script>\r\n'
    assert await stream.chunk(2) == expected.encode()
    assert (await stream.complete()).complete
    stream.close()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest_twisted.ensureDeferred
async def test_jsonp(reactor: Any, port: int) -> None:
    url = "/echo" + sid()
    r = await fetch(reactor, port, "GET", url + "/jsonp?c=%63allback")
    assert r.status == 200
    assert content_type(r) == "application/javascript;charset=UTF-8"
    verify_not_cached(r)
    assert r.body == b'/**/callback("o");\r\n'
    r = await fetch(reactor, port, "POST", url + "/jsonp_send", FORM, b"d=%5B%22x%22%5D")
    assert (r.status, r.body) == (200, b"ok")
    assert content_type(r) == "text/plain;charset=UTF-8"
    verify_not_cached(r)
    r = await fetch(reactor, port, "GET", url + "/jsonp?c=%63allback")
    assert r.body == b'/**/callback("a[\\"x\\"]");\r\n'
    # bad input
    r = await fetch(reactor, port, "POST", url + "/jsonp_send", FORM, b"d=%5B%22x")
    assert r.status == 500 and b"Broken JSON encoding." in r.body
    for data in (b"", b"d=", b"p=p"):
        r = await fetch(reactor, port, "POST", url + "/jsonp_send", FORM, data)
        assert r.status == 500 and b"Payload expected." in r.body
    r = await fetch(reactor, port, "POST", "/echo" + sid() + "/jsonp_send", FORM, b"d=%5B%5D")
    assert r.status == 404
    # content types, empty frames
    r = await fetch(reactor, port, "POST", url + "/jsonp_send", FORM, b"d=%5B%5D")
    assert r.body == b"ok"
    r = await fetch(reactor, port, "POST", url + "/jsonp_send", FORM, b"d=%5B%22abc%22%5D")
    assert r.body == b"ok"
    r = await fetch(reactor, port, "POST", url + "/jsonp_send",
                    {"Content-Type": "text/plain"}, b'["%61bc"]')
    assert r.body == b"ok"
    r = await fetch(reactor, port, "GET", url + "/jsonp?c=x")
    assert r.body == b'/**/x("a[\\"abc\\",\\"%61bc\\"]");\r\n'
    # close service
    url = "/close" + sid()
    assert (await fetch(reactor, port, "GET", url + "/jsonp?c=x")).body == b'/**/x("o");\r\n'
    for _ in range(2):
        r = await fetch(reactor, port, "GET", url + "/jsonp?c=x")
        assert r.body == b'/**/x("c[3000,\\"Go away!\\"]");\r\n'


def cookie_parts(response: Any) -> list[str]:
    return [part.strip() for part in (response.header("set-cookie") or "").split(";")]


@pytest_twisted.ensureDeferred
async def test_jsessionid(reactor: Any, port: int) -> None:
    base = "/cookie_needed_echo"
    r = await fetch(reactor, port, "POST", base + sid() + "/xhr")
    assert r.body == b"o\n"
    assert cookie_parts(r)[0] == "JSESSIONID=dummy"
    assert cookie_parts(r)[1].lower() == "path=/"
    r = await fetch(reactor, port, "POST", base + sid() + "/xhr", {"Cookie": "JSESSIONID=abcdef"})
    assert cookie_parts(r)[:2] == ["JSESSIONID=abcdef", "path=/"]
    for method, suffix in (("POST", "/xhr_streaming"), ("GET", "/eventsource"),
                           ("GET", "/htmlfile?c=%63allback")):
        stream = await connect(reactor, port)
        stream.send_request(method, base + sid() + suffix, body=b"" if method == "POST" else None)
        r = await stream.head()
        assert r.status == 200 and cookie_parts(r)[0] == "JSESSIONID=dummy"
        stream.close()
    url = base + sid()
    r = await fetch(reactor, port, "GET", url + "/jsonp?c=%63allback")
    assert cookie_parts(r)[0] == "JSESSIONID=dummy"
    r = await fetch(reactor, port, "POST", url + "/jsonp_send", FORM, b"d=%5B%22x%22%5D")
    assert r.body == b"ok" and cookie_parts(r)[0] == "JSESSIONID=dummy"
    r = await fetch(reactor, port, "OPTIONS", url + "/xhr", {"Origin": "http://x.test"})
    assert cookie_parts(r)[0] == "JSESSIONID=dummy"
    # never on the greeting, the iframe or info; not on a service without it
    for path in (base, base + "/iframe.html", base + "/info"):
        assert not (await fetch(reactor, port, "GET", path)).header("set-cookie")
    r = await fetch(reactor, port, "POST", "/echo" + sid() + "/xhr")
    assert not r.header("set-cookie")


# -- unicode -----------------------------------------------------------------------------

_SERVER_ESCAPES = re.compile("[\x00-\x1f\u200c-\u200f\u2028-\u202f\u2060-\u206f\ufff0-\uffff]")


@pytest_twisted.ensureDeferred
async def test_json_encoding(reactor: Any, port: int) -> None:
    url = "/echo" + sid()
    assert (await fetch(reactor, port, "POST", url + "/xhr")).body == b"o\n"
    escaped = '"' + "".join(
        f"\\u{i:04x}" for i in range(255, 65536) if _SERVER_ESCAPES.match(chr(i))
    ) + '"'
    payload = ("[\"" + json.loads(escaped) + "\"]").encode("utf-8")
    assert (await fetch(reactor, port, "POST", url + "/xhr_send", body=payload)).status == 204
    r = await fetch(reactor, port, "POST", url + "/xhr")
    assert r.body.strip()[2:-1].decode() == escaped
    # the server decodes what clients escape, lone surrogates included
    sent = '["\\ud800\\udfff\\u0000\\u00ad\\u2028\\uffff"]'
    assert (await fetch(reactor, port, "POST", url + "/xhr_send", body=sent.encode())).status == 204
    r = await fetch(reactor, port, "POST", url + "/xhr")
    assert json.loads(r.body.strip()[1:]) == json.loads(sent)


# -- handling close ---------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_close_frame_and_second_receiver(reactor: Any, port: int) -> None:
    url = "/close" + sid()
    r1 = await connect(reactor, port)
    r1.send_request("POST", url + "/xhr_streaming", body=b"")
    assert await r1.chunk(1) == b"o\n"
    assert await r1.chunk(2) == b'c[3000,"Go away!"]\n'
    r2 = await connect(reactor, port)
    r2.send_request("POST", url + "/xhr_streaming", body=b"")
    assert await r2.chunk(1) == b'c[3000,"Go away!"]\n'
    assert (await r1.complete()).complete and (await r2.complete()).complete
    r1.close()
    r2.close()
    url = "/echo" + sid()
    r1 = await connect(reactor, port)
    r1.send_request("POST", url + "/xhr_streaming", body=b"")
    assert await r1.chunk(1) == b"o\n"
    r2 = await connect(reactor, port)
    r2.send_request("POST", url + "/xhr_streaming", body=b"")
    assert await r2.chunk(1) == b'c[2010,"Another connection still open"]\n'
    assert (await r2.complete()).complete
    r2.close()
    # the client vanishes mid-stream: the session is over
    r1.close()
    await sleep(reactor, 0.1)
    r3 = await connect(reactor, port)
    r3.send_request("POST", url + "/xhr_streaming", body=b"")
    assert await r3.chunk(1) in (b"o\n", b'c[1002,"Connection interrupted"]\n')
    r3.close()


@pytest_twisted.ensureDeferred
async def test_abort_xhr_polling(reactor: Any, port: int) -> None:
    url = "/echo" + sid()
    assert (await fetch(reactor, port, "POST", url + "/xhr")).body == b"o\n"
    r1 = await connect(reactor, port)
    r1.send_request("POST", url + "/xhr", body=b"")
    await sleep(reactor, 0.1)
    r2 = await fetch(reactor, port, "POST", url + "/xhr")
    assert r2.body == b'c[2010,"Another connection still open"]\n'
    r1.close()
    await sleep(reactor, 0.1)
    r3 = await fetch(reactor, port, "POST", url + "/xhr")
    assert r3.body in (b"o\n", b'c[1002,"Connection interrupted"]\n')


# -- HTTP/1.0 and 1.1 ---------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_http10(reactor: Any, port: int) -> None:
    c = await connect(reactor, port)
    c.send_request("GET", "/echo", {"Connection": "Keep-Alive"}, http="1.0")
    r = await c.complete()
    assert r.status == 200 and not r.header("transfer-encoding")
    assert r.body == b"Welcome to SockJS!\n"
    c.close()
    c = await connect(reactor, port)
    c.send_request("POST", "/close" + sid() + "/xhr_streaming", {"Connection": "Keep-Alive"},
                   http="1.0")
    r = await c.head()
    assert r.status == 200
    assert not r.header("transfer-encoding") and not r.header("content-length")
    await c.until(lambda: c.closed)
    body = c.response().body
    assert body == b"h" * 2048 + b"\n" + b"o\n" + b'c[3000,"Go away!"]\n'


@pytest_twisted.ensureDeferred
async def test_http11(reactor: Any, port: int) -> None:
    c = await connect(reactor, port)
    c.send_request("GET", "/echo", {"Connection": "Keep-Alive"})
    r = await c.complete()
    assert r.header("connection", ) in (None, "keep-alive", "Keep-Alive")
    assert r.body == b"Welcome to SockJS!\n"
    c.send_request("GET", "/echo", {"Connection": "Keep-Alive"})
    assert (await c.complete()).status == 200
    c.close()
    c = await connect(reactor, port)
    c.send_request("POST", "/close" + sid() + "/xhr_streaming", body=b"")
    r = await c.complete()
    assert r.header("transfer-encoding") == "chunked" and not r.header("content-length")
    assert r.chunks == [b"h" * 2048 + b"\n", b"o\n", b'c[3000,"Go away!"]\n']
    c.close()


@pytest.mark.parametrize("path", ["/echo/a/a/nope", "/echo/a/a/XHR", "/echox"])
@pytest_twisted.ensureDeferred
async def test_unknown_paths(reactor: Any, port: int, path: str) -> None:
    assert (await fetch(reactor, port, "POST", path, body=b"")).status == 404


@pytest_twisted.ensureDeferred
async def test_wrong_methods(reactor: Any, port: int) -> None:
    for method, path, allow in (
        ("GET", "/echo/a/a/xhr", "POST, OPTIONS"),
        ("GET", "/echo/a/a/xhr_send", "POST, OPTIONS"),
        ("POST", "/echo/a/a/eventsource", "GET"),
        ("GET", "/echo/a/a/jsonp_send", "POST"),
    ):
        r = await fetch(reactor, port, method, path, body=b"" if method == "POST" else None)
        verify405(r)
        assert r.header("allow") == allow
