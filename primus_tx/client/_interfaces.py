"""
The interface between the client socket and a transport.

It mirrors :class:`~primus_tx.interfaces.IConnection` on the server: the
socket owns every Primus rule (parsers, ``primus::`` messages, timers,
reconnects, events) and a transport only moves whole messages, so an
Engine.IO or SockJS client is one more module implementing
:class:`IClientTransport`.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface

__all__ = ["IClientTransport", "IClientTransportHandler"]


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

    def open(url: str, headers: dict[str, str]) -> None:  # type: ignore[misc]
        """
        Start connecting to ``url`` (scheme, userinfo, host, port, pathname
        and query already final) sending these extra request headers.
        """

    def send(message: str | bytes) -> None:  # type: ignore[misc]
        """
        Send one message: ``str`` as text, ``bytes`` as binary.
        """

    def close() -> object:  # type: ignore[misc]
        """
        Close the connection (or abandon the attempt) without telling the
        handler anything more.

        :return: a Deferred that fires once the connection is really gone.
        """


class IClientTransportHandler(Interface):
    """
    What a client transport calls when something happens on the wire.
    """

    def connectionMade() -> None:  # type: ignore[misc]
        """
        The connection is open; messages can be sent.
        """

    def messageReceived(message: str | bytes) -> None:  # type: ignore[misc]
        """
        One whole message arrived: ``str`` for text, ``bytes`` for binary.
        """

    def connectionFailed(error: Exception) -> None:  # type: ignore[misc]
        """
        The attempt failed (refused, HTTP error, bad handshake) or the open
        connection broke the protocol; ``connectionLost`` follows.
        """

    def connectionLost(reason: object) -> None:  # type: ignore[misc]
        """
        The connection is gone (a Failure or an exception, or ``None``).
        """
