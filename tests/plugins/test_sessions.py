"""
The sessions plugin: ``spark.session`` is the site's session for every
transformer (real loopback, the Python client carrying the session
cookie), a new session's cookie goes out with a polling handshake, the
``required`` option refuses requests without one, and a logout (the
session expiring) ends the spark.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
import treq
from fakes import connect, make_primus
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.web import server
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.test.requesthelper import DummyChannel

from primus_tx import Primus
from primus_tx.plugins.sessions import SessionsPlugin, existing_session

pytestmark = pytest.mark.timeout(30)

TRANSFORMERS = ["websockets", "engine.io", "sockjs"]


# -- on fakes ----------------------------------------------------------------------


def site_request(site: Site, cookie: bytes = b"") -> Any:
    # A real twisted.web request (DummyRequest's getSession ignores cookies).
    request = server.Request(DummyChannel(), False)
    request.site = site
    request.sitepath = []
    if cookie:
        request.requestHeaders.setRawHeaders(b"cookie", [cookie])
    request.parseCookies()
    return request


class LoggedIn:
    """
    A site on a Clock with one session, and a Primus with the plugin.
    """

    def __init__(self, plugin: Any = "sessions", login: bool = True) -> None:
        self.clock = Clock()
        self.site = Site(Resource(), reactor=self.clock)
        self.session = self.site.makeSession() if login else None
        self.primus, _ = make_primus(self.site, reactor=self.clock, ping_interval=0, plugin=plugin)

    def connect(self) -> tuple[Any, Any, Any]:
        cookie = b"TWISTED_SESSION=" + self.session.uid if self.session else b""
        request = site_request(self.site, cookie)
        spark, conn = connect(self.primus, request=request)
        return spark, conn, request


def test_the_spark_has_the_session_its_cookie_names() -> None:
    world = LoggedIn()
    spark, _, _ = world.connect()
    assert spark.session is world.session


def test_without_a_cookie_a_session_is_made_with_its_cookie() -> None:
    world = LoggedIn(login=False)
    spark, _, request = world.connect()
    assert spark.session is not None
    assert world.site.sessions[spark.session.uid] is spark.session
    assert request.cookies == [b"TWISTED_SESSION=" + spark.session.uid + b"; Path=/"]


def test_logging_out_ends_the_spark_and_heartbeats_keep_the_session() -> None:
    world = LoggedIn()
    session = world.session
    _, conn, _ = world.connect()
    world.clock.advance(session.sessionTimeout - 1)
    conn.pong(1)
    world.clock.advance(session.sessionTimeout - 1)
    assert session.uid in world.site.sessions  # touched by the heartbeat
    session.expire()
    assert conn.closed and conn.ended_by_server


def test_logging_out_ends_every_spark_of_the_session() -> None:
    world = LoggedIn()
    conns = [world.connect()[1] for _ in range(3)]
    world.session.expire()
    assert all(conn.closed for conn in conns)


def test_ended_sparks_forget_their_session() -> None:
    world = LoggedIn()
    spark, _, _ = world.connect()
    spark.end()
    assert world.session.expireCallbacks == []


def test_end_on_expire_can_be_turned_off() -> None:
    world = LoggedIn(plugin={"sessions": SessionsPlugin(end_on_expire=False)})
    spark, conn, _ = world.connect()
    world.session.expire()
    assert not conn.closed
    assert spark.session is world.session


@pytest.mark.parametrize("cookie", [b"", b"TWISTED_SESSION=forged", b"TWISTED_SESSION="])
def test_existing_session_never_makes_one(cookie: bytes) -> None:
    site = Site(Resource(), reactor=Clock())
    assert existing_session(site_request(site, cookie)) is None
    assert site.sessions == {}


def test_the_layer_runs_before_authorization() -> None:
    primus, _ = make_primus(ping_interval=0, plugin="sessions")
    names = [layer.name for layer in primus.layers]
    assert names.index("session") == names.index("authorization") - 1


# -- real loopback, every transformer ----------------------------------------------


class Login(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.getSession().user = request.args[b"user"][0].decode()  # type: ignore[attr-defined]
        return b"ok"


def site_and_primus(reactor: Any, transformer: str, **plugin: Any) -> tuple[Site, Primus]:
    root = Resource()
    root.putChild(b"login", Login())
    site = Site(root)
    primus = Primus(
        site,
        reactor=reactor,
        transformer=transformer,
        ping_interval=0,
        plugin={"sessions": SessionsPlugin(**plugin)} if plugin else "sessions",
    )
    return site, primus


def session_cookie(response: Any) -> str:
    for value in response.headers.getRawHeaders(b"set-cookie", []):
        name, _, rest = value.decode().partition("=")
        if name == "TWISTED_SESSION":
            return rest.split(";", 1)[0]
    return ""


async def serve(reactor: Any, site: Site) -> tuple[Any, str]:
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    return port, f"http://127.0.0.1:{port.getHost().port}"


@pytest.mark.parametrize("transformer", TRANSFORMERS)
@pytest_twisted.ensureDeferred
async def test_a_logged_in_client_s_spark_has_its_session(reactor: Any, transformer: str) -> None:
    site, primus = site_and_primus(reactor, transformer)
    port, url = await serve(reactor, site)
    socket: Any = None
    try:
        response = await treq.get(url + "/login?user=ada", reactor=reactor)
        await response.content()
        cookie = session_cookie(response)
        assert cookie
        users: Deferred[Any] = Deferred()
        primus.on("connection", lambda spark: users.callback(getattr(spark.session, "user", None)))
        Socket = primus.Socket
        socket = await Socket.connect(
            url, reactor=reactor, transport={"headers": {"Cookie": f"TWISTED_SESSION={cookie}"}}
        )
        assert await users.addTimeout(5, reactor) == "ada"
        # A logout ends the connection, without a reconnect.
        ended: Deferred[Any] = Deferred()
        socket.once("end", lambda: ended.callback(None))
        site.getSession(cookie.encode()).expire()
        await ended.addTimeout(5, reactor)
    finally:
        if socket is not None:
            await socket.end()
        await primus.destroy()
        await port.stopListening()


@pytest.mark.parametrize("transformer", TRANSFORMERS)
@pytest_twisted.ensureDeferred
async def test_required_refuses_clients_without_a_session(reactor: Any, transformer: str) -> None:
    site, primus = site_and_primus(reactor, transformer, required=True)
    port, url = await serve(reactor, site)
    try:
        refused = await treq.get(url + "/primus/?EIO=4&transport=polling", reactor=reactor)
        assert refused.code == 401
        assert await refused.json() == {"error": "A session is required"}
        # The library is still served: the page needs it before logging in.
        library = await treq.get(url + "/primus/primus.js", reactor=reactor)
        assert library.code == 200
        await library.content()
    finally:
        await primus.destroy()
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_polling_handshake_sets_the_new_session_s_cookie(reactor: Any) -> None:
    site, primus = site_and_primus(reactor, "engine.io")
    port, url = await serve(reactor, site)
    sessions: list[Any] = []
    primus.on("connection", lambda spark: sessions.append(spark.session))
    try:
        response = await treq.get(url + "/primus/?EIO=4&transport=polling", reactor=reactor)
        await response.content()
        assert response.code == 200
        assert sessions and session_cookie(response) == sessions[0].uid.decode()
        # Later polls of that connection make no more sessions.
        before = len(site.sessions)
        sid = next(iter(primus.connections))
        poll = await treq.post(
            url + f"/primus/?EIO=4&transport=polling&sid={sid}", b"4\"x\"", reactor=reactor
        )
        await poll.content()
        assert len(site.sessions) == before
    finally:
        await primus.destroy()
        await port.stopListening()
        for session in list(site.sessions.values()):
            session.expire()
