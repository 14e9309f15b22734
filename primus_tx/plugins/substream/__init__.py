# -*- test-case-name: tests.plugins.test_substream -*-
"""
The ``substream`` plugin: named streams over one connection, on the wire
of the npm ``substream`` plugin 0.2.0, so browsers and Node peers using it
talk to primus-tx unchanged.

Server::

    primus = Primus(site, plugin="substream")

    def connection(spark):
        chat = spark.substream("chat")
        chat.on("data", lambda message: chat.write({"echo": message}))

Python client: ``socket.substream("chat")`` the same way; browser:
``primus.substream('chat')``.

A substream is written as ``{"substream": name, "args": data}`` and ended
with ``args`` set to the string ``"substream::end"`` (so writing that very
string ends the stream, as with the npm plugin).  Either side creates a
stream by naming it, with nothing declared beforehand; a message for a
name the receiving side has not opened stays ordinary ``data`` of the
connection, which is what the npm plugin does and what keeps unknown
names from growing any table.

Unlike the npm plugin's streams, a server-side substream is a Twisted
citizen like its spark: an ``IConsumer`` (a ``FileSender`` or any producer
can stream into it, paused while the connection's send buffer is full) and
an ``IPushProducer`` (``pauseProducing`` holds its incoming messages back
and stops reading from the client until ``resumeProducing``).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Optional

from twisted.internet.interfaces import IConsumer, IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from primus_tx._errors import PrimusError
from primus_tx._events import EventEmitter
from primus_tx._producers import ProducerSeat
from primus_tx._transforms import DROPPED, Packet, run_transforms
from primus_tx.interfaces import IPrimusPlugin
from primus_tx.plugins import PluginBase, extend_spark, reactor_of

__all__ = ["END", "SubStream", "SubstreamPlugin", "SubstreamSpark", "envelope", "plugin"]

#: The ``args`` value that ends a substream.
END = "substream::end"

OPENING = 1
CLOSED = 2
OPEN = 3


def envelope(name: str, args: Any) -> dict[str, Any]:
    """
    The message that carries ``args`` on the substream ``name``.
    """
    return {"substream": name, "args": args}


class _Parent:
    """
    What a substream needs from the connection it rides on, for a spark and
    for a client socket alike.
    """

    __slots__ = ("connection", "incoming", "outgoing", "raw_write", "reactor", "report")

    def __init__(
        self,
        connection: Any,
        incoming: list[Callable[..., Any]],
        outgoing: list[Callable[..., Any]],
        raw_write: Callable[[Any], Any],
        report: Callable[[Exception], None],
        reactor: Any,
    ) -> None:
        self.connection = connection
        self.incoming = incoming
        self.outgoing = outgoing
        self.raw_write = raw_write
        self.report = report
        self.reactor = reactor

    def writing_paused(self) -> bool:
        return bool(getattr(self.connection, "_writing_paused", False))


@implementer(IConsumer, IPushProducer)
class SubStream(EventEmitter):
    """
    One named stream of a connection: ``write``, ``end``, the ``data``,
    ``close`` and ``end`` events, and ``readyStateChange`` mirrored from the
    connection.  Get one with ``spark.substream(name)`` or
    ``socket.substream(name)``, which return the same object for the same
    name while it is open.
    """

    log = Logger()

    OPENING = OPENING
    CLOSED = CLOSED
    OPEN = OPEN

    def __init__(self, parent: _Parent, name: str, registry: dict[str, SubStream]) -> None:
        self._parent: Optional[_Parent] = parent
        self._registry = registry
        self.name = name
        self.ready_state: int = getattr(parent.connection, "ready_state", OPEN)
        # Flow control: a registered producer, and incoming messages held
        # back while this stream is paused.
        self._seat = ProducerSeat(self._is_writing_paused, self._reactor_of, self.log)
        self._held: Optional[deque[Any]] = None

    @property
    def readyState(self) -> int:
        """
        Alias of :attr:`ready_state`.
        """
        return self.ready_state

    @property
    def connection(self) -> Any:
        """
        The spark or client socket this stream rides on (``None`` once ended).
        """
        return self._parent.connection if self._parent is not None else None

    def __repr__(self) -> str:
        return f"<SubStream {self.name!r} {'open' if self._parent else 'ended'}>"

    # -- writing -----------------------------------------------------------

    def write(self, data: Any) -> bool:  # type: ignore[override]
        """
        Send ``data`` on this stream, through the connection's outgoing
        transforms (which see this stream as ``packet.spark``).

        :return: ``False`` once the stream has ended or the connection's
            send buffer is past its high-water mark, else ``True``.
        """
        parent = self._parent
        if parent is None:
            return False
        if not parent.outgoing:
            parent.raw_write(envelope(self.name, data))
            return not parent.writing_paused()
        try:
            result = run_transforms(parent.outgoing, Packet(data, None, self))
        except Exception as error:
            parent.report(error)
            return not parent.writing_paused()
        if isinstance(result, Packet):
            parent.raw_write(envelope(self.name, result.data))
        elif result is not DROPPED:
            result.addCallbacks(self._transformed_out, self._transform_failed)
        return not parent.writing_paused()

    def _transformed_out(self, result: Any) -> None:
        parent = self._parent
        if parent is not None and result is not DROPPED:
            parent.raw_write(envelope(self.name, result.data))

    def _transform_failed(self, failure: Any) -> None:
        parent = self._parent
        if parent is not None:
            parent.report(failure.value)

    def end(self, data: Any = None) -> None:
        """
        End this stream: write ``data`` first unless it is ``None``, tell
        the peer (``"substream::end"``), forget the name, and emit
        ``"close"`` then ``"end"``.  Ending an ended stream does nothing.
        """
        if self._parent is None:
            return
        if data is not None:
            self.write(data)
        self._finish(tell_peer=True)

    def _finish(self, tell_peer: bool) -> None:
        parent = self._parent
        if parent is None:
            return
        if tell_peer:
            parent.raw_write(envelope(self.name, END))
        if self._registry.get(self.name) is self:
            del self._registry[self.name]
        if self._held is not None:
            # A paused stream that ends stops holding the connection.
            self._held = None
            if getattr(parent.connection, "ready_state", OPEN) == OPEN:
                self._release_connection(parent)
        self._parent = None
        self._set_state(CLOSED)
        self._stop_producer()
        self._safely("close")
        self._safely("end")
        self.remove_all_listeners()

    def _set_state(self, state: int) -> None:
        if self.ready_state != state:
            self.ready_state = state
            self._safely("readyStateChange")

    def _safely(self, event: str, *args: Any) -> None:
        try:
            self.emit(event, *args)
        except Exception as error:
            self.log.failure("{event!r} listener of substream {name!r} raised", event=event, name=self.name)
            parent = self._parent
            if parent is not None:
                parent.report(error)

    # -- reading -----------------------------------------------------------

    def _received(self, args: Any) -> None:
        """
        The peer sent ``args`` on this stream.
        """
        if args == END and type(args) is str:
            self._finish(tell_peer=False)
            return
        parent = self._parent
        if parent is None:
            return
        # The connection's incoming transforms run again for the stream's
        # own message (``_claim`` among them ignores it: a stream has no
        # streams of its own).
        transforms = parent.incoming
        if not transforms:
            self._deliver(args)
            return
        try:
            result = run_transforms(transforms, Packet(args, None, self))
        except Exception as error:
            parent.report(error)
            return
        if isinstance(result, Packet):
            self._deliver(result.data)
        elif result is not DROPPED:
            result.addCallbacks(
                lambda r: None if r is DROPPED else self._deliver(r.data), self._transform_failed
            )

    def _deliver(self, data: Any) -> None:
        if self._parent is None:
            return
        if self._held is not None:
            self._held.append(data)
            return
        self._safely("data", data)

    # -- IPushProducer: the peer's messages on this stream -----------------

    def pauseProducing(self) -> None:
        """
        Hold this stream's incoming messages back, and stop reading from
        the connection (other streams wait too: they share it).
        """
        parent = self._parent
        if parent is None or self._held is not None:
            return
        self._held = deque()
        connection = parent.connection
        count = getattr(connection, "_substreams_paused", 0)
        connection._substreams_paused = count + 1
        if count == 0:
            pause = getattr(connection, "pauseProducing", None)
            if pause is not None:
                pause()

    def resumeProducing(self) -> None:
        """
        Deliver the held messages, then read from the connection again.
        """
        parent = self._parent
        held = self._held
        if parent is None or held is None:
            return
        self._held = None
        while held and self._parent is not None and self._held is None:
            self._safely("data", held.popleft())
        if self._held is not None:  # paused again by a listener
            self._held.extendleft(reversed(held))
            return
        self._release_connection(parent)

    def _release_connection(self, parent: _Parent) -> None:
        connection = parent.connection
        count = getattr(connection, "_substreams_paused", 0) - 1
        connection._substreams_paused = max(count, 0)
        if count == 0:
            resume = getattr(connection, "resumeProducing", None)
            if resume is not None:
                resume()

    def stopProducing(self) -> None:
        """
        Whoever consumed this stream is gone: end it.
        """
        self.end()

    # -- IConsumer: the application's producers ----------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        Let ``producer`` write into this stream, paced by the connection.

        :raises RuntimeError: when a producer is already registered.
        """
        if self._seat.producer is not None or self._parent is not None:
            self._seat.register(producer, streaming)  # raises when one is seated
        else:
            producer.stopProducing()

    def unregisterProducer(self) -> None:
        """
        Forget the registered producer.
        """
        self._seat.unregister()

    def _is_writing_paused(self) -> bool:
        parent = self._parent
        return parent is not None and parent.writing_paused()

    def _reactor_of(self) -> Any:
        parent = self._parent
        return parent.reactor if parent is not None else None

    def _pause_writing(self) -> None:
        self._seat.pause()

    def _resume_writing(self) -> None:
        self._seat.resume()
        self._safely("drain")

    def _stop_producer(self) -> None:
        self._seat.stop()


def _claim(packet: Packet) -> Any:
    """
    The incoming transform: a message for a substream the connection has
    opened goes to that stream and no further; anything else (``null``,
    arrays, unknown names, names that are not strings) is left alone.
    """
    data = packet.data
    if type(data) is not dict:
        return None
    streams = getattr(packet.spark, "_streams", None)
    if not streams:
        return None
    name = data.get("substream")
    if type(name) is not str:
        return None
    stream = streams.get(name)
    if stream is None:
        return None
    stream._received(data.get("args"))
    return False


def _registry_of(connection: Any) -> dict[str, SubStream]:
    streams = connection._streams
    if streams is None:
        streams = connection._streams = {}
        connection.on("end", lambda *_: _ended(connection))
        connection.on("readyStateChange", lambda *_: _mirror(connection))
    return streams


def _open(connection: Any, name: str, parent: Callable[[], _Parent]) -> SubStream:
    if not isinstance(name, str):
        raise PrimusError(f"A substream's name is a string, not {name!r}")
    streams = _registry_of(connection)
    stream = streams.get(name)
    if stream is None:
        stream = streams[name] = SubStream(parent(), name, streams)
    return stream


def _ended(connection: Any) -> None:
    streams = connection._streams
    if streams:
        for stream in list(streams.values()):
            stream._finish(tell_peer=False)


def _mirror(connection: Any) -> None:
    streams = connection._streams
    state = getattr(connection, "ready_state", None)
    if streams and state is not None:
        for stream in list(streams.values()):
            stream._set_state(state)


class SubstreamSpark:
    """
    What the plugin mixes into ``primus.Spark``.
    """

    _streams: Optional[dict[str, SubStream]] = None
    _substreams_paused = 0

    def substream(self, name: str) -> SubStream:
        """
        The substream called ``name`` of this connection, opened if needed.
        """
        spark: Any = self
        return _open(spark, name, lambda: _spark_parent(spark))

    def pauseWriting(self) -> None:
        super().pauseWriting()  # type: ignore[misc]
        streams = self._streams
        if streams:
            for stream in list(streams.values()):
                stream._pause_writing()

    def resumeWriting(self) -> None:
        was_paused = getattr(self, "_writing_paused", False)
        super().resumeWriting()  # type: ignore[misc]
        streams = self._streams
        if streams and was_paused:
            for stream in list(streams.values()):
                stream._resume_writing()


def _spark_parent(spark: Any) -> _Parent:
    primus = spark.primus
    return _Parent(spark, primus._incoming, primus._outgoing, spark._send, spark._report, reactor_of(primus))


def _socket_parent(socket: Any) -> _Parent:
    def report(error: Exception) -> None:
        if socket.listener_count("error"):
            socket.emit("error", error)

    return _Parent(socket, socket._incoming, socket._outgoing, socket._write, report, reactor_of(socket))


@implementer(IPrimusPlugin)
class SubstreamPlugin(PluginBase):
    """
    The substream plugin (found by name as ``"substream"``).
    """

    name = "substream"
    js_file = "substream.js"

    def server(self, primus: Any, options: Any = None) -> None:
        """
        Give the server's sparks ``substream(name)``.
        """
        extend_spark(primus, SubstreamSpark)
        primus.transform("incoming", _claim)

    def client(self, socket: Any, options: Any = None) -> None:
        """
        Give a Python client socket ``substream(name)``.
        """
        socket._streams = None

        def substream(name: str) -> SubStream:
            """
            The substream called ``name`` of this socket, opened if needed.
            """
            return _open(socket, name, lambda: _socket_parent(socket))

        socket.substream = substream
        socket.transform("incoming", _claim)


#: The plugin as found by name (``plugin="substream"``).
plugin = SubstreamPlugin()
