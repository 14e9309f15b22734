"""
The interfaces that make primus-tx pluggable.

A transformer adapts one transport (WebSocket, Engine.IO, SockJS...) to the
small :class:`IConnection` interface and calls an :class:`IConnectionHandler`
(the spark) with what arrives; a parser turns values into messages and back;
a Primus plugin extends the server, the clients, or both.  Everything above
``IConnection`` is shared by every transformer, and nothing below it knows
about parsers, transforms or events.

Third-party transformers, parsers and plugins can be passed as objects, or
found by name through Twisted's plugin system: publish an object providing
:class:`INamedTransformer`, :class:`INamedParser` or :class:`IPrimusPlugin`
from a module in a ``twisted/plugins`` folder (a plugin must also declare
``twisted.plugin.IPlugin``; the named interfaces already extend it).
"""

from __future__ import annotations

from twisted.plugin import IPlugin
from zope.interface import Attribute, Interface

__all__ = [
    "IConnection",
    "IConnectionHandler",
    "INamedParser",
    "INamedTransformer",
    "IParser",
    "IPrimusPlugin",
    "ITransformer",
]


class IConnection(Interface):
    """
    One client's transport connection, as a spark sees it.

    Implemented by each transformer; messages are whole Primus messages, the
    framing below them is the transformer's business.
    """

    def send(message: str | bytes) -> None:  # type: ignore[misc]
        """
        Send one message: ``str`` as a text message, ``bytes`` as binary.
        """

    def sendPrepared(prepared: object) -> None:  # type: ignore[misc]
        """
        Send a message prepared once by :meth:`ITransformer.prepare` for many
        connections (a broadcast).
        """

    def close(reconnect: bool) -> None:  # type: ignore[misc]
        """
        Close the connection.  ``reconnect`` is a hint for transports that can
        tell the client apart (Primus signals intent with messages, not here).
        """

    def pauseReading() -> None:  # type: ignore[misc]
        """
        Stop delivering incoming messages until :meth:`resumeReading`.
        """

    def resumeReading() -> None:  # type: ignore[misc]
        """
        Deliver incoming messages again.
        """

    def bufferedAmount() -> int:  # type: ignore[misc]
        """
        How many outgoing bytes are waiting in user space.
        """

    # Optional: ``whenClosed() -> Deferred[None]``, firing once the
    # connection is fully closed; ``Primus.destroy()`` waits for it (a few
    # seconds at most) when a connection has it.


class IConnectionHandler(Interface):
    """
    What a transformer calls on the spark when something happens on the wire.
    """

    def messageReceived(message: str | bytes) -> None:  # type: ignore[misc]
        """
        One whole message arrived: ``str`` for text, ``bytes`` for binary.
        """

    def pingReceived() -> None:  # type: ignore[misc]
        """
        The transport saw a sign of life that is not a Primus message (a
        WebSocket PING frame); it counts as an answered heartbeat.
        """

    def connectionLost(reason: object) -> None:  # type: ignore[misc]
        """
        The connection is gone; ``reason`` is a Failure or an exception.
        """

    def connectionFailed(error: Exception) -> None:  # type: ignore[misc]
        """
        The transport reports an error (a too-large message, a protocol
        violation); the spark reports it and ends.
        """

    def pauseWriting() -> None:  # type: ignore[misc]
        """
        The transport's outgoing buffer passed its high-water mark.
        """

    def resumeWriting() -> None:  # type: ignore[misc]
        """
        The transport's outgoing buffer fell below its low-water mark.
        """


class ITransformer(Interface):
    """
    A transport for Primus: the server side, the Python client side and the
    browser client side of one real-time transport.
    """

    name = Attribute("The transformer's name, as in the spec document (``websockets``).")

    def server(primus: object) -> object:  # type: ignore[misc]
        """
        Build the server side for ``primus``: an object with
        ``upgrade(request)`` (a WebSocket upgrade that passed the middleware),
        ``request(request)`` (a plain HTTP request that passed the
        middleware), ``prepare(message)`` (frame a broadcast once) and
        ``close()``.
        """

    def client() -> object:  # type: ignore[misc]
        """
        The Python client transport class (see :mod:`primus_tx.client`).
        """

    def library() -> str:  # type: ignore[misc]
        """
        The browser client transport, as JavaScript source.
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

    def encode(data: object) -> str | bytes:  # type: ignore[misc]
        """
        Encode one value into one message; raise to report a failure.
        """

    def decode(message: str | bytes) -> object:  # type: ignore[misc]
        """
        Decode one message (``str`` for text, ``bytes`` for binary); raise to
        report a failure.
        """

    def library() -> str:  # type: ignore[misc]
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
