# -*- test-case-name: tests.test_spark -*-
"""
A spark: one client connection, whatever transport carries it.

The data path, top to bottom::

    transport -> messageReceived -> decode -> primus:: protocol?
              -> incoming transforms -> (queued until the "connection"
                 listeners are done) -> "data"
    write(data) -> outgoing transforms -> encode -> connection.send

A spark is also a Twisted citizen, which a Node Primus spark is not: it is
an ``IPushProducer`` of the client's messages (``pauseProducing`` stops
reading from the client) and an ``IConsumer`` for the application's
producers (``registerProducer`` with a ``FileSender`` streams a file into it,
paused while the transport's buffer is full).  ``write()`` returns ``False``
once the buffer is past its high-water mark and ``"drain"`` follows when it
has emptied, as with a Node stream.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

from twisted.internet.interfaces import IConsumer, IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from primus_tx._address import Address, forwarded
from primus_tx._errors import ParserError, PrimusError
from primus_tx._events import EventEmitter
from primus_tx._http import PrimusRequest, headers_of
from primus_tx._lane import Lane
from primus_tx._producers import ProducerSeat
from primus_tx._query import QueryValue
from primus_tx._transforms import Transform
from primus_tx.interfaces import IConnection, IConnectionHandler

__all__ = ["Spark", "SparkContext"]

_PROTOCOL_PREFIX = "primus::"
_PONG = "primus::pong::"
_PONG_LENGTH = len(_PONG)
_ID = "primus::id::"
SERVER_CLOSE = "primus::server::close"

_RESERVED_EVENTS = frozenset(
    ("readyStateChange", "heartbeat", "error", "data", "end", "drain")
)


def _is_reserved(event: str) -> bool:
    return (
        event in _RESERVED_EVENTS
        or event.startswith("incoming::")
        or event.startswith("outgoing::")
    )


class SparkContext:
    """
    A spark's view of its server: everything a spark uses of it, handed
    over once by the server instead of read from its private attributes.

    One per server, shared by all its sparks; the server keeps it current
    (``ping`` changes with every heartbeat tick, the transform lists grow
    in place).  The codec's methods are bound once here, so a message costs
    one attribute lookup more than a local call, as before.

    :ivar server: the server itself, for ``spark.primus`` and its public
        ``whitelist``.
    :ivar decode: the parser's ``decode``.
    :ivar encode: the parser's ``encode``.
    :ivar incoming: the incoming transforms (the server's own list).
    :ivar outgoing: the outgoing transforms (the server's own list).
    :ivar reactor: the server's reactor.
    :ivar log_error: ``log_error(error, spark)`` reports on the server.
    :ivar make_id: ``make_id(transport_id)`` gives a new spark its id.
    :ivar ended: ``ended(spark)`` tells the server a spark has ended.
    :ivar ping: the heartbeat ping of the current tick, framed by the
        transformer (``prepare``) for ``sendPrepared``.
    :ivar ping_token: that ping's timestamp as the client echoes it in its
        pong (``None`` before the first tick).
    :ivar ping_sent: the reactor time that ping was sent at; with the pong
        that echoes ``ping_token`` it gives ``spark.latency``.
    :ivar max_buffered: the slow-client cap, in bytes (0: none).
    :ivar slow_client: what happens at the cap: ``"end"`` or ``"drop"``.
    :ivar slow: ``slow(spark, buffered, policy)`` reports a spark at the
        cap on the server.
    """

    __slots__ = (
        "decode",
        "encode",
        "ended",
        "incoming",
        "log_error",
        "make_id",
        "max_buffered",
        "outgoing",
        "ping",
        "ping_sent",
        "ping_token",
        "reactor",
        "server",
        "slow",
        "slow_client",
    )

    def __init__(
        self,
        *,
        server: Any,
        decode: Callable[[Union[str, bytes]], Any],
        encode: Callable[[Any], Union[str, bytes]],
        incoming: list[Transform],
        outgoing: list[Transform],
        reactor: Any,
        log_error: Callable[..., None],
        make_id: Callable[[Optional[str]], str],
        ended: Callable[[Spark], None],
        max_buffered: int = 0,
        slow_client: str = "end",
        slow: Optional[Callable[[Spark, int, str], None]] = None,
    ) -> None:
        self.server = server
        self.decode = decode
        self.encode = encode
        self.incoming = incoming
        self.outgoing = outgoing
        self.reactor = reactor
        self.log_error = log_error
        self.make_id = make_id
        self.ended = ended
        self.ping: Any = None
        self.ping_token: Optional[str] = None
        self.ping_sent = 0.0
        self.max_buffered = max_buffered
        self.slow_client = slow_client
        self.slow = slow


@implementer(IConnectionHandler, IPushProducer, IConsumer)
class Spark(EventEmitter):
    """
    One real-time connection, as the server sees it.

    Sparks are made by the transformer when a client connects; applications
    receive them through the server's ``"connection"`` event.

    :ivar id: the spark's id: ``id_generator()``, else the transport's own
        id (Engine.IO, SockJS), else 21 random URL-safe characters.
    :ivar query: the handshake's query string; repeated keys give lists.
    :ivar request: the twisted.web request that opened the connection.
    :ivar socket: the transport's own connection object (for websockets, the
        Autobahn protocol instance).
    :ivar ready_state: :attr:`OPEN` until the spark ends, then :attr:`CLOSED`.
    :ivar alive: whether the client answered the last heartbeat ping.
    :ivar latency: seconds between the server's last heartbeat ping and
        this client's answer (the round trip, measured from the heartbeat
        with no extra messages), or ``None`` until a ping was answered.
    """

    latency: Optional[float] = None

    OPENING = 1
    CLOSED = 2
    OPEN = 3

    log = Logger()

    #: Messages not sent because of the slow-client cap (``max_buffered``
    #: with ``slow_client="drop"``; the one that ended the spark otherwise).
    #: A class default, so sparks that never hit the cap carry nothing.
    dropped = 0
    _slow_reported = False

    def __init__(
        self,
        context: SparkContext,
        connection: IConnection,
        *,
        headers: Optional[dict[str, str]] = None,
        query: dict[str, QueryValue],
        peer: tuple[str, int, bool] = ("127.0.0.1", 0, False),
        request: Optional[PrimusRequest] = None,
        socket: Any = None,
        id: Optional[str] = None,
    ) -> None:
        self._context = context
        self._connection = connection
        self._headers = headers
        self.query = query
        self.request = request
        self.socket = socket
        self._peer = peer
        self._address: Optional[Address] = None
        self.id = context.make_id(id)
        self.ready_state = Spark.OPEN
        self.alive = True
        # Messages that arrive while the "connection" listeners still run.
        self._queue: Optional[list[Any]] = []
        # The transform lanes, made once the server has transforms.
        self._in: Optional[Lane] = None
        self._out: Optional[Lane] = None
        self._writing_paused = False
        # Made when the first producer registers: most sparks never have one.
        self._seat: Optional[ProducerSeat] = None

    # -- identity ---------------------------------------------------------

    @property
    def primus(self) -> Any:
        """
        The server this spark belongs to.
        """
        return self._context.server

    @property
    def headers(self) -> dict[str, str]:
        """
        The handshake's request headers, with lower-case ``str`` names.

        Built from the request on first use when the transformer passed
        none: most applications never read them, and a copy per connection
        is memory a server with many connections does not need to spend.
        """
        headers = self._headers
        if headers is None:
            headers = self._headers = (
                headers_of(self.request) if self.request is not None else {}
            )
        return headers

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        self._headers = value

    @property
    def address(self) -> Address:
        """
        The client's address (``ip``, ``port``, ``secure``), honouring
        X-Forwarded-For and the other proxy headers as Primus does.
        """
        if self._address is None:
            known = getattr(self.request, "forwarded", None)
            if isinstance(known, Address):
                self._address = known
            else:
                ip, port, secure = self._peer
                self._address = forwarded(
                    ip, port, secure, self.headers, self._context.server.whitelist
                )
        return self._address

    @property
    def readyState(self) -> int:
        """
        Alias of :attr:`ready_state`.
        """
        return self.ready_state

    def __repr__(self) -> str:
        state = "open" if self.ready_state == Spark.OPEN else "closed"
        return f"<Spark {self.id} {state}>"

    # -- events -----------------------------------------------------------

    def reserved(self, event: str) -> bool:
        """
        Whether ``event`` is used by Primus itself and must not be emitted by
        application code.
        """
        return _is_reserved(event)

    def emits(self, event: str, parser: Optional[Callable[..., Any]] = None) -> Callable[..., bool]:
        """
        A function that emits ``event`` on this spark with its arguments
        (after ``parser(*args)`` when given, whose result becomes the single
        argument; ``None`` from the parser emits with no arguments).
        """

        def emitter(*args: Any) -> bool:
            if parser is not None:
                value = parser(*args)
                args = () if value is None else (value,)
            return self.emit(event, *args)

        return emitter

    def _set_state(self, state: int) -> None:
        if self.ready_state != state:
            self.ready_state = state
            self.emit("readyStateChange")

    def _report(self, error: Exception) -> None:
        """
        Tell the application about a problem: ``error`` on the spark when it
        has listeners, always ``log`` on the server.
        """
        if self.listener_count("error"):
            try:
                self.emit("error", error)
            except Exception:
                self.log.failure("error listener of spark {spark} raised", spark=self.id)
        self._context.log_error(error, self)

    def _safely(self, event: str, *args: Any) -> None:
        """
        Emit an event whose listeners are application code; a listener that
        raises is reported instead of unwinding into the transport.
        """
        try:
            self.emit(event, *args)
        except Exception as error:
            self.log.failure("{event!r} listener of spark {spark} raised", event=event, spark=self.id)
            self._context.log_error(error, self)

    # -- incoming ---------------------------------------------------------

    def messageReceived(self, message: Union[str, bytes]) -> None:
        """
        One message from the client.
        """
        if self.ready_state != Spark.OPEN:
            return
        context = self._context
        try:
            data = context.decode(message)
        except Exception as error:
            self._report(ParserError(f"Failed to decode incoming data: {error}"))
            return
        if type(data) is str and data.startswith(_PROTOCOL_PREFIX) and self._protocol(data):
            return
        lane = self._in
        if lane is not None:
            lane.push(data, message)
        elif context.incoming:
            self._in = self._lane(context.incoming, self._deliver)
            self._in.push(data, message)
        elif self._queue is None:
            self._safely("data", data)
        else:
            self._queue.append(data)

    def _protocol(self, message: str) -> bool:
        if message.startswith(_PONG):
            self.alive = True
            context = self._context
            if message[_PONG_LENGTH:] == context.ping_token:
                # The answer to the latest ping: a round trip measured with
                # the heartbeat's own messages (an older or forged pong
                # does not count).
                self.latency = context.reactor.seconds() - context.ping_sent
            self._safely("heartbeat")
            return True
        if message.startswith(_ID):
            self._send_protocol(_ID + self.id)
            return True
        return False

    def _lane(self, transforms: list[Transform], deliver: Callable[[Any], None]) -> Lane:
        """
        A transform lane for one direction: messages behind an asynchronous
        transform wait, so the application sees incoming messages, and the
        client receives writes, in their order.
        """
        return Lane(transforms, self, deliver, self._report, self._is_open)

    def _is_open(self) -> bool:
        return self.ready_state == Spark.OPEN

    def _deliver(self, data: Any) -> None:
        if self._queue is None:
            self._safely("data", data)
        else:
            self._queue.append(data)

    def _announced(self) -> None:
        """
        Every ``"connection"`` listener has finished: deliver what waited.
        """
        queue, self._queue = self._queue, None
        for data in queue or ():
            if self.ready_state != Spark.OPEN:
                return
            self._safely("data", data)

    def pingReceived(self) -> None:
        """
        A transport-level ping (a WebSocket PING frame) proves the client
        alive, as a ``primus::pong`` does (Node Primus maps ``ws`` pings to
        pongs too).
        """
        self.alive = True
        self._safely("heartbeat")

    # -- outgoing ---------------------------------------------------------

    def write(self, data: Any) -> bool:  # type: ignore[override]
        """
        Send ``data`` to the client through the outgoing transforms and the
        parser.

        :return: ``False`` when the spark is closed or the transport's
            outgoing buffer is past its high-water mark (wait for
            ``"drain"``), else ``True``.
        """
        if self.ready_state != Spark.OPEN:
            return False
        lane = self._out
        if lane is not None:
            lane.push(data)
        elif self._context.outgoing:
            self._out = self._lane(self._context.outgoing, self._send_while_open)
            self._out.push(data)
        else:
            self._send(data)
        return not self._writing_paused

    def _send_while_open(self, data: Any) -> None:
        if self.ready_state == Spark.OPEN:
            self._send(data)

    def _send(self, data: Any) -> None:
        try:
            message = self._context.encode(data)
        except Exception as error:
            self._report(ParserError(f"Failed to encode outgoing data: {error}"))
            return
        if message is not None:
            # The transport is behind: check the slow-client cap (a
            # connection that keeps up never pays for it).
            if self._writing_paused and self._over_cap(len(message)):
                return
            self._connection.send(message)

    def _over_cap(self, size: int) -> bool:
        """
        Whether ``size`` more bytes would take this spark's outgoing buffer
        past the server's ``max_buffered``; if so the ``slow_client``
        policy has been applied and the message must not be sent.
        """
        context = self._context
        cap = context.max_buffered
        if not cap:
            return False
        buffered = self._connection.bufferedAmount()
        if buffered + size <= cap:
            return False
        self.dropped += 1
        policy = context.slow_client
        report = context.slow
        if policy == "drop":
            if not self._slow_reported:
                self._slow_reported = True
                if report is not None:
                    report(self, buffered, policy)
            return True
        if report is not None:
            report(self, buffered, policy)
        abort = getattr(self._connection, "abort", None)
        if abort is not None and self.ready_state == Spark.OPEN:
            # What the slow client has not read is freed now, not after a
            # close handshake it would be as slow to read.
            try:
                abort()
            except Exception:
                self.log.failure("aborting the connection of spark {spark} failed", spark=self.id)
        self.end(reconnect=True)
        return True

    def _send_protocol(self, text: str) -> None:
        """
        Send a ``primus::`` message, which bypasses the transforms.
        """
        self._send(text)

    def heartbeat(self) -> None:
        """
        One tick of the server's heartbeat: end the spark if the last ping
        went unanswered, else ping it.  Assign a function to this attribute
        on a spark to change the policy, as Primus allows.
        """
        if not self.alive:
            self.end(reconnect=True)
            return
        self.alive = False
        self._connection.sendPrepared(self._context.ping)

    def end(self, data: Any = None, reconnect: bool = False) -> None:
        """
        Close the connection, after writing ``data`` unless it is ``None``.

        Without ``reconnect`` the client is told the server closed it
        (``primus::server::close``) and does not reconnect; with it, the
        connection is simply closed and the client's reconnect strategy runs.
        Ending an ended spark does nothing.
        """
        if self.ready_state == Spark.CLOSED:
            return
        if data is not None:
            self.write(data)
            if self.ready_state == Spark.CLOSED:  # writing it ended us
                return
        if not reconnect:
            self._send_protocol(SERVER_CLOSE)
        self._closed(reconnect)

    def _closed(self, reconnect: bool) -> None:
        self._set_state(Spark.CLOSED)
        try:
            self._connection.close(reconnect)
        except Exception:
            self.log.failure("closing the connection of spark {spark} failed", spark=self.id)
        self._stop_producer()
        self._context.ended(self)
        self._safely("end")

    # -- the transport tells us -------------------------------------------

    def connectionLost(self, reason: object = None) -> None:
        """
        The transport is gone: end without writing anything.
        """
        if self.ready_state != Spark.CLOSED:
            self._closed(True)

    def connectionFailed(self, error: Exception) -> None:
        """
        The transport reports an error: report it, then end (the close
        message is only written if the transport can still take it).
        """
        if not isinstance(error, Exception):
            error = PrimusError(str(error))
        self._report(error)
        self.end()

    def pauseWriting(self) -> None:
        """
        The transport's buffer is full: ``write()`` now returns ``False`` and
        a registered streaming producer is paused.
        """
        self._writing_paused = True
        if self._seat is not None:
            self._seat.pause()

    def resumeWriting(self) -> None:
        """
        The transport's buffer has drained: resume the producer and emit
        ``"drain"``.
        """
        if not self._writing_paused:
            return
        self._writing_paused = False
        self._slow_reported = False
        if self._seat is not None:
            self._seat.resume()
        self._safely("drain")

    # -- IPushProducer: the client's messages ------------------------------

    def pauseProducing(self) -> None:
        """
        Stop reading from the client until :meth:`resumeProducing`.
        """
        self._connection.pauseReading()

    def resumeProducing(self) -> None:
        """
        Read from the client again.
        """
        self._connection.resumeReading()

    def stopProducing(self) -> None:
        """
        The consumer of this spark's messages is gone: end the spark.
        """
        self.end()

    # -- IConsumer: the application's producers ----------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        Let ``producer`` write into this spark, paced by the transport.

        :raises RuntimeError: when a producer is already registered.
        """
        seat = self._seat
        if seat is not None and seat.producer is not None:
            seat.register(producer, streaming)  # raises: one producer at a time
        if self.ready_state != Spark.OPEN:
            producer.stopProducing()
            return
        if seat is None:
            seat = self._seat = ProducerSeat(self._is_writing_paused, self._reactor_of, self.log)
        seat.register(producer, streaming)

    def unregisterProducer(self) -> None:
        """
        Forget the registered producer.
        """
        if self._seat is not None:
            self._seat.unregister()

    @property
    def _producer_paused(self) -> bool:
        # Whether the registered producer is held back by write pressure.
        return self._seat is not None and self._seat.paused

    def _is_writing_paused(self) -> bool:
        return self._writing_paused

    def _reactor_of(self) -> Any:
        return self._context.reactor

    def _stop_producer(self) -> None:
        if self._seat is not None:
            self._seat.stop()
