"""
What Primus adds to the Site it attaches to (primus_tx._guard): bodies
under the pathname refused before they are read, no form parsing there,
the header deadline, 431 for oversize heads, the cap on requests still in
their headers, and leaf roots served as before.

Everything runs on a ``Clock`` and ``StringTransport``: bytes in, bytes out,
exactly what a client would see.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from twisted.web.wsgi import WSGIResource

from primus_tx import Primus, PrimusError


class Leaf(Resource):
    """
    A leaf root that says which path it saw.
    """

    isLeaf = True

    def render(self, request: Any) -> bytes:
        return b"leaf " + b"/".join(request.postpath) + b" " + repr(request.args).encode()


def _site(root: Any = None, **options: Any) -> tuple[Site, Primus, Clock]:
    clock = Clock()
    site = Site(root if root is not None else Resource(), reactor=clock)
    options.setdefault("ping_interval", 0)
    primus = Primus(site, reactor=clock, **options)
    clock.advance(0)
    return site, primus, clock


class Conn:
    """
    One client connection to ``site`` on a StringTransport.
    """

    def __init__(self, site: Site, host: str = "10.0.0.1") -> None:
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
        self.protocol = site.buildProtocol(self.transport.getPeer())
        self.protocol.makeConnection(self.transport)

    def send(self, data: bytes) -> Conn:
        self.protocol.dataReceived(data)
        return self

    @property
    def out(self) -> bytes:
        return self.transport.value()

    @property
    def status(self) -> int:
        return int(self.out.split(b" ", 2)[1])

    @property
    def closed(self) -> bool:
        return bool(self.transport.disconnecting)

    @property
    def channel(self) -> Any:
        return getattr(self.protocol, "_channel", self.protocol)


def _get(path: bytes) -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n"


# -- 1. leaf roots -----------------------------------------------------------------


def test_a_leaf_root_keeps_every_other_path_with_its_segments():
    site, primus, _ = _site(Leaf())
    conn = Conn(site).send(_get(b"/a/b/c?x=1"))
    assert conn.status == 200
    assert b"leaf a/b/c {b'x': [b'1']}" in conn.out
    assert Conn(site).send(_get(b"/")).out.endswith(b"leaf  {}")
    # Primus still owns its pathname.
    assert Conn(site).send(_get(b"/primus/spec")).status == 200
    primus.destroy()


def test_a_wsgi_root_sees_the_whole_path():
    seen: list[tuple[str, str]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append((environ["SCRIPT_NAME"], environ["PATH_INFO"]))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"wsgi"]

    class Inline:
        """A thread pool that runs the WSGI app at once (no threads)."""

        def callInThread(self, f: Any, *a: Any, **kw: Any) -> None:
            f(*a, **kw)

    class Now:
        def callFromThread(self, f: Any, *a: Any, **kw: Any) -> None:
            f(*a, **kw)

    root = WSGIResource(Now(), Inline(), app)  # type: ignore[arg-type]
    site, primus, _ = _site(root)
    conn = Conn(site).send(_get(b"/deep/er/path"))
    assert conn.status == 200 and b"\r\nwsgi\r\n" in conn.out
    assert seen == [("", "/deep/er/path")]
    primus.destroy()


def test_a_klein_app_routes_as_without_primus():
    from klein import Klein

    app = Klein()

    @app.route("/users/<name>/posts")
    def posts(request: Any, name: str) -> str:
        return f"posts of {name}"

    site, primus, _ = _site(app.resource())
    conn = Conn(site).send(_get(b"/users/ann/posts"))
    assert conn.status == 200 and b"posts of ann" in conn.out
    assert Conn(site).send(_get(b"/nope")).status == 404
    primus.destroy()


# -- 3. bodies -------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_from_content_length():
    site, primus, _ = _site(max_length=1000)
    conn = Conn(site).send(
        b"POST /primus/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n"
        b"Expect: 100-continue\r\n\r\n" + b"z" * 5000
    )
    assert conn.out.startswith(b"HTTP/1.1 413 Payload Too Large\r\n")
    assert b"100 Continue" not in conn.out
    assert conn.closed
    request = conn.channel.requests[0]
    assert request.content.tell() == 0  # not one byte kept
    primus.destroy()


def test_a_chunked_body_is_refused_once_it_passes_the_limit():
    site, primus, _ = _site(max_length=1000)
    conn = Conn(site).send(b"POST /primus/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    request = conn.channel.requests[0]
    for _ in range(5):
        conn.send(b"190\r\n" + b"z" * 400 + b"\r\n")
    assert conn.status == 413 and conn.closed
    assert request.content.tell() <= 1000
    primus.destroy()


def test_bodies_elsewhere_on_the_site_are_untouched():
    class Echo(Resource):
        isLeaf = True

        def render_POST(self, request: Any) -> bytes:
            return b"%d %r" % (len(request.content.read()), request.args)

    root = Resource()
    root.putChild(b"echo", Echo())
    site, primus, _ = _site(root, max_length=10)
    conn = Conn(site).send(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 30\r\n\r\n" + b"a=" + b"1" * 28
    )
    assert conn.status == 200
    assert conn.out.endswith(b"30 {b'a': [b'" + b"1" * 28 + b"']}")
    primus.destroy()


def test_nothing_under_the_pathname_is_parsed_as_a_form():
    site, primus, _ = _site(transformer="engine.io", max_length=1000)
    seen: list[Any] = []
    primus.use("peek", lambda request: seen.append((request.args, request.content.read())))
    body = b"a=1&b=2"
    conn = Conn(site).send(
        b"POST /primus/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\n" + body
    )
    assert conn.status == 400  # a POST handshake, as engine.io answers it
    assert seen == [({b"EIO": [b"4"], b"transport": [b"polling"]}, body)]
    primus.destroy()


def test_an_engineio_post_for_an_unknown_session_is_answered_unread():
    site, primus, _ = _site(transformer="engine.io")
    conn = Conn(site).send(
        b"POST /primus/?EIO=4&transport=polling&sid=nope HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 5000\r\n\r\n" + b"z" * 1000
    )
    assert conn.status == 400 and conn.out.endswith(b'{"code":1,"message":"Session ID unknown"}')
    assert conn.closed and conn.channel.requests[0].content.tell() == 0
    primus.destroy()


@pytest.mark.parametrize("kind", [b"xhr_send", b"jsonp_send"])
def test_a_sockjs_send_for_an_unknown_session_is_answered_unread(kind):
    site, primus, _ = _site(transformer="sockjs")
    conn = Conn(site).send(
        b"POST /primus/000/nope/" + kind + b" HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 5000\r\n\r\n" + b"z" * 100
    )
    assert conn.status == 404 and conn.closed
    assert conn.channel.requests[0].content.tell() == 0
    primus.destroy()


@pytest.mark.parametrize("kind", [b"xhr_send", b"jsonp_send"])
def test_a_sockjs_send_over_max_length_is_413(kind):
    site, primus, _ = _site(transformer="sockjs", max_length=100)
    opened = Conn(site).send(
        b"POST /primus/000/s1/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    )
    assert opened.status == 200 and b"o\n" in opened.out
    conn = Conn(site).send(
        b"POST /primus/000/s1/" + kind + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
    )
    assert conn.status == 413
    assert "s1" in primus._server.sessions
    primus.destroy()


def test_the_engineio_body_limit_is_its_max_payload():
    site, primus, _ = _site(transformer="engine.io", transport={"max_payload": 50})
    conn = Conn(site).send(
        b"POST /primus/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: 51\r\n\r\n"
    )
    assert conn.status == 413
    primus.destroy()


# -- 4. deadlines and limits ---------------------------------------------------------


def test_headers_must_be_complete_within_the_deadline():
    site, primus, clock = _site(header_timeout=5)
    conn = Conn(site).send(b"GET /anything HTTP/1.1\r\n")
    for _ in range(4):
        clock.advance(1)
        conn.send(b"X-Slow: 1\r\n")  # a slowloris: never idle, never done
    assert conn.out == b""
    clock.advance(1.5)
    assert conn.out.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and conn.closed
    primus.destroy()


def test_the_deadline_stops_with_the_headers_and_restarts_per_request():
    site, primus, clock = _site(header_timeout=5)
    conn = Conn(site).send(_get(b"/primus/spec"))
    assert conn.status == 200 and not conn.closed
    clock.advance(30)  # idle keep-alive: not a header deadline
    assert not conn.closed
    conn.transport.clear()
    conn.send(b"GET /primus/spec HTTP/1.1\r\n")
    clock.advance(5)
    assert conn.status == 408
    primus.destroy()


def test_no_deadline_when_disabled():
    site, primus, clock = _site(header_timeout=0)
    conn = Conn(site).send(b"GET /x HTTP/1.1\r\n")
    clock.advance(20)
    assert conn.out == b"" and not conn.closed
    assert clock.getDelayedCalls() != []  # twisted.web's idle timeout only
    primus.destroy()


def test_an_oversize_request_line_is_431():
    site, primus, _ = _site()
    conn = Conn(site).send(b"GET /" + b"a" * 20000)
    assert conn.out.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n") and conn.closed
    primus.destroy()


def test_oversize_headers_are_431():
    site, primus, _ = _site()
    conn = Conn(site).send(b"GET /primus HTTP/1.1\r\n" + b"X-Big: " + b"b" * 9000 + b"\r\n")
    conn.send(b"X-Big2: " + b"b" * 9000 + b"\r\n")
    assert conn.status == 431 and conn.closed
    primus.destroy()


def test_too_many_headers_are_431():
    site, primus, _ = _site()
    conn = Conn(site).send(b"GET /primus HTTP/1.1\r\n" + b"X: 1\r\n" * 502)
    assert conn.status == 431
    primus.destroy()


def test_requests_in_their_headers_are_capped_per_address_and_in_total():
    from twisted.logger import capturedLogs

    site, primus, _ = _site(max_pending=3, max_pending_per_address=2)
    slow = [Conn(site, "10.0.0.1").send(b"GET /primus HTTP/1.1\r\n") for _ in range(2)]
    with capturedLogs() as events:
        third = Conn(site, "10.0.0.1").send(b"GET /primus HTTP/1.1\r\n")
        Conn(site, "10.0.0.1").send(b"GET /primus HTTP/1.1\r\n")
    assert third.status == 503 and third.closed
    assert len([e for e in events if "refusing requests" in e.get("log_format", "")]) == 1
    other = Conn(site, "10.0.0.2").send(b"GET /primus HTTP/1.1\r\n")
    assert other.out == b""
    fourth = Conn(site, "10.0.0.3").send(b"GET /primus HTTP/1.1\r\n")
    assert fourth.status == 503
    # Paths outside the pathname are not counted.
    assert Conn(site, "10.0.0.1").send(b"GET /elsewhere HTTP/1.1\r\n").out == b""
    # Finishing or leaving frees the slots.
    slow[0].send(b"Host: x\r\n\r\n")  # /primus: 426 from the websockets transformer
    assert slow[0].status == 426
    slow[1].transport.loseConnection()
    slow[1].protocol.connectionLost(None)
    entry = site._primus_guard.entries[0]
    assert entry.pending == 1 and entry.by_address == {"10.0.0.2": 1}
    primus.destroy()


def test_detaching_restores_the_site():
    site = Site(Resource())
    factory = site.requestFactory
    clock = Clock()
    first = Primus(site, reactor=clock, ping_interval=0)
    second = Primus(site, reactor=clock, ping_interval=0, pathname="/other")
    assert site.requestFactory is not factory and issubclass(site.requestFactory, factory)
    first.destroy()
    assert site.requestFactory is not factory
    second.destroy()
    clock.advance(0)
    assert site.requestFactory is factory is Request
    assert "buildProtocol" not in vars(site) and not hasattr(site, "_primus_guard")


@pytest.mark.parametrize(
    "options",
    [
        {"max_buffered": -1},
        {"max_buffered": 1000},
        {"max_pending": 1.5},
        {"max_pending_per_address": "x"},
        {"header_timeout": -2},
        {"slow_client": "ignore"},
    ],
)
def test_bad_hardening_options_are_refused(options):
    with pytest.raises(PrimusError):
        Primus(None, **options)


def test_an_engineio_post_over_max_payload_is_413_unread_and_keeps_the_session():
    site, primus, _ = _site(transformer="engine.io", transport={"max_payload": 100})
    handshake = Conn(site).send(_get(b"/primus/?EIO=4&transport=polling"))
    assert handshake.status == 200
    sid = next(iter(primus._server.sessions))
    conn = Conn(site).send(
        b"POST /primus/?EIO=4&transport=polling&sid=" + sid.encode() + b" HTTP/1.1\r\n"
        b"Host: x\r\nContent-Length: 100000000\r\n\r\n" + b"4" * 1000
    )
    assert conn.status == 413 and conn.closed
    assert conn.channel.requests[0].content.tell() == 0
    assert sid in primus._server.sessions and primus.connected == 1
    ok = Conn(site).send(
        b"POST /primus/?EIO=4&transport=polling&sid=" + sid.encode() + b" HTTP/1.1\r\n"
        b"Host: x\r\nContent-Length: 3\r\n\r\n4hi"
    )
    assert ok.status == 200
    primus.destroy()


# -- on a real loopback server -------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_slowloris_connections_are_cut_and_others_go_on(reactor):
    """
    Clients that trickle their headers forever are answered 408 and closed
    once the deadline passes, while a WebSocket client keeps working.
    """
    from hostile_helpers import hostile_server, sleep, wait_until

    async with hostile_server(reactor, header_timeout=0.3) as h:
        good = await h.ws()
        slow = [await h.raw() for _ in range(20)]
        for client in slow:
            client.send(b"GET /primus HTTP/1.1\r\n")
        for _ in range(5):
            await sleep(reactor, 0.1)
            for client in slow:
                if not client.lost:
                    client.send(b"X-Trickle: 1\r\n")
        await wait_until(reactor, lambda: all(c.lost for c in slow), 2.0, "the slow clients to be cut")
        assert all(bytes(c.received).startswith(b"HTTP/1.1 408 ") for c in slow)
        assert h.site._primus_guard.entries[0].pending == 0
        await h.echo_round_trip(good)
