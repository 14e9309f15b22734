# -*- test-case-name: tests.client.test_client_socket -*-
"""
The Python client socket: Primus's client state machine on Twisted.

Everything Primus's ``primus.js`` decides lives here (ready states, the
event orders of docs/protocol/primus.rst, "Client events and their orders",
buffering, the connect and heartbeat timers, reconnect strategies and the
back-off); transports only move messages (see
:class:`~primus_tx.interfaces.IClientTransport`), parsers only encode.  Every timer is
an ``IDelayedCall`` on the injected reactor and is cancelled on every exit
path, so a test on a ``Clock`` sees nothing left after ``end()``.
"""

from __future__ import annotations

import math
import random as _random
from collections import deque
from typing import Any, Callable, Optional, Union

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from primus_tx._defaults import CONNECT_TIMEOUT, PARSER, PATHNAME, PING_TIMEOUT, TRANSFORMER
from primus_tx._errors import ConnectionFailed, ParserError, PrimusError
from primus_tx._events import EventEmitter, as_deferred
from primus_tx._lane import Lane
from primus_tx._options import reject_unknown
from primus_tx._transforms import Packet
from primus_tx.client._iteration import DataIterator
from primus_tx.client._recovery import Attempt, Recovery
from primus_tx.client._url import Yeast, assemble, parse_query, split_url, stringify_query
from primus_tx.interfaces import IClientTransportHandler

__all__ = ["ConnectionFailed", "Socket", "create_socket"]

OPENING = 1
CLOSED = 2
OPEN = 3

_RESERVED = frozenset(
    (
        "reconnect scheduled",
        "reconnect timeout",
        "readyStateChange",
        "reconnect failed",
        "reconnected",
        "reconnect",
        "offline",
        "timeout",
        "destroy",
        "online",
        "error",
        "close",
        "open",
        "data",
        "end",
    )
)

_OPTIONS = frozenset(
    (
        "reconnect",
        "timeout",
        "ping_timeout",
        "strategy",
        "manual",
        "transport",
        "queue_size",
        "transformer",
        "parser",
        "pathname",
        "plugin",
        "reactor",
        "random",
        "authorization",
        "websockets",
        # The mirage plugin's id (primus_tx.plugins.mirage).
        "mirage",
    )
)


def _strategy(value: Any, authorization: bool) -> str:
    if value is False or value is None:
        return ""
    if isinstance(value, str):
        names = [part.strip() for part in value.split(",")]
    elif isinstance(value, (list, tuple)):
        names = [str(part).strip() for part in value]
    else:
        raise PrimusError(f"strategy must be a string, a list of strings or False, not {value!r}")
    names = [name.lower() for name in names if name]
    if not names:
        names = ["disconnect", "online"] + ([] if authorization else ["timeout"])
    known = {"disconnect", "online", "timeout"}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise PrimusError(f"Unknown reconnect strategy {unknown!r}; use {sorted(known)}")
    return ",".join(names)


def _seconds(name: str, value: Any) -> Union[float, bool]:
    """
    A duration option: seconds, or ``False``/``0``/``None`` to disable.
    """
    if value is None or value is False:
        return False
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise PrimusError(f"{name} must be a number of seconds (or False), not {value!r}")
    return float(value) if value else False


@implementer(IClientTransportHandler)
class _Handler:
    """
    The transport's view of its socket.  It forwards only while its
    transport is the socket's current one, so a transport that was closed
    (or replaced by a newer attempt) can never disturb the socket.
    """

    __slots__ = ("socket", "transport")

    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        self.transport: Any = None

    def _current(self) -> bool:
        return self.transport is not None and self.socket._transport is self.transport

    def connectionMade(self) -> None:
        if self._current():
            self.socket._guarded(self.socket._incoming_open)

    def messageReceived(self, message: Union[str, bytes]) -> None:
        if self._current():
            self.socket._guarded(self.socket._incoming_data, message)

    def connectionFailed(self, error: Exception) -> None:
        if self._current():
            if isinstance(error, Failure):
                error = error.value  # type: ignore[assignment]
            self.socket._guarded(self.socket._incoming_error, error)

    def connectionLost(self, reason: object = None) -> None:
        if self._current():
            self.socket._transport = None
            self.socket._guarded(self.socket._incoming_end)


class Socket(EventEmitter):
    """
    A Primus client connection.

    Opens on the next reactor turn unless ``manual=True``; reconnects
    according to ``strategy``; ``write`` buffers until the socket is open.
    Events, arguments and their order are Primus's (see :doc:`/client`).

    :param url: the server, ``http(s)://`` or ``ws(s)://``; its path is
        ignored (the connection always goes to ``pathname``), its query
        string is kept and its userinfo is sent as Basic authorization.
    :param options: ``reconnect`` (dict of ``min``, ``max``, ``retries``,
        ``factor``, ``timeout``; seconds), ``timeout`` (connect timeout of
        the first open, 10 s), ``ping_timeout`` (silence allowed between
        server pings, or ``False``), ``strategy``, ``manual``,
        ``transport`` (transport options; ``headers`` are extra request
        headers), ``queue_size``, ``transformer``, ``parser``,
        ``pathname``, ``plugin``, ``authorization``, ``reactor`` and
        ``random`` (for reproducible back-off).
    """

    OPENING = OPENING
    CLOSED = CLOSED
    OPEN = OPEN

    log = Logger()

    #: Option defaults; :func:`create_socket` makes subclasses with their own.
    _defaults: dict[str, Any] = {
        "transformer": TRANSFORMER,
        "parser": PARSER,
        "pathname": PATHNAME,
        "plugin": None,
        "ping_timeout": PING_TIMEOUT,
        "authorization": False,
    }

    def __init__(self, url: str = "http://127.0.0.1", **options: Any) -> None:
        if "ping" in options or "pong" in options:
            raise PrimusError(
                "The `ping` and `pong` options have been removed: the server pings, "
                "use `ping_timeout`"
            )
        reject_unknown(options, _OPTIONS, "Socket")
        merged = dict(self._defaults)
        merged.update(options)
        self.options = merged

        reactor: Any = merged.get("reactor")
        if reactor is None:
            from twisted.internet import reactor
        self._reactor: Any = reactor
        self._random: Callable[[], float] = merged.get("random") or _random.random

        from primus_tx.parsers import check_pairing, find_parser
        from primus_tx.transformers import find_transformer

        self.transformer = find_transformer(merged["transformer"])
        self.parser = find_parser(merged["parser"])
        check_pairing(self.transformer, self.parser)
        self._transport_class: Any = self.transformer.client()
        pathname = merged["pathname"] or PATHNAME
        self.pathname = "/" + str(pathname).strip("/")

        self.url = url
        self._url_parts = split_url(url)
        self.timeout = _seconds("timeout", merged.get("timeout", CONNECT_TIMEOUT))
        self.ping_timeout = _seconds("ping_timeout", merged.get("ping_timeout"))
        self.strategy = _strategy(merged.get("strategy", ()), bool(merged.get("authorization")))
        queue_size = merged.get("queue_size")
        if queue_size is not None and (
            isinstance(queue_size, bool) or not isinstance(queue_size, (int, float)) or queue_size < 0
        ):
            raise PrimusError(f"queue_size must be a number of messages, not {queue_size!r}")
        self.queue_size: float = math.inf if queue_size is None else queue_size
        transport = dict(merged.get("transport") or {})
        if merged.get("websockets") is False:
            # Primus's ``websockets: false``: transports that can avoid
            # WebSocket (Engine.IO, SockJS) stay on HTTP.
            transport.setdefault("websockets", False)
        self._headers: dict[str, str] = dict(transport.pop("headers", None) or {})
        self._transport_options = transport
        reconnect = merged.get("reconnect") or {}
        if not isinstance(reconnect, dict):
            raise PrimusError("reconnect must be a dict of min, max, retries, factor, timeout")
        reject_unknown(reconnect, ("min", "max", "retries", "factor", "timeout"), "reconnect")
        self.recovery = Recovery(self._reactor, self._random, **reconnect)

        self.ready_state = CLOSED
        self.readable = True
        self.writable = True
        self.online = True
        self.disconnect = False
        self.buffer: deque[Any] = deque()
        self.socket: Any = None
        self._transport: Any = None
        self._timers: dict[str, IDelayedCall] = {}
        self._incoming: list[Callable[..., Any]] = []
        self._outgoing: list[Callable[..., Any]] = []
        # The transform lanes, made with the first transform.
        self._in: Optional[Lane] = None
        self._out: Optional[Lane] = None
        self._yeast = Yeast(self._reactor.seconds)
        self._ended = False
        self._destroyed = False
        self._closing: list[Deferred[Any]] = []
        self._last_error: Optional[BaseException] = None
        #: Seconds of the last round trip this socket timed without sending
        #: anything extra: the opening handshake (from asking the transport
        #: to connect until it is open, so it includes connecting), and each
        #: ``id()`` asked of the server while open; ``None`` until measured.
        self.latency: Optional[float] = None
        self._opening_at = 0.0

        recovery = self.recovery
        recovery.on("reconnected", self._recovered)
        recovery.on("reconnect failed", self._recovery_failed)
        recovery.on("reconnect timeout", self._recovery_timeout)
        recovery.on("reconnect scheduled", lambda opts: self.emit("reconnect scheduled", opts))
        recovery.on("reconnect", self._recovery_attempt)

        self.ark = _plugins(merged.get("plugin"))
        for plugin in self.ark.values():
            client = getattr(plugin, "client", None)
            if callable(client):
                client(self, self.options)

        if not merged.get("manual"):
            self._timer("open", 0, self.open)

    # -- class-level helpers ------------------------------------------------

    @classmethod
    def connect(cls, url: str = "http://127.0.0.1", **options: Any) -> Deferred[Socket]:
        """
        Make a socket and wait for it to open.

        :return: a Deferred firing with the open socket, or failing with
            :class:`ConnectionFailed` when it ends first (no reconnect
            strategy applied, or every attempt failed).  Cancelling it
            destroys the socket.
        """
        socket = cls(url, **options)
        d: Deferred[Socket] = Deferred(lambda _: _destroy(socket))

        def opened() -> None:
            socket.off("end", ended)
            if not d.called:
                d.callback(socket)

        def ended() -> None:
            socket.off("open", opened)
            if not d.called:
                error = socket._last_error
                detail = f": {error}" if error is not None else ""
                d.errback(ConnectionFailed(f"Could not connect to {url}{detail}", error))

        socket.once("open", opened)
        socket.once("end", ended)
        if options.get("manual"):
            socket.open()
        return d

    # -- state -----------------------------------------------------------------

    @property
    def readyState(self) -> int:
        """
        Alias of :attr:`ready_state`.
        """
        return self.ready_state

    def _set_state(self, state: int, name: str) -> None:
        if self.ready_state != state:
            self.ready_state = state
            self.emit("readyStateChange", name)

    def _timer(self, name: str, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        self._clear_timer(name)
        self._timers[name] = self._reactor.callLater(delay, self._fire, name, fn, *args)

    def _fire(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        self._timers.pop(name, None)
        self._guarded(fn, *args)

    def _active(self, name: str) -> bool:
        call = self._timers.get(name)
        return call is not None and call.active()

    def _clear_timer(self, name: str) -> None:
        call = self._timers.pop(name, None)
        if call is not None and call.active():
            call.cancel()

    def _clear_timers(self) -> None:
        timers, self._timers = self._timers, {}
        for call in timers.values():
            if call.active():
                call.cancel()

    def _guarded(self, fn: Callable[..., Any], *args: Any) -> None:
        """
        Run socket logic from a transport callback or a timer: an exception
        (from an application listener) is logged, not thrown into Twisted.
        """
        try:
            fn(*args)
        except Exception:
            self.log.failure("primus client listener raised")

    def reserved(self, event: str) -> bool:
        """
        Whether ``event`` is used by Primus itself.
        """
        return event in _RESERVED or event.startswith("incoming::") or event.startswith(
            "outgoing::"
        )

    def emits(self, event: str, parser: Optional[Callable[..., Any]] = None) -> Callable[..., bool]:
        """
        A function that emits ``event`` on this socket with its arguments
        (after ``parser(*args)`` when given: its result becomes the single
        argument, ``None`` means no argument).
        """

        def emitter(*args: Any) -> bool:
            if parser is not None:
                value = parser(*args)
                args = () if value is None else (value,)
            return self.emit(event, *args)

        return emitter

    def plugin(self, name: Optional[str] = None) -> Any:
        """
        The client plugin called ``name``, or all of them.
        """
        if name is None:
            return dict(self.ark)
        return self.ark.get(name)

    # -- opening ----------------------------------------------------------------

    def open(self) -> Socket:
        """
        Connect (done automatically unless ``manual=True``); only call it
        while the socket is closed.
        """
        if self._destroyed:
            raise PrimusError("Socket#open: the socket was destroyed")
        self._clear_timer("open")
        self._ended = False
        if not self.recovery.reconnecting() and self.timeout:
            self._timer("connect", self.timeout, self._connect_timed_out)
        self._outgoing_open()
        return self

    def _uri(self) -> str:
        parts = self._url_parts
        query = parse_query(parts["query"])
        query["_primuscb"] = self._yeast()
        url_options = {
            "protocol": getattr(self._transport_class, "protocol", "ws"),
            "secure": parts["secure"],
            "auth": parts["auth"],
            "hostname": parts["hostname"],
            "port": parts["port"],
            "pathname": self.pathname,
            "query": stringify_query(query),
        }
        self.emit("outgoing::url", url_options)
        return assemble(url_options)

    def _outgoing_open(self) -> None:
        self._drop_transport()
        self._set_state(OPENING, "opening")
        self.emit("outgoing::open")
        handler = _Handler(self)
        transport = self._transport_class(handler, self._reactor, dict(self._transport_options))
        handler.transport = transport
        self._transport = self.socket = transport
        self._opening_at = self._reactor.seconds()
        transport.open(self._uri(), dict(self._headers))

    def _drop_transport(self) -> None:
        """
        Close the current transport, if any, without hearing from it again.
        """
        transport, self._transport = self._transport, None
        if transport is None:
            return
        try:
            closing = transport.close()
        except Exception:
            self.log.failure("closing the client transport failed")
            return
        if closing is not None:
            closing = as_deferred(closing)
            self._closing.append(closing)
            closing.addErrback(lambda f: self.log.failure("closing the client transport", f))
            closing.addBoth(self._closed_one, closing)

    def _closed_one(self, _: Any, closing: Deferred[Any]) -> None:
        if closing in self._closing:
            self._closing.remove(closing)

    def _connect_timed_out(self) -> None:
        if self.ready_state == OPEN or self.recovery.reconnecting():
            return
        self.emit("timeout")
        if "timeout" in self.strategy:
            # The hung attempt is abandoned; the back-off makes a new one.
            self._drop_transport()
            self.recovery.reconnect()
        else:
            self.end()

    # -- the transport tells us -------------------------------------------------

    def _incoming_open(self) -> None:
        self.latency = self._reactor.seconds() - self._opening_at
        self._clear_timer("connect")
        if self.recovery.reconnecting():
            self.recovery.reconnected()
        self.writable = True
        self.readable = True
        if not self.online:
            self.online = True
            self.emit("online")
        self._set_state(OPEN, "open")
        self._heartbeat()
        if self.buffer:
            pending = list(self.buffer)
            self.buffer.clear()
            for data in pending:
                self._write(data)
        self.emit("open")

    def _incoming_data(self, raw: Union[str, bytes]) -> None:
        try:
            data = self.parser.decode(raw)
        except Exception as error:
            if self.listener_count("error"):
                self.emit("error", ParserError(f"Failed to decode incoming data: {error}"))
            return
        if type(data) is str and data.startswith("primus::") and self._protocol(data):
            return
        lane = self._in
        if lane is not None:
            lane.push(data, raw)
        elif self._incoming:
            self._in = Lane(self._incoming, self, self._emit_data, self._emit_error)
            self._in.push(data, raw)
        else:
            self.emit("data", data)

    def _protocol(self, message: str) -> bool:
        index = message.find(":", 8)
        if index < 0:
            return False
        kind = message[8:index]
        value = message[index + 2 :]
        if kind == "ping":
            self._incoming_ping(value)
        elif kind == "server":
            if value == "close":
                self.disconnect = True
        elif kind == "id":
            self.emit("incoming::id", value)
        else:
            return False
        return True

    def _incoming_ping(self, value: str) -> None:
        try:
            time: Any = int(value)
        except ValueError:
            time = value
        self.online = True
        self._heartbeat()
        self.emit("outgoing::pong", time)
        self._write(f"primus::pong::{time}")

    def _emit_data(self, data: Any) -> None:
        self._guarded(self.emit, "data", data)

    def _emit_error(self, error: BaseException) -> None:
        self._guarded(self.emit, "error", error)

    def _incoming_error(self, error: BaseException) -> None:
        self._last_error = error
        connecting = self._active("connect")
        if self.recovery.reconnecting():
            self.recovery.reconnected(error)  # type: ignore[arg-type]
            return
        self._clear_timer("connect")
        if self.listener_count("error"):
            self.emit("error", error)
        if connecting:
            if "timeout" in self.strategy:
                self.recovery.reconnect()
            else:
                self.end()

    def _incoming_end(self) -> None:
        self._transport = None
        if self.disconnect:
            self.disconnect = False
            self.end()
            return
        previous = self.ready_state
        self._set_state(CLOSED, "end")
        if self._active("connect"):
            self.end()
        if previous != OPEN:
            if self.recovery.reconnecting():
                # An attempt that closed without an error has failed too.
                if self.recovery._fn is not None:
                    self.recovery.reconnected(ConnectionFailed("Connection closed while opening"))
                else:
                    self.recovery.reconnect()
            return
        self.writable = False
        self.readable = False
        self._clear_timers()
        self.emit("close")
        if "disconnect" in self.strategy:
            self.recovery.reconnect()
            return
        self.emit("outgoing::end")
        self._finish()

    # -- heartbeat ----------------------------------------------------------------

    def _heartbeat(self) -> None:
        if not self.ping_timeout:
            return
        self._timer("heartbeat", self.ping_timeout, self._heartbeat_expired)

    def _heartbeat_expired(self) -> None:
        if not self.online:
            return
        self.online = False
        self.emit("offline")
        # The server went quiet: drop that connection before deciding what next.
        self._drop_transport()
        self._incoming_end()

    # -- recovery -----------------------------------------------------------------

    def _recovery_attempt(self, opts: Attempt, done: Callable[..., None]) -> None:
        self.emit("outgoing::reconnect")
        self._outgoing_open()
        self.emit("reconnect", opts, done)

    def _recovered(self, opts: Attempt) -> None:
        self._last_error = None
        self.emit("reconnected", opts)

    def _recovery_timeout(self, error: Exception, opts: Attempt) -> None:
        self._last_error = error
        self._drop_transport()
        self.emit("reconnect timeout", error, opts)

    def _recovery_failed(self, error: Exception, opts: Attempt) -> None:
        self._drop_transport()
        self._set_state(CLOSED, "end")
        self.readable = self.writable = False
        self._clear_timers()
        if self._last_error is None:
            self._last_error = error
        self._finish()
        self.emit("reconnect failed", error, opts)

    # -- writing ---------------------------------------------------------------------

    def write(self, data: Any) -> bool:
        """
        Send ``data`` through the outgoing transforms and the parser;
        buffered (at most ``queue_size`` messages, oldest dropped) until the
        socket is open.  Always returns ``True``, as Primus does.

        Writes keep their order: one written after a message held by an
        asynchronous outgoing transform waits behind it, as on a spark.
        """
        lane = self._out
        if lane is not None:
            lane.push(data)
        elif self._outgoing:
            self._out = Lane(self._outgoing, self, self._write_guarded, self._emit_error)
            self._out.push(data)
        else:
            self._write(data)
        return True

    def _write_guarded(self, data: Any) -> None:
        self._guarded(self._write, data)

    def _write(self, data: Any) -> bool:
        if self.ready_state != OPEN or self._transport is None:
            if self.queue_size <= 0:
                return False
            while len(self.buffer) >= self.queue_size:
                self.buffer.popleft()
            self.buffer.append(data)
            return False
        try:
            message = self.parser.encode(data)
        except Exception as error:
            if self.listener_count("error"):
                self.emit("error", ParserError(f"Failed to encode outgoing data: {error}"))
            return True
        if not message:
            return True
        self.emit("outgoing::data", message)
        self._transport.send(message)
        return True

    def transform(self, type: str, fn: Callable[[Packet], Any]) -> Socket:
        """
        Add a message transform (``"incoming"`` or ``"outgoing"``):
        ``fn(packet)`` may rewrite ``packet.data``, return ``False`` to drop
        the message, or return an awaitable.
        """
        if type not in ("incoming", "outgoing"):
            raise PrimusError(f"Invalid transformer type {type!r}: use 'incoming' or 'outgoing'")
        if not callable(fn):
            raise PrimusError("A transform must be a function of the packet")
        (self._incoming if type == "incoming" else self._outgoing).append(fn)
        return self

    def id(self) -> Deferred[str]:
        """
        The id the server gave this connection (the spark's id).

        :return: a Deferred firing with it once the server answers (the
            request waits in the buffer while the socket is not open).
        """
        transport_id = getattr(self._transport, "id", None)
        if transport_id:
            return succeed(str(transport_id))
        d: Deferred[str] = Deferred()
        asked = self._reactor.seconds() if self.ready_state == OPEN else None

        def answered(value: str) -> None:
            if asked is not None:
                self.latency = self._reactor.seconds() - asked
            if not d.called:
                d.callback(value)

        d.addErrback(self._id_cancelled, answered)
        self.once("incoming::id", answered)
        self._write("primus::id::")
        return d

    def _id_cancelled(self, failure: Failure, answered: Any) -> Failure:
        failure.trap(CancelledError)
        self.off("incoming::id", answered)
        return failure

    # -- ending -----------------------------------------------------------------------

    def end(self, data: Any = None) -> Deferred[None]:
        """
        Close the connection, after writing ``data`` unless it is ``None``;
        never reconnects.  Emits ``readyStateChange('end')`` (when open),
        ``close`` and ``end`` once, however often it is called.

        :return: a Deferred that fires once the connection is closed.
        """
        if self.ready_state == CLOSED and not self._active("connect") and not self._active("open"):
            if self.recovery.reconnecting():
                self.recovery.reset()
                self._drop_transport()
                self._finish()
            return self._when_closed()
        if data is not None:
            self.write(data)
        self.writable = False
        self.readable = False
        self._set_state(CLOSED, "end")
        self._clear_timers()
        self.recovery.reset()
        self.emit("outgoing::end")
        self._drop_transport()
        self.emit("close")
        self._finish()
        return self._when_closed()

    def _finish(self) -> None:
        """
        Emit ``end``, exactly once per opening.
        """
        if self._ended:
            return
        self._ended = True
        self.emit("end")

    def _when_closed(self) -> Deferred[None]:
        """
        A fresh Deferred (one per caller) that fires once every transport
        being closed is gone.
        """
        if not self._closing:
            return succeed(None)
        from twisted.internet.defer import gatherResults

        waiters: list[Deferred[None]] = []
        for closing in self._closing:
            waiter: Deferred[None] = Deferred()
            closing.addBoth(_relay, waiter)
            waiters.append(waiter)
        return gatherResults(waiters, consumeErrors=True).addCallback(lambda _: None)

    def destroy(self) -> bool:
        """
        End the socket for good: no ``open()`` afterwards, every listener
        forgotten, ``destroy`` emitted last.

        :return: ``False`` when it was already destroyed.
        """
        if self._destroyed:
            return False
        self.end()
        self._clear_timers()
        self.recovery.reset()
        self.recovery.remove_all_listeners()
        self.buffer.clear()
        self._destroyed = True
        self.emit("destroy")
        self.remove_all_listeners()
        return True

    # -- iteration ------------------------------------------------------------------------

    def __aiter__(self) -> DataIterator:
        """
        ``async for data in socket`` yields every message until the socket
        ends; messages arriving between iterations are queued, not lost.
        """
        return DataIterator(self, self._ended)

    def __repr__(self) -> str:
        state = {OPENING: "opening", CLOSED: "closed", OPEN: "open"}[self.ready_state]
        return f"<{type(self).__name__} {self.url} {state}>"


def _destroy(socket: Socket) -> None:
    socket.destroy()


def _relay(result: Any, waiter: Deferred[None]) -> Any:
    waiter.callback(None)
    return result


def _plugins(value: Any) -> dict[str, Any]:
    """
    The ``plugin`` option as ``{name: plugin}``: a dict as it is, or names
    as for the server (``"emitter, rooms"``, a list of names).
    """
    if not value:
        return {}
    if isinstance(value, dict):
        return dict(value)
    from primus_tx._plugins import checked_plugin, configured_plugins

    return {name: checked_plugin(name, plugin) for name, plugin in configured_plugins(value)}


def create_socket(**options: Any) -> type[Socket]:
    """
    A :class:`Socket` subclass whose defaults are these options (a
    ``transformer``, ``parser``, ``pathname``, ``plugin`` set, and so on),
    like Primus's ``createSocket``.  Sockets made from it default to
    ``ping_timeout=False`` unless ``ping_timeout`` is given, as with Primus.

    :raises PrimusError: for an unknown transformer, parser or option.
    """
    reject_unknown(options, _OPTIONS, "Socket")
    from primus_tx.parsers import check_pairing, find_parser
    from primus_tx.transformers import find_transformer

    defaults = dict(Socket._defaults)
    defaults["ping_timeout"] = False
    defaults.update(options)
    defaults["transformer"] = find_transformer(defaults["transformer"])
    defaults["parser"] = find_parser(defaults["parser"])
    check_pairing(defaults["transformer"], defaults["parser"])
    defaults["plugin"] = _plugins(defaults.get("plugin"))
    name = getattr(defaults["transformer"], "name", "custom")
    return type(f"Socket_{name}", (Socket,), {"_defaults": defaults, "__module__": __name__})
