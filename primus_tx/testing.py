# -*- test-case-name: tests.test_testing -*-
"""
Test doubles for applications built on primus-tx: test ``"connection"``
handlers, plugins and transforms without a network, a reactor or a browser.

* :class:`PrimusFixture` is a real :class:`~primus_tx.Primus` on a
  :class:`~twisted.internet.task.Clock` with no site and no ports; its
  :meth:`~PrimusFixture.connect` makes a spark through
  :meth:`Primus.connect_spark <primus_tx.Primus.connect_spark>`, exactly as
  a transformer does when a client connects.
* :class:`FakeConnection` is that client's end: it records what the spark
  sends (decoded with the server's parser), closes and pauses, and plays the
  client and the transport (a message, a pong, a full buffer, a lost
  connection).
* :class:`FakeClientTransport` and :class:`FakeClientTransformer` do the same
  for the Python client: a :class:`primus_tx.client.Socket` on a ``Clock``
  whose server you play by hand.

::

    fixture = PrimusFixture()
    fixture.primus.on("connection", lambda spark: spark.write({"hello": spark.query["name"]}))
    spark, client = fixture.connect(query="name=ada")
    assert client.messages == [{"hello": "ada"}]

Everything the spark and the socket do is the real code: only the bytes on
the wire are missing.  See :doc:`/testing`.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Mapping, NoReturn, Optional, Union

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from zope.interface import implementer

from primus_tx._errors import PrimusError
from primus_tx._query import QueryValue, parse_query
from primus_tx.interfaces import IClientTransport, IConnection, IParser, ITransformer
from primus_tx.parsers.json import parser as _json_parser
from primus_tx.server import Primus
from primus_tx.spark import Spark

__all__ = [
    "FakeClientTransformer",
    "FakeClientTransport",
    "FakeConnection",
    "PrimusFixture",
]

# The control messages each side consumes (docs/protocol/primus.rst,
# "Control messages"); every other message is the application's.
_TO_CLIENT_CONTROL = ("primus::ping::", "primus::server::", "primus::id::")
_TO_SERVER_CONTROL = ("primus::pong::", "primus::id::")


def _is_control(value: Any, prefixes: tuple[str, ...]) -> bool:
    return isinstance(value, str) and value.startswith(prefixes)


def _unprepare(prepared: Any) -> Union[str, bytes]:
    """
    The message inside a broadcast prepared by a transformer's ``prepare``.

    The Engine.IO and SockJS transformers prepare nothing (the message is
    its own preparation); the websockets transformer frames it once with
    Autobahn, and the payload is read back out of that unmasked frame.
    """
    if isinstance(prepared, (str, bytes)):
        return prepared
    frame = getattr(prepared, "payloadHybi", None)
    if isinstance(frame, bytes):
        length = frame[1] & 0x7F
        offset = 2
        if length == 126:
            (length,) = struct.unpack("!H", frame[2:4])
            offset = 4
        elif length == 127:
            (length,) = struct.unpack("!Q", frame[2:10])
            offset = 10
        payload = frame[offset : offset + length]
        return payload if prepared.binary else payload.decode("utf-8")
    raise TypeError(
        f"FakeConnection cannot read a broadcast prepared as {type(prepared).__name__}; "
        "give it a transformer whose prepare() returns the message"
    )


@implementer(IConnection)
class FakeConnection:
    """
    One client's connection with no transport behind it: what a transformer
    gives a spark, recording everything the spark asks of it.

    :param parser: decodes :attr:`sent` for :attr:`decoded` and encodes what
        :meth:`receive` sends; :meth:`PrimusFixture.connect` passes the
        server's.  The JSON parser by default.

    :ivar spark: the spark this connection belongs to, once connected.
    :ivar sent: every message the spark sent, as on the wire (``str`` or
        ``bytes``), broadcasts and heartbeat pings included, in order.
    :ivar prepared: the prepared broadcasts, as the transformer made them.
    :ivar log: ``(call, argument)`` for every call the spark made, in order:
        ``("send", message)``, ``("prepared", message)``, ``("close",
        reconnect)``, ``("pauseReading", None)``, ``("resumeReading", None)``.
    :ivar closes: the ``reconnect`` flag of every ``close()`` call.
    :ivar reading: ``False`` while the spark has paused reading.
    :ivar read_pauses: how often the spark paused reading.
    :ivar read_resumes: how often the spark resumed reading.
    :ivar buffered: what :meth:`bufferedAmount` reports; set it to play a
        transport with bytes waiting.
    :ivar on_send: called with each message after it is recorded, to play a
        transport whose buffer fills up at a given point (for instance by
        calling :meth:`pause_writing`).
    """

    def __init__(self, parser: Optional[IParser] = None) -> None:
        self.parser: IParser = parser if parser is not None else _json_parser
        self.spark: Any = None
        self.sent: list[Union[str, bytes]] = []
        self.prepared: list[Any] = []
        self.log: list[tuple[str, Any]] = []
        self.closes: list[bool] = []
        self.reading = True
        self.read_pauses = 0
        self.read_resumes = 0
        self.buffered = 0
        self.on_send: Optional[Callable[[Union[str, bytes]], Any]] = None

    # -- IConnection: what the spark calls ---------------------------------

    def send(self, message: Union[str, bytes]) -> None:
        if self.closes:
            raise AssertionError(f"the spark sent {message!r} after closing its connection")
        self.sent.append(message)
        self.log.append(("send", message))
        if self.on_send is not None:
            self.on_send(message)

    def sendPrepared(self, prepared: object) -> None:
        if self.closes:
            raise AssertionError("the spark sent a broadcast after closing its connection")
        message = _unprepare(prepared)
        self.prepared.append(prepared)
        self.sent.append(message)
        self.log.append(("prepared", message))
        if self.on_send is not None:
            self.on_send(message)

    def close(self, reconnect: bool) -> None:
        self.closes.append(reconnect)
        self.log.append(("close", reconnect))

    def pauseReading(self) -> None:
        self.reading = False
        self.read_pauses += 1
        self.log.append(("pauseReading", None))

    def resumeReading(self) -> None:
        self.reading = True
        self.read_resumes += 1
        self.log.append(("resumeReading", None))

    def bufferedAmount(self) -> int:
        return self.buffered

    # -- what the client received ------------------------------------------

    @property
    def decoded(self) -> list[Any]:
        """
        :attr:`sent`, decoded with the parser: control messages included.
        """
        return [self.parser.decode(message) for message in self.sent]

    @property
    def messages(self) -> list[Any]:
        """
        What the client application would see as ``"data"``: :attr:`decoded`
        without the ``primus::`` messages the client consumes itself (pings,
        the server's close, id answers).
        """
        return [value for value in self.decoded if not _is_control(value, _TO_CLIENT_CONTROL)]

    @property
    def closed(self) -> bool:
        """
        Whether the spark closed this connection.
        """
        return bool(self.closes)

    @property
    def ended_by_server(self) -> bool:
        """
        Whether the client was told not to reconnect: the spark sent
        ``primus::server::close`` (``spark.end()`` without ``reconnect``).
        """
        return any(_is_control(value, ("primus::server::close",)) for value in self.decoded)

    # -- playing the client and the transport ------------------------------

    def _handler(self) -> Any:
        if self.spark is None:
            raise PrimusError("this FakeConnection is not connected to a spark")
        return self.spark

    def receive(self, data: Any) -> None:
        """
        The client writes ``data``: encoded with the parser, then delivered
        to the spark as one message.
        """
        self._handler().messageReceived(self.parser.encode(data))

    def receive_raw(self, message: Union[str, bytes]) -> None:
        """
        One message arrives exactly as given, for instance one that does not
        decode.
        """
        self._handler().messageReceived(message)

    def pong(self, timestamp: Optional[int] = None) -> None:
        """
        The client answers a heartbeat ping: with ``timestamp``, else with
        that of the last ping sent.
        """
        if timestamp is None:
            pings = [value for value in self.decoded if _is_control(value, ("primus::ping::",))]
            if not pings:
                raise PrimusError("no ping to answer; pass a timestamp")
            timestamp = int(pings[-1][len("primus::ping::") :])
        self.receive(f"primus::pong::{timestamp}")

    def ping(self) -> None:
        """
        A transport-level ping arrives (a WebSocket PING frame), which
        counts as an answered heartbeat.
        """
        self._handler().pingReceived()

    def lose(self, reason: object = None) -> None:
        """
        The connection is lost without a word (the client went away).
        """
        self._handler().connectionLost(reason)

    def fail(self, error: Exception) -> None:
        """
        The transport reports an error (a too-large message, a protocol
        violation); the spark reports it and ends.
        """
        self._handler().connectionFailed(error)

    def pause_writing(self) -> None:
        """
        The outgoing buffer passed its high-water mark: ``spark.write()``
        returns ``False`` and registered producers are paused.
        """
        self._handler().pauseWriting()

    def resume_writing(self) -> None:
        """
        The outgoing buffer drained: the spark emits ``"drain"``.
        """
        self._handler().resumeWriting()


class PrimusFixture:
    """
    A :class:`~primus_tx.Primus` on a ``Clock``, with no site and no ports,
    to connect fake clients to.

    :param options: :class:`~primus_tx.Primus`'s options (``transformer``,
        ``parser``, ``ping_interval``, ``plugin``...); ``reactor`` defaults
        to a new ``Clock``.

    :ivar primus: the server.
    :ivar clock: its reactor: ``clock.advance(seconds)`` runs heartbeats and
        every other timer.
    :ivar connections: every :class:`FakeConnection` made by :meth:`connect`.
    """

    def __init__(self, **options: Any) -> None:
        reactor = options.pop("reactor", None)
        self.clock: Clock = reactor if reactor is not None else Clock()
        self.primus = Primus(None, reactor=self.clock, **options)
        self.connections: list[FakeConnection] = []

    def connect(
        self,
        query: Union[str, Mapping[str, QueryValue], None] = None,
        headers: Optional[Mapping[str, str]] = None,
        peer: tuple[str, int, bool] = ("127.0.0.1", 50000, False),
        request: Any = None,
        id: Optional[str] = None,
    ) -> tuple[Spark, FakeConnection]:
        """
        A client connects: make its spark as a transformer would, and run the
        ``"connection"`` listeners.

        :param query: the handshake's query, as a string (parsed as Primus
            does: a repeated key gives a list) or a mapping.
        :param headers: the handshake's headers (names are lower-cased).
        :param peer: ``(ip, port, secure)`` of the TCP peer; proxy headers in
            ``headers`` take precedence, as on a real server.
        :param request: the twisted.web request, if the code under test
            reads ``spark.request``.
        :param id: the transport's own connection id, if it has one.
        :return: the spark and the client's end of the connection.  When a
            ``"connection"`` listener returns an awaitable that has not
            fired, the spark is returned at once and messages the client
            sends meanwhile are queued, as on a real server.
        :raises PrimusError: when the server has been destroyed.
        """
        if isinstance(query, str):
            parsed = parse_query(query.lstrip("?"))
        else:
            parsed = {key: value for key, value in (query or {}).items()}
        connection = FakeConnection(self.primus.parser)
        spark = self.primus.connect_spark(
            connection,
            headers={name.lower(): value for name, value in (headers or {}).items()},
            query=parsed,
            peer=peer,
            request=request,
            socket=connection,
            id=id,
        )
        if spark is None:
            raise PrimusError("this Primus has been destroyed; it accepts no connections")
        connection.spark = spark
        self.connections.append(connection)
        return spark, connection

    def advance(self, seconds: float) -> None:
        """
        Let ``seconds`` pass on the clock: heartbeats, timeouts and delayed
        calls run.
        """
        self.clock.advance(seconds)

    def destroy(self, **options: Any) -> Deferred[None]:
        """
        ``primus.destroy(**options)``, with the clock advanced past any
        ``timeout`` so the returned Deferred has fired.
        """
        done = self.primus.destroy(**options)
        self.clock.advance(options.get("timeout", 0))
        return done


@implementer(IClientTransport)
class FakeClientTransport:
    """
    One connection attempt of a :class:`primus_tx.client.Socket`, with you
    as the server.

    A socket builds a new transport for every (re)connection attempt, as
    ``transport_class(handler, reactor, options)``; get them from
    :attr:`FakeClientTransformer.transports`.

    :ivar url: the URL the socket asked for (``None`` until ``open``).
    :ivar headers: the extra request headers it asked for.
    :ivar options: the socket's ``transport`` option.
    :ivar sent: every message the socket sent, as on the wire.
    :ivar closed: whether the socket closed (or abandoned) this attempt.
    """

    protocol = "ws"
    id: Optional[str] = None
    parser: IParser = _json_parser

    def __init__(self, handler: Any, reactor: Any, options: dict[str, Any]) -> None:
        self.handler = handler
        self.reactor = reactor
        self.options = options
        self.url: Optional[str] = None
        self.headers: Optional[dict[str, str]] = None
        self.sent: list[Union[str, bytes]] = []
        self.closed = False

    # -- IClientTransport: what the socket calls ---------------------------

    def open(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers

    def send(self, message: Union[str, bytes]) -> None:
        if self.closed:
            raise AssertionError(f"the socket sent {message!r} on a closed transport")
        self.sent.append(message)

    def close(self) -> Deferred[None]:
        self.closed = True
        return succeed(None)

    # -- what the server received ------------------------------------------

    @property
    def decoded(self) -> list[Any]:
        """
        :attr:`sent`, decoded with :attr:`parser`: control messages included.
        """
        return [self.parser.decode(message) for message in self.sent]

    @property
    def messages(self) -> list[Any]:
        """
        What a server would see as ``"data"``: :attr:`decoded` without the
        pongs and id requests.
        """
        return [value for value in self.decoded if not _is_control(value, _TO_SERVER_CONTROL)]

    # -- playing the server ------------------------------------------------

    def accept(self) -> None:
        """
        The server accepts the connection: the socket opens.
        """
        self.handler.connectionMade()

    def receive(self, data: Any) -> None:
        """
        The server writes ``data`` (encoded with :attr:`parser`).
        """
        self.handler.messageReceived(self.parser.encode(data))

    def receive_raw(self, message: Union[str, bytes]) -> None:
        """
        One message arrives exactly as given.
        """
        self.handler.messageReceived(message)

    def ping(self, timestamp: Optional[int] = None) -> None:
        """
        The server's heartbeat ping, stamped with the reactor's time in
        milliseconds unless ``timestamp`` is given.
        """
        if timestamp is None:
            timestamp = int(self.reactor.seconds() * 1000)
        self.receive(f"primus::ping::{timestamp}")

    def server_end(self, reconnect: bool = False) -> None:
        """
        The server ends the spark: ``primus::server::close`` (unless
        ``reconnect``), then the connection closes.
        """
        if not reconnect:
            self.receive("primus::server::close")
        self.drop()

    def fail(self, error: Exception) -> None:
        """
        The attempt fails (refused, an HTTP error): ``connectionFailed``
        then ``connectionLost``.
        """
        self.handler.connectionFailed(error)
        self.handler.connectionLost(error)

    def drop(self) -> None:
        """
        The connection is lost without a word.
        """
        self.handler.connectionLost(None)


@implementer(ITransformer)
class FakeClientTransformer:
    """
    A transformer for :class:`primus_tx.client.Socket` whose transports are
    :class:`FakeClientTransport`\\ s, kept in :attr:`transports`::

        transformer = FakeClientTransformer()
        socket = Socket("http://example.com", transformer=transformer, reactor=clock)
        clock.advance(0)                 # the socket opens
        transformer.transport.accept()

    :param parser: the parser the transports encode and decode with (the
        socket's own ``parser`` option must match); JSON by default.
    :ivar transports: every transport made, oldest first.
    """

    name = "fake"

    def __init__(self, parser: Optional[IParser] = None) -> None:
        self.transports: list[FakeClientTransport] = []
        transports = self.transports

        class _Transport(FakeClientTransport):
            def __init__(self, handler: Any, reactor: Any, options: dict[str, Any]) -> None:
                super().__init__(handler, reactor, options)
                transports.append(self)

        _Transport.__name__ = _Transport.__qualname__ = "FakeClientTransport"
        if parser is not None:
            _Transport.parser = parser
        self._transport_class = _Transport

    @property
    def transport(self) -> FakeClientTransport:
        """
        The latest transport: the current connection attempt.
        """
        if not self.transports:
            raise PrimusError("no transport yet: the socket has not tried to connect")
        return self.transports[-1]

    def server(self, primus: object) -> NoReturn:
        raise PrimusError("FakeClientTransformer is for clients; test servers with PrimusFixture")

    def client(self) -> type[FakeClientTransport]:
        return self._transport_class

    def library(self) -> str:
        return ""
