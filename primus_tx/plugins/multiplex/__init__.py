# -*- test-case-name: tests.plugins.test_multiplex -*-
"""
The ``multiplex`` plugin: channels over one connection, each behaving like
a small Primus of its own, on the wire of primus-multiplex 3.2.1, so
browsers and Node peers using the npm plugin talk to primus-tx::

    primus = Primus(site, plugin="multiplex")
    news = primus.channel("news")

    def connection(spark):             # a channel spark: one client's channel
        spark.write({"welcome": "news"})
        spark.on("data", ...)

    news.on("connection", connection)

Python client: ``socket.channel("news")``; browser:
``primus.channel('news')``.  Every packet is a JSON array ``[type, id,
channel, payload?]`` with type 0 (message), 1 (subscribe) or 2
(unsubscribe); ``id`` is chosen by the client when it opens the channel.

Hardened where the npm server is not, without changing the bytes:

* channels exist only when the server declares them with
  ``primus.channel(name)``; a client cannot create one by naming it;
* a connection may hold at most ``max_channels`` channel sparks
  (``MultiplexPlugin(max_channels=...)``, 64 by default); a subscription
  beyond that is answered with an unsubscribe;
* channel sparks are keyed per connection: one connection can never reach
  another's channel spark, whatever id it sends;
* arrays that are not valid packets, unknown channels and ids, and falsy
  payloads are never errors: anything that is not a packet for a declared
  channel stays ordinary ``data`` (a packet for a declared channel but no
  channel spark of this connection is dropped);
* a falsy payload other than ``None`` (``0``, ``""``, ``false``) is sent,
  where the npm plugin drops it.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Iterator, Optional

from twisted.logger import Logger
from zope.interface import implementer

from primus_tx._errors import PrimusError
from primus_tx._events import EventEmitter
from primus_tx._transforms import Packet
from primus_tx.interfaces import IPrimusPlugin
from primus_tx.plugins import PluginBase, extend_spark

__all__ = [
    "MESSAGE",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "Channel",
    "ChannelSpark",
    "ClientChannel",
    "MultiplexPlugin",
    "plugin",
]

MESSAGE = 0
SUBSCRIBE = 1
UNSUBSCRIBE = 2

#: Default cap on the channel sparks one connection may hold.
MAX_CHANNELS = 64
#: The longest channel id accepted (the npm client makes 11 to 13 characters).
MAX_ID_LENGTH = 64

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxy"  # base 35, as the npm client

log = Logger()


def packet(kind: int, id: str, name: str, payload: Any = None) -> list[Any]:
    """
    One multiplex packet; the payload is left out when it is ``None``.
    """
    return [kind, id, name] if payload is None else [kind, id, name, payload]


def parse(data: Any) -> Optional[tuple[int, str, str, Any]]:
    """
    ``(type, id, channel, payload)`` when ``data`` is a well-formed packet,
    else ``None``.
    """
    if type(data) is not list or not 3 <= len(data) <= 4:
        return None
    kind, id, name = data[0], data[1], data[2]
    if type(kind) is not int or kind not in (MESSAGE, SUBSCRIBE, UNSUBSCRIBE):
        return None
    if type(id) is not str or not id or len(id) > MAX_ID_LENGTH or type(name) is not str:
        return None
    return kind, id, name, data[3] if len(data) == 4 else None


class _Endpoint(EventEmitter):
    """
    One end of a channel, on either side: ``write`` and ``end`` send
    packets through ``self._through`` (the spark or the client socket).
    """

    _through: Any
    name: str
    id: str
    writable = True
    readable = True

    def write(self, data: Any) -> bool:
        """
        Send ``data`` to the peer on this channel.
        """
        if not self.writable:
            return False
        return bool(self._through.write(packet(MESSAGE, self.id, self.name, data)))

    def end(self, data: Any = None) -> None:
        """
        Write ``data`` (unless ``None``), tell the peer the channel is
        closed, and emit ``"end"``.
        """
        if not self.writable:
            return
        if data is not None:
            self.write(data)
        self._through.write(packet(UNSUBSCRIBE, self.id, self.name))
        self._ended()

    def _ended(self) -> None:
        raise NotImplementedError


class ChannelSpark(_Endpoint):
    """
    One client's side of a channel: ``write``, ``end``, the ``data`` and
    ``end`` events, and its connection's ``headers``, ``query``,
    ``address`` and ``request``.

    :ivar id: the id the client chose for it (unique within its connection).
    :ivar conn: the connection (the spark) it rides on.
    :ivar channel: the :class:`Channel`.
    """

    def __init__(self, channel: Channel, conn: Any, id: str) -> None:
        self.channel = channel
        self.primus = channel
        self.conn = self._through = conn
        self.name = channel.name
        self.id = id

    @property
    def headers(self) -> Any:
        return self.conn.headers

    @property
    def query(self) -> Any:
        return self.conn.query

    @property
    def address(self) -> Any:
        return self.conn.address

    @property
    def request(self) -> Any:
        return self.conn.request

    def __repr__(self) -> str:
        return f"<ChannelSpark {self.channel.name!r} {self.id!r} of {self.conn!r}>"

    def _ended(self) -> None:
        if not self.writable:
            return
        self.writable = self.readable = False
        table = getattr(self.conn, "_multiplex", None)
        if table is not None and table.get((self.channel.name, self.id)) is self:
            del table[(self.channel.name, self.id)]
        self.channel._forget(self)
        _safely(self, "end")
        self.remove_all_listeners()


def _safely(emitter: Any, event: str, *args: Any) -> None:
    try:
        emitter.emit(event, *args)
    except Exception:
        log.failure("{event!r} listener of {emitter!r} raised", event=event, emitter=emitter)


class Channel(EventEmitter):
    """
    A channel declared by the server with ``primus.channel(name)``: events
    ``connection`` and ``disconnection`` (with a :class:`ChannelSpark`) and
    ``close``.
    """

    def __init__(self, primus: Any, name: str) -> None:
        self.primus = primus
        self.name = name
        self._sparks: dict[int, ChannelSpark] = {}

    def __repr__(self) -> str:
        return f"<Channel {self.name!r}>"

    def __iter__(self) -> Iterator[ChannelSpark]:
        return iter(list(self._sparks.values()))

    def __len__(self) -> int:
        return len(self._sparks)

    @property
    def connected(self) -> int:
        """
        How many channel sparks are open.
        """
        return len(self._sparks)

    def for_each(self, fn: Callable[[ChannelSpark], Any]) -> None:
        """
        Call ``fn(channel_spark)`` for every open channel spark; ``False``
        stops.
        """
        for spark in list(self._sparks.values()):
            if fn(spark) is False:
                return

    def spark(self, id: str, conn: Any = None) -> Optional[ChannelSpark]:
        """
        The channel spark with this client id (of connection ``conn`` when
        given: ids are only unique within a connection).
        """
        for spark in self._sparks.values():
            if spark.id == id and (conn is None or spark.conn is conn):
                return spark
        return None

    def write(self, data: Any) -> bool:
        """
        Send ``data`` to every channel spark.
        """
        for spark in list(self._sparks.values()):
            spark.write(data)
        return True

    def destroy(self) -> None:
        """
        End every channel spark, forget the channel, emit ``"close"``.
        """
        for spark in list(self._sparks.values()):
            spark.end()
        channels = getattr(self.primus, "_channels", None)
        if channels is not None and channels.get(self.name) is self:
            del channels[self.name]
        _safely(self, "close")
        self.remove_all_listeners()

    def _subscribe(self, conn: Any, id: str, limit: int) -> None:
        table = conn._multiplex
        if table is None:
            table = conn._multiplex = {}
        if (self.name, id) in table:
            return
        if len(table) >= limit:
            # Refused: the client's channel spark ends at once.
            conn.write(packet(UNSUBSCRIBE, id, self.name))
            return
        spark = ChannelSpark(self, conn, id)
        table[(self.name, id)] = spark
        self._sparks[_key(spark)] = spark
        _safely(conn, "subscribe", self, spark)
        _safely(self, "connection", spark)

    def _forget(self, spark: ChannelSpark) -> None:
        if self._sparks.pop(_key(spark), None) is spark:
            _safely(self, "disconnection", spark)


def _key(spark: ChannelSpark) -> int:
    return id(spark)


class MultiplexSpark:
    """
    What the plugin mixes into ``primus.Spark``: the connection's channel
    sparks, keyed by ``(channel, id)``.
    """

    _multiplex: Optional[dict[tuple[str, str], ChannelSpark]] = None


def _server_claim(primus: Any, limit: int) -> Callable[[Packet], Any]:
    def claim(packet_: Packet) -> Any:
        parsed = parse(packet_.data)
        if parsed is None:
            return None
        kind, id, name, payload = parsed
        conn = packet_.spark
        channel = primus._channels.get(name)
        if channel is None:
            return None
        table = getattr(conn, "_multiplex", None)
        spark = table.get((name, id)) if table else None
        if kind == SUBSCRIBE:
            channel._subscribe(conn, id, limit)
        elif spark is None:
            # A declared channel, but no channel spark of this connection:
            # a late packet of one that ended (or a guess): dropped.
            return False
        elif kind == MESSAGE:
            _safely(spark, "data", payload)
        else:
            _safely(conn, "unsubscribe", channel, spark)
            spark.end()
        return False

    return claim


def _ended(conn: Any) -> None:
    table = conn._multiplex
    if table:
        for spark in list(table.values()):
            spark._ended()


# -- the Python client half ------------------------------------------------------------


def _random_id(length: int = 11) -> str:
    rng = random.SystemRandom()
    return "".join(rng.choice(_DIGITS) for _ in range(length))


class ClientChannel(_Endpoint):
    """
    A Python client's side of a channel: ``write``, ``end``, the ``data``
    and ``end`` events.  Subscribed when made, and again after the socket
    reconnects.
    """

    def __init__(self, socket: Any, name: str) -> None:
        self.socket = self._through = socket
        self.name = name
        self.id = _random_id()

    def __repr__(self) -> str:
        return f"<ClientChannel {self.name!r} {self.id!r}>"

    def _subscribe(self) -> None:
        self.socket.write(packet(SUBSCRIBE, self.id, self.name))

    def _ended(self) -> None:
        if not self.writable:
            return
        self.writable = self.readable = False
        channels = self.socket._channels
        if channels.get((self.name, self.id)) is self:
            del channels[(self.name, self.id)]
        _safely(self, "end")
        self.remove_all_listeners()


def _client_claim(packet_: Packet) -> Any:
    parsed = parse(packet_.data)
    if parsed is None:
        return None
    kind, id, name, payload = parsed
    socket = packet_.spark
    channel = socket._channels.get((name, id))
    if channel is None:
        # A channel name this socket opened, but not (or no longer) this
        # id: the server's answer to our own unsubscribe, say.  Dropped.
        return False if name in socket._channel_names else None
    if kind == MESSAGE:
        _safely(channel, "data", payload)
    elif kind == UNSUBSCRIBE:
        channel._ended()
    return False


@implementer(IPrimusPlugin)
class MultiplexPlugin(PluginBase):
    """
    The multiplex plugin (found by name as ``"multiplex"``).

    :param max_channels: channel sparks one connection may hold at once.
    """

    name = "multiplex"
    js_file = "multiplex.js"

    def __init__(self, max_channels: int = MAX_CHANNELS) -> None:
        if isinstance(max_channels, bool) or not isinstance(max_channels, int) or max_channels < 1:
            raise PrimusError(f"max_channels must be a positive number, not {max_channels!r}")
        self.max_channels = max_channels

    def server(self, primus: Any, options: Any = None) -> None:
        """
        Give the server ``channel(name)`` and route channel packets.
        """
        extend_spark(primus, MultiplexSpark)
        primus._channels = {}

        def channel(name: str) -> Channel:
            """
            The channel called ``name``, declared if it is new.
            """
            if not isinstance(name, str) or not name:
                raise PrimusError(f"A channel name is a non-empty string, not {name!r}")
            found = primus._channels.get(name)
            if found is None:
                found = primus._channels[name] = Channel(primus, name)
            return found

        primus.channel = channel
        primus.transform("incoming", _server_claim(primus, self.max_channels))
        primus.on("disconnection", _ended)

        def closed(*_: Any) -> None:
            for found in list(primus._channels.values()):
                found.destroy()

        primus.on("close", closed)

    def client(self, socket: Any, options: Any = None) -> None:
        """
        Give a Python client socket ``channel(name)``.
        """
        socket._channels = {}
        socket._channel_names = set()
        state = {"reconnecting": False}

        def channel(name: str) -> ClientChannel:
            """
            A new channel called ``name`` (subscribed at once, or when the
            socket opens).
            """
            if not isinstance(name, str) or not name:
                raise PrimusError(f"A channel name is a non-empty string, not {name!r}")
            made = ClientChannel(socket, name)
            socket._channels[(name, made.id)] = made
            socket._channel_names.add(name)
            made._subscribe()
            return made

        def reconnecting(*_: Any) -> None:
            state["reconnecting"] = True

        def opened(*_: Any) -> None:
            if state["reconnecting"]:
                state["reconnecting"] = False
                for made in list(socket._channels.values()):
                    made._subscribe()

        def ended(*_: Any) -> None:
            for made in list(socket._channels.values()):
                made._ended()

        socket.channel = channel
        socket.transform("incoming", _client_claim)
        socket.on("reconnect", reconnecting)
        socket.on("open", opened)
        socket.on("end", ended)


#: The plugin as found by name (``plugin="multiplex"``).
plugin = MultiplexPlugin()
