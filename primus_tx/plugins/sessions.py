# -*- test-case-name: tests.plugins.test_sessions -*-
"""
The ``sessions`` plugin: ``spark.session`` is the twisted.web session of
the request that opened the connection (the WebSocket upgrade, or the
first polling request), for every transformer, so a site's login state
reaches its sparks::

    primus = Primus(site, plugin="sessions")

    def connection(spark):
        user = ILogin(spark.session).user     # what the login page stored

It is ``request.getSession()`` with its semantics: the session named by
the site's session cookie when the browser sends a valid one, else a new
session whose cookie goes out with the response when that response is
still to be written (a polling handshake; a WebSocket upgrade is answered
by the WebSocket library, whose ``101`` carries no cookie).  New sessions
are made once per connection, never per polling request.

``SessionsPlugin(required=True)`` refuses every request under the
pathname that does not carry a valid session cookie with ``401`` (before
``authorization`` runs), so only logged-in pages get a connection.

While a spark is open its session is kept alive (touched on each
heartbeat), and expiring the session — a logout — ends the spark
(``end_on_expire=False`` keeps it open).
"""

from __future__ import annotations

from typing import Any, Callable

from zope.interface import implementer

from primus_tx._errors import AuthorizationError
from primus_tx.interfaces import IPrimusPlugin
from primus_tx.plugins import PluginBase, extend_spark

__all__ = ["SessionSpark", "SessionsPlugin", "existing_session", "plugin"]

#: The middleware layer's name.
LAYER = "session"


def _cookie_name(request: Any) -> bytes:
    # The name twisted.web's Request.getSession() uses.
    base = b"TWISTED_SECURE_SESSION" if request.isSecure() else b"TWISTED_SESSION"
    return b"_".join([base] + list(getattr(request, "sitepath", None) or []))


def existing_session(request: Any) -> Any:
    """
    The live session ``request``'s cookie names, or ``None``: unlike
    ``request.getSession()`` this never makes one.
    """
    site = getattr(request, "site", None)
    if site is None:
        return None
    uid = request.getCookie(_cookie_name(request))
    if not uid:
        return None
    try:
        return site.getSession(uid)
    except KeyError:
        return None


def _layer_factory(required: bool) -> Callable[[Any, Any], Callable[[Any], None]]:
    def factory(primus: Any, options: Any) -> Callable[[Any], None]:
        def session_layer(request: Any) -> None:
            session = existing_session(request)
            if session is None:
                if required:
                    raise AuthorizationError("A session is required", 401)
                return
            # Cached on the request (and touched), so the spark finds it.
            request.getSession()

        return session_layer

    return factory


class SessionSpark:
    """
    What the plugin mixes into ``primus.Spark``: :attr:`session`.
    """

    _sessions_end_on_expire = True
    #: The twisted.web session of the request that opened this connection
    #: (``None`` when that request has no site, as with hand-made fakes).
    session: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        spark: Any = self
        request = spark.request
        if request is None or getattr(request, "site", None) is None:
            return
        session = request.getSession()
        self.session = session
        spark.on("heartbeat", self._session_touch)
        if self._sessions_end_on_expire:
            session.notifyOnExpire(self._session_expired)
            spark.on("end", self._session_forget)

    def _session_touch(self) -> None:
        session = self.session
        if session is not None:
            session.touch()

    def _session_expired(self) -> None:
        spark: Any = self
        spark.end()

    def _session_forget(self) -> None:
        session: Any = self.session
        callbacks = getattr(session, "expireCallbacks", None)
        if callbacks and self._session_expired in callbacks:
            # A new list, not remove(): this runs while Session.expire()
            # iterates over the old one when a logout ends the spark.
            mine = self._session_expired
            session.expireCallbacks = [c for c in callbacks if c != mine]


@implementer(IPrimusPlugin)
class SessionsPlugin(PluginBase):
    """
    The sessions plugin (found by name as ``"sessions"``).

    :param required: refuse requests without a valid session cookie (401).
    :param end_on_expire: end a spark when its session expires (a logout).
    """

    name = "sessions"
    #: Server only: the browser sends the cookie by itself.
    client: Any = None

    def __init__(self, required: bool = False, end_on_expire: bool = True) -> None:
        self.required = bool(required)
        self.end_on_expire = bool(end_on_expire)

    def server(self, primus: Any, options: Any = None) -> None:
        """
        Add the ``session`` middleware layer (before ``authorization``, so
        an authorize function can read ``request.getSession()`` too) and
        give the server's sparks :attr:`SessionSpark.session`.
        """
        index = primus.index_of_layer("authorization")
        primus.use(LAYER, _layer_factory(self.required), index=index if index >= 0 else None)
        cls = extend_spark(primus, SessionSpark)
        cls._sessions_end_on_expire = self.end_on_expire


#: The plugin as found by name (``plugin="sessions"``).
plugin = SessionsPlugin()
