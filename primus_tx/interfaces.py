"""
The interfaces that make primus-tx pluggable.

A transformer adapts one transport (WebSocket, Engine.IO, SockJS...) to the
small :class:`IConnection` interface and calls an :class:`IConnectionHandler`
(the spark) with what arrives; a parser turns values into messages and back;
a Primus plugin extends the server, the clients, or both.  Everything above
``IConnection`` is shared by every transformer, and nothing below it knows
about parsers, transforms or events.

A transformer sees its server only through :class:`ITransformerHost`
(which :class:`~primus_tx.Primus` provides) and hands back an
:class:`ITransformerServer`; on the client side it provides
:class:`IClientTransport` and reports to an :class:`IClientTransportHandler`.
So a transformer imports this module, the errors and the shared helpers,
never the server, the spark or the client socket.

Third-party transformers, parsers and plugins can be passed as objects, or
found by name through Twisted's plugin system: publish an object providing
:class:`INamedTransformer`, :class:`INamedParser` or :class:`IPrimusPlugin`
from a module in a ``twisted/plugins`` folder (a plugin must also declare
``twisted.plugin.IPlugin``; the named interfaces already extend it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from twisted.plugin import IPlugin
from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from primus_tx._http import PrimusRequest

__all__ = [
    "IClientTransport",
    "IClientTransportHandler",
    "IConnection",
    "IConnectionHandler",
    "INamedParser",
    "INamedTransformer",
    "IParser",
    "IPrimusPlugin",
    "ITransformer",
    "ITransformerHost",
    "ITransformerServer",
]


class IConnection(Interface):
    """
    One client's transport connection, as a spark sees it.

    Implemented by each transformer; messages are whole Primus messages, the
    framing below them is the transformer's business.

    One member is optional, so it is not declared below (``verifyObject``
    would then demand it): ``whenClosed() -> Deferred[None]``, a new
    Deferred for each call, firing once the connection is fully closed (its
    closing handshake done or the socket dropped).  When a connection has
    it, ``Primus.destroy()`` waits for it (a few seconds at most) before
    firing, so a process that exits after ``destroy()`` does not cut its
    clients' close messages short.

    Optional as well: ``abort()``, dropping what is still waiting to be sent
    (and the connection with it, for a socket); a spark past the server's
    ``max_buffered`` calls it before ``close(True)``, so that a slow
    client's buffer is freed at once rather than after a close handshake
    the client would be as slow to read.
    """

    def send(message: str | bytes) -> None:
        """
        Send one message: ``str`` as a text message, ``bytes`` as binary.
        """

    def sendPrepared(prepared: object) -> None:
        """
        Send a message prepared once by :meth:`ITransformer.prepare` for many
        connections (a broadcast).
        """

    def close(reconnect: bool) -> None:
        """
        Close the connection.  ``reconnect`` is a hint for transports that can
        tell the client apart (Primus signals intent with messages, not here).
        """

    def pauseReading() -> None:
        """
        Stop delivering incoming messages until :meth:`resumeReading`.
        """

    def resumeReading() -> None:
        """
        Deliver incoming messages again.
        """

    def bufferedAmount() -> int:
        """
        How many outgoing bytes are waiting in user space.
        """



class IConnectionHandler(Interface):
    """
    What a transformer calls on the spark when something happens on the wire.
    """

    def messageReceived(message: str | bytes) -> None:
        """
        One whole message arrived: ``str`` for text, ``bytes`` for binary.
        """

    def pingReceived() -> None:
        """
        The transport saw a sign of life that is not a Primus message (a
        WebSocket PING frame); it counts as an answered heartbeat.
        """

    def connectionLost(reason: object) -> None:
        """
        The connection is gone; ``reason`` is a Failure or an exception.
        """

    def connectionFailed(error: Exception) -> None:
        """
        The transport reports an error (a too-large message, a protocol
        violation); the spark reports it and ends.
        """

    def pauseWriting() -> None:
        """
        The transport's outgoing buffer passed its high-water mark.
        """

    def resumeWriting() -> None:
        """
        The transport's outgoing buffer fell below its low-water mark.
        """


class ITransformer(Interface):
    """
    A transport for Primus: the server side, the Python client side and the
    browser client side of one real-time transport.
    """

    name = Attribute("The transformer's name, as in the spec document (``websockets``).")

    def server(host: ITransformerHost) -> ITransformerServer:
        """
        Build the server side for one server, which it reaches only through
        ``host``.

        :raises PrimusError: for transport options it does not know or
            cannot honour, so that a misconfigured server never starts.
        """

    def client() -> type:
        """
        The Python client transport class: called as ``cls(handler, reactor,
        options)``, its instances provide :class:`IClientTransport`.
        """

    def library() -> str:
        """
        The browser client transport, as JavaScript source.
        """


class ITransformerHost(Interface):
    """
    What a transformer's server side may use of its server (provided by
    :class:`~primus_tx.Primus`), and nothing else.
    """

    reactor = Attribute(
        "The server's reactor (injected; a ``Clock`` in tests): schedule every "
        "timer on it and cancel it on every exit path."
    )
    pathname = Attribute(
        "The path the server answers under (``'/primus'``: one leading slash, no "
        "trailing one); requests reach the transformer with their whole path."
    )
    max_length = Attribute(
        "The largest message, in bytes, a client may send; refuse larger ones."
    )
    compression = Attribute(
        "Whether the server was asked to accept compressed messages "
        "(permessage-deflate for WebSocket transports)."
    )
    transport_options = Attribute(
        "The ``transport`` option, a dict of this transformer's own settings (a "
        "copy: the transformer may read it freely).  Refuse names it does not "
        "know with ``primus_tx._options.reject_unknown``."
    )

    def connect_spark(connection: IConnection, **spark_options: Any) -> Optional[IConnectionHandler]:
        """
        A client connected through ``connection``: make its spark, register
        it and announce it (``"connection"``).

        The keyword arguments describe the handshake: ``request`` (the
        twisted.web request), ``query`` (its parsed query, ``request.query``),
        ``peer`` (``(ip, port, secure)``, see ``primus_tx._http.peer_of``),
        ``headers`` (lower-case ``str`` names; built from ``request`` on first
        use when left out), ``socket`` (the transport's own connection object,
        ``spark.socket``) and ``id`` (the transport's own session id, if it
        has one).

        :return: the spark (call it, as :class:`IConnectionHandler`, with
            what happens on the wire), or ``None`` when the server is
            shutting down and has already closed ``connection``.
        """

    def disable(name: str) -> Any:
        """
        Switch the middleware layer called ``name`` off, for a transport
        that answers that layer's concern itself (SockJS has CORS rules of
        its own and disables ``"cors"``).
        """


class ITransformerServer(Interface):
    """
    A transformer's server side for one server: what
    :meth:`ITransformer.server` returns.

    Requests reach it after the middleware (CORS, authorization, the
    library and spec documents) let them through, with ``request.query``
    already parsed; it answers every one of them, then or later.

    Two optional members (not declared, so ``verifyObject`` does not demand
    them) let the server's site guard refuse a request body before it is
    read: ``max_body``, the largest body it accepts (the host's
    ``max_length`` when absent), and ``refuse_body(method, uri)``, returning
    ``(status, content_type, body)`` to answer a request with a body at once
    (a post for a session that does not exist), or ``None``.
    """

    def upgrade(request: PrimusRequest) -> None:
        """
        A request asking for a WebSocket (``Upgrade: websocket``).  Take the
        connection over (``primus_tx.transformers._takeover.take_over``) or
        answer it with an HTTP error.
        """

    def request(request: PrimusRequest) -> None:
        """
        A plain HTTP request: a polling or streaming transport's traffic, or
        426 from a transport that only speaks WebSocket.
        """

    def prepare(message: str | bytes) -> object:
        """
        Frame one encoded broadcast message once for every connection; each
        connection's :meth:`IConnection.sendPrepared` receives the result.
        Transports that frame per connection return ``message`` itself.
        """

    def close() -> None:
        """
        The server is destroyed (its sparks already ended): release
        sessions, timers and anything else still held.
        """


class INamedTransformer(ITransformer, IPlugin):
    """
    A transformer published through Twisted's plugin system (it extends
    ``twisted.plugin.IPlugin``, which the plugin system looks for).
    """


class IParser(Interface):
    """
    A message encoding, shared by the server, the Python client and the
    browser client.
    """

    name = Attribute("The parser's name, as in the spec document (``json``).")
    binary = Attribute("Whether encoded messages are binary (``bytes``) rather than text.")

    def encode(data: object) -> str | bytes:
        """
        Encode one value into one message; raise to report a failure.
        """

    def decode(message: str | bytes) -> object:
        """
        Decode one message (``str`` for text, ``bytes`` for binary); raise to
        report a failure.
        """

    def library() -> str:
        """
        JavaScript source defining ``encoder(data, fn)`` and
        ``decoder(data, fn)`` for the browser client (Primus's parser
        contract), plus any library they need.
        """


class INamedParser(IParser, IPlugin):
    """
    A parser published through Twisted's plugin system (it extends
    ``twisted.plugin.IPlugin``, which the plugin system looks for).
    """


class IPrimusPlugin(Interface):
    """
    A Primus plugin.  Every member is optional but a plugin needs at least
    ``server`` or ``client``.
    """

    name = Attribute("The plugin's name (used when it is found through Twisted's plugins).")
    server = Attribute("``server(primus, options)``, called when the plugin is added.")
    client = Attribute("``client(socket, options)``, called for each Python client socket.")
    library = Attribute("JavaScript source appended to the browser library, or ``None``.")


class IClientTransport(Interface):
    """
    One connection attempt to a Primus server, as the client socket sees it.

    The class is built as ``transport_class(handler, reactor, options)``:
    ``handler`` provides :class:`IClientTransportHandler`, ``reactor`` is the
    socket's (injected) reactor and ``options`` is the socket's
    ``transport`` option without ``headers``.  A socket builds a new
    transport for every (re)connection attempt, so a transport never has to
    reconnect itself.

    After :meth:`open` the transport calls the handler with either
    ``connectionMade`` (then any ``messageReceived``, then exactly one
    ``connectionLost``), or ``connectionFailed`` followed by exactly one
    ``connectionLost``; once :meth:`close` has been called it calls nothing.
    """

    protocol = Attribute(
        "The URL scheme this transport connects with, without the TLS 's' "
        "(``'ws'`` for WebSocket, ``'http'`` for polling transports)."
    )
    id = Attribute(
        "The connection id the transport itself was given by the server "
        "(Engine.IO, SockJS), or ``None``; ``Socket.id()`` prefers it, as Primus does."
    )

    def open(url: str, headers: dict[str, str]) -> None:
        """
        Start connecting to ``url`` (scheme, userinfo, host, port, pathname
        and query already final) sending these extra request headers.
        """

    def send(message: str | bytes) -> None:
        """
        Send one message: ``str`` as text, ``bytes`` as binary.
        """

    def close() -> object:
        """
        Close the connection (or abandon the attempt) without telling the
        handler anything more.

        :return: a Deferred that fires once the connection is really gone.
        """


class IClientTransportHandler(Interface):
    """
    What a client transport calls when something happens on the wire.
    """

    def connectionMade() -> None:
        """
        The connection is open; messages can be sent.
        """

    def messageReceived(message: str | bytes) -> None:
        """
        One whole message arrived: ``str`` for text, ``bytes`` for binary.
        """

    def connectionFailed(error: Exception) -> None:
        """
        The attempt failed (refused, HTTP error, bad handshake) or the open
        connection broke the protocol; ``connectionLost`` follows.
        """

    def connectionLost(reason: object) -> None:
        """
        The connection is gone (a Failure or an exception, or ``None``).
        """
