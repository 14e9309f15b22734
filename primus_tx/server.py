# -*- test-case-name: tests.test_server_api -*-
"""
The Primus server: options, the spark registry, the one heartbeat sweep,
broadcast, middleware, plugins, transforms and shutdown.

A ``Primus`` attaches to a twisted.web ``Site`` (every request whose path
starts with the pathname is Primus's, everything else still reaches the
site's own resources) or is mounted explicitly as ``primus.resource``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Optional

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IListeningPort
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import IResource
from twisted.web.server import Site
from zope.interface import implementer

from primus_tx._defaults import client_ping_timeout, milliseconds
from primus_tx._errors import PrimusError
from primus_tx._events import EventEmitter, as_deferred, call_in_series, is_awaitable
from primus_tx._guard import SiteGuard
from primus_tx._http import PrimusRequest
from primus_tx._ids import random_id
from primus_tx._options import check_options
from primus_tx._plugins import checked_plugin, configured_plugins, find_plugin
from primus_tx._resource import PrimusResource, SiteRoot
from primus_tx._version import PRIMUS_VERSION
from primus_tx.interfaces import (
    IConnection,
    IParser,
    ITransformer,
    ITransformerHost,
    ITransformerServer,
)
from primus_tx.middleware import DEFAULT_LAYERS, MiddlewareStack
from primus_tx.parsers import check_pairing, find_parser
from primus_tx.spark import Spark, SparkContext
from primus_tx.transformers import find_transformer

__all__ = ["PRIMUS_VERSION", "Primus"]

#: Seconds ``destroy()`` waits for connections to finish closing.
CLOSE_GRACE = 3.0

_RESERVED = frozenset(
    ("disconnection", "initialised", "connection", "plugout", "plugin", "close", "log", "slow client")
)


@implementer(ITransformerHost)
class Primus(EventEmitter):
    """
    A Primus server.

    Its transformer sees it only as an
    :class:`~primus_tx.interfaces.ITransformerHost`, its sparks only through
    a :class:`~primus_tx.spark.SparkContext`.

    :param site: a ``twisted.web.server.Site`` to attach to, a resource to
        mount the Primus resource under (its child named after the
        pathname), or ``None`` to mount ``primus.resource`` yourself.
    :param options: see :doc:`/server` (``pathname``, ``transformer``,
        ``parser``, ``ping_interval``, ``max_length``, ``compression``,
        ``authorization``, ``plugin``, ``global_name``, ``id_generator``,
        ``transport``, the CORS options and ``reactor``).
    :raises PrimusError: for unknown options, transformers or parsers.
    """

    log = Logger()

    #: The cluster plugin's state when it is added (see :doc:`/scaling`):
    #: broadcasts are then also published to the other nodes.
    _cluster: Any = None

    def __init__(self, site: Any = None, **options: Any) -> None:
        self.options = check_options(options)
        reactor = self.options.pop("reactor")
        if reactor is None:
            from twisted.internet import reactor
        #: The reactor every timer of this server and its transformer runs on.
        self.reactor: Any = reactor
        self.pathname: str = self.options["pathname"]
        self.max_length: int = self.options["max_length"]
        self.whitelist: list[str] = list(self.options["whitelist"])
        self.connections: dict[str, Spark] = {}
        self.auth: Optional[Callable[[PrimusRequest], Any]] = None
        self._incoming: list[Callable[..., Any]] = []
        self._outgoing: list[Callable[..., Any]] = []
        self._plugins: dict[str, Any] = {}
        self._ports: list[IListeningPort] = []
        self._delayed: list[IDelayedCall] = []
        self._destroyed: Optional[Deferred[None]] = None
        self._waiters: list[Deferred[None]] = []
        # Connections whose spark has ended but whose close handshake is
        # still under way: destroy() waits for them as for live sparks.
        self._closing: set[Any] = set()
        self._closed = False
        self._id_generator = self.options["id_generator"]
        self._library: Optional[str] = None
        #: The spark class of this server.  Plugins extend it (see
        #: :func:`primus_tx.plugins.extend_spark`) rather than the shared
        #: :class:`~primus_tx.Spark`, so that one server's plugins never
        #: change another server's sparks, and a server without plugins
        #: runs the plain class.
        self.Spark: type[Spark] = type("Spark", (Spark,), {"__module__": Spark.__module__})

        requested_transformer = self.options["transformer"]
        requested_parser = self.options["parser"]
        self.transformer: ITransformer = find_transformer(requested_transformer)
        self.parser: IParser = find_parser(requested_parser)
        check_pairing(self.transformer, self.parser)
        self._encode = self.parser.encode
        self._sparks = SparkContext(
            server=self,
            decode=self.parser.decode,
            encode=self._encode,
            incoming=self._incoming,
            outgoing=self._outgoing,
            reactor=reactor,
            log_error=self._log_error,
            make_id=self._make_id,
            ended=self._spark_ended,
            max_buffered=self.options["max_buffered"],
            slow_client=self.options["slow_client"],
            slow=self._slow,
        )
        self.spec: dict[str, Any] = {
            "pingInterval": milliseconds(self.options["ping_interval"])
            if self.options["ping_interval"]
            else False,
            "pathname": self.pathname,
            "version": PRIMUS_VERSION,
            "parser": requested_parser.lower()
            if isinstance(requested_parser, str)
            else getattr(self.parser, "name", "custom"),
            "transformer": requested_transformer.lower()
            if isinstance(requested_transformer, str)
            else getattr(self.transformer, "name", "custom"),
        }

        self._middleware = MiddlewareStack(self)
        for name, factory in DEFAULT_LAYERS:
            self._middleware.use(name, factory)
        if self.options["authorization"] is not None:
            self.authorize(self.options["authorization"])

        self._server: Optional[ITransformerServer] = self.transformer.server(self)
        self.resource: PrimusResource = PrimusResource(self, self._middleware, self._server)
        self._site: Optional[Site] = None
        #: The site Primus is attached to (or made by create_server), if any.
        self.site: Optional[Site] = site if isinstance(site, Site) else None
        self._site_root: Optional[SiteRoot] = None
        self._guard: Optional[SiteGuard] = None
        if site is not None:
            self._attach(site)

        # The heartbeat starts with the first connection, so a Primus made
        # only to build or save the client library schedules nothing.
        self._heartbeat: Optional[LoopingCall] = None

        plugins = self.options["plugin"]
        if plugins:
            self._add_configured_plugins(plugins)

        self._delayed.append(self.reactor.callLater(0, self._initialised))

    # -- what a transformer may use (ITransformerHost) --------------------------

    @property
    def transport_options(self) -> dict[str, Any]:
        """
        A copy of the ``transport`` option: the transformer's own settings.
        """
        return dict(self.options["transport"])

    @property
    def compression(self) -> bool:
        """
        Whether clients may compress their messages (``compression``).
        """
        return bool(self.options["compression"])

    def adopt_port(self, port: IListeningPort) -> None:
        """
        Stop listening on ``port`` when this server is destroyed with
        ``close=True``, as with the ports :func:`~primus_tx.create_server`
        opens.
        """
        self._ports.append(port)

    # -- attaching ------------------------------------------------------------

    def _attach(self, site: Any) -> None:
        if isinstance(site, Site):
            self._site = site
            self._site_root = SiteRoot(site.resource, self.pathname, self.resource)
            site.resource = self._site_root
            self._guard = SiteGuard.attach(site, self, self.options, self._server)
        elif IResource.providedBy(site):
            segments = self.pathname.strip("/").split("/")
            if len(segments) != 1:
                raise PrimusError(
                    f"Cannot mount pathname {self.pathname!r} under a resource automatically; "
                    "mount primus.resource yourself"
                )
            site.putChild(segments[0].encode("utf-8"), self.resource)
        else:
            raise PrimusError(
                "The first argument of Primus must be a twisted.web Site, a resource, or None"
            )

    def _detach(self) -> None:
        if self._site is not None and self._site_root is not None:
            root = self._site_root
            root.active = False
            if self._site.resource is root:
                self._site.resource = root.original
        guard, self._guard = self._guard, None
        if guard is not None:
            guard.detach(self)
        self._site = self._site_root = None

    # -- events ----------------------------------------------------------------

    def _initialised(self) -> None:
        self.emit("initialised", self.transformer, self.parser, self.options)

    def reserved(self, event: str) -> bool:
        """
        Whether ``event`` is used by Primus itself.
        """
        return (
            event in _RESERVED or event.startswith("incoming::") or event.startswith("outgoing::")
        )

    def _log_error(self, error: BaseException, spark: Optional[Spark] = None) -> None:
        """
        Report an error through the ``"log"`` event, or through
        twisted.logger when nobody listens to it.
        """
        if not self.listener_count("log"):
            self.log.warn(
                "{error_type}: {error} (spark {spark})",
                error_type=type(error).__name__,
                error=error,
                spark=getattr(spark, "id", None),
            )
            return
        try:
            self.emit("log", "error", error)
        except Exception:
            self.log.failure("'log' listener raised")

    # -- sparks ---------------------------------------------------------------

    def _make_id(self, transport_id: Optional[str]) -> str:
        if self._id_generator is not None:
            return str(self._id_generator())
        return transport_id or random_id()

    def connect_spark(self, connection: IConnection, **spark_options: Any) -> Optional[Spark]:
        """
        A transformer has a new connection: make its spark, register it and
        announce it with ``"connection"``.

        This is the one call a transformer makes into Primus.  The keyword
        arguments are the :class:`~primus_tx.Spark`'s: ``headers``,
        ``query``, ``peer`` (``(ip, port, secure)``), ``request``, ``socket``
        and ``id`` (the transport's own id, if it has one).

        :return: the spark, or ``None`` when Primus is shutting down (the
            connection has then been closed).
        """
        if self._closed:
            connection.close(True)
            return None
        spark = self.Spark(self._sparks, connection, **spark_options)
        self.connections[spark.id] = spark
        if self._heartbeat is None and self.options["ping_interval"]:
            self._heartbeat = LoopingCall(self._sweep)
            self._heartbeat.clock = self.reactor
            self._heartbeat.start(self.options["ping_interval"], now=False)
        try:
            pending = call_in_series(self._listeners("connection"), spark)
        except Exception as error:
            self._connection_failed(Failure(error), spark)
            return spark
        if pending is None:
            spark._announced()
        else:
            pending.addCallbacks(lambda _: spark._announced(), self._connection_failed,
                                 errbackArgs=(spark,))
        return spark

    _connect = connect_spark

    def _listeners(self, event: str) -> tuple[Callable[..., Any], ...]:
        events = self._events
        return events.get(event, ()) if events else ()

    def _connection_failed(self, failure: Failure, spark: Spark) -> None:
        spark._report(failure.value)  # type: ignore[arg-type]
        spark.end()

    def _spark_ended(self, spark: Spark) -> None:
        if self.connections.get(spark.id) is spark:
            del self.connections[spark.id]
        self._track_closing(spark._connection)
        try:
            self.emit("disconnection", spark)
        except Exception as error:
            self.log.failure("'disconnection' listener raised")
            self._log_error(error, spark)

    def _track_closing(self, connection: Any) -> None:
        """
        Remember a connection that is still closing after its spark ended
        (the server ended it and waits for the peer's answer), until it is
        gone.
        """
        when_closed = getattr(connection, "whenClosed", None)
        if when_closed is None:
            return
        closed = when_closed()
        if not closed.called:
            self._closing.add(connection)
            closed.addCallback(lambda _: self._closing.discard(connection))

    @property
    def connected(self) -> int:
        """
        How many sparks are connected.
        """
        return len(self.connections)

    def spark(self, id: str) -> Optional[Spark]:
        """
        The connected spark with this id, or ``None``.
        """
        return self.connections.get(id)

    def __iter__(self) -> Iterator[Spark]:
        return iter(list(self.connections.values()))

    def __len__(self) -> int:
        return len(self.connections)

    def __bool__(self) -> bool:
        # A server without connections is still a server: ``primus or x``
        # must not pick ``x``.
        return True

    def for_each(self, fn: Callable[[Spark], Any]) -> Deferred[None]:
        """
        Call ``fn(spark)`` for every connected spark, stopping when it
        returns ``False``.  When ``fn`` returns an awaitable it is waited for
        before the next call, and sparks that connect meanwhile are visited
        too.

        :return: a Deferred that fires when the iteration is over (at once
            when every call was synchronous).
        """
        seen: set[str] = set()
        return self._for_each(fn, seen)

    def _for_each(self, fn: Callable[[Spark], Any], seen: set[str]) -> Deferred[None]:
        while True:
            pending = [s for i, s in self.connections.items() if i not in seen]
            if not pending:
                return succeed(None)
            for spark in pending:
                seen.add(spark.id)
                if spark.ready_state != Spark.OPEN:
                    continue
                result = fn(spark)
                if result is False:
                    return succeed(None)
                if result is not None and is_awaitable(result):
                    return as_deferred(result).addCallback(self._for_each_next, fn, seen)

    def _for_each_next(self, result: Any, fn: Callable[[Spark], Any], seen: set[str]) -> Any:
        if result is False:
            return None
        return self._for_each(fn, seen)

    # -- broadcasting -----------------------------------------------------------

    def write(self, data: Any) -> Primus:
        """
        Send ``data`` to every connected spark.

        Without outgoing transforms the message is encoded and framed once
        for all sparks; with them each spark's transforms run as for
        ``spark.write``.
        """
        # With the cluster plugin the other nodes get the broadcast too.
        self._write_all(list(self.connections.values()), data, self._cluster)
        return self

    def write_to(self, sparks: Iterable[Spark], data: Any) -> int:
        """
        Send ``data`` to the open ones among ``sparks`` (a room, a group):
        encoded and framed once for all of them when there are no outgoing
        transforms, else written to each spark as ``spark.write`` would.

        :return: how many sparks it was written to.
        """
        return self._write_all([s for s in sparks if s.ready_state == Spark.OPEN], data)

    def _write_all(self, sparks: list[Spark], data: Any, cluster: Any = None) -> int:
        if self._outgoing:
            for spark in sparks:
                spark.write(data)
            if cluster is not None:
                cluster.publish_data(data)
            return len(sparks)
        try:
            message = self._encode(data)
        except Exception as error:
            from primus_tx._errors import ParserError

            self._log_error(ParserError(f"Failed to encode outgoing data: {error}"))
            return 0
        if not message:
            return 0
        if cluster is not None:
            # The other nodes get the message as encoded here (once).
            cluster.publish(message)
        server = self._server
        if server is None:
            return 0
        prepared = server.prepare(message)
        size = len(message)
        written = 0
        for spark in sparks:
            # A spark whose transport is behind may not take it (max_buffered).
            if spark._writing_paused and spark._over_cap(size):
                continue
            written += 1
            spark._connection.sendPrepared(prepared)
        return written

    def _slow(self, spark: Spark, buffered: int, policy: str) -> None:
        """
        ``spark`` hit the slow-client cap: log it and emit ``"slow client"``
        (``spark``, the bytes it had buffered, the policy applied).
        """
        self.log.warn(
            "slow client: spark {spark} has {buffered} bytes waiting (max_buffered "
            "{cap}); {action}",
            spark=spark.id,
            buffered=buffered,
            cap=self.options["max_buffered"],
            action="ending it (the client will reconnect)" if policy == "end" else "dropping writes",
        )
        try:
            self.emit("slow client", spark, buffered, policy)
        except Exception as error:
            self.log.failure("'slow client' listener raised")
            self._log_error(error, spark)

    # -- heartbeat --------------------------------------------------------------

    def _sweep(self) -> None:
        """
        One heartbeat tick for every spark: the ping is encoded and framed
        once, and a spark that did not answer the previous ping is ended.
        """
        seconds = self.reactor.seconds()
        now = int(seconds * 1000)
        server = self._server
        if server is None:  # pragma: no cover - the heartbeat stops first
            return
        sparks = self._sparks
        sparks.ping = server.prepare(self._encode(f"primus::ping::{now}"))
        sparks.ping_token = str(now)
        sparks.ping_sent = seconds
        for spark in list(self.connections.values()):
            try:
                spark.heartbeat()
            except Exception as error:
                self.log.failure("heartbeat of spark {spark} failed", spark=spark.id)
                self._log_error(error, spark)

    # -- transforms -------------------------------------------------------------

    def transform(self, type: str, fn: Callable[..., Any]) -> Primus:
        """
        Add a message transform: ``"incoming"`` runs on decoded messages
        before ``"data"``, ``"outgoing"`` on written data before encoding.
        ``fn(packet)`` may rewrite ``packet.data``, return ``False`` to drop
        the message, or return an awaitable.
        """
        if type not in ("incoming", "outgoing"):
            raise PrimusError(f"Invalid transformer type {type!r}: use 'incoming' or 'outgoing'")
        if not callable(fn):
            raise PrimusError("A transform must be a function of the packet")
        transforms = self._incoming if type == "incoming" else self._outgoing
        if fn not in transforms:
            transforms.append(fn)
        return self

    # -- middleware -------------------------------------------------------------

    def use(
        self,
        name: Any,
        fn: Optional[Callable[..., Any]] = None,
        options: Optional[dict[str, Any]] = None,
        index: Optional[int] = None,
    ) -> Primus:
        """
        Add (or replace, by name) a middleware layer: ``layer(request)``, or
        a factory ``factory(primus, options)`` returning one.  ``index``
        inserts it at that position instead of at the end.
        """
        self._middleware.use(name, fn, options, index)
        return self

    def remove(self, name: str) -> Primus:
        """
        Remove the middleware layer called ``name``.
        """
        self._middleware.remove(name)
        return self

    def disable(self, name: str) -> Primus:
        """
        Skip the middleware layer called ``name`` until it is enabled again.
        """
        self._middleware.disable(name)
        return self

    def enable(self, name: str) -> Primus:
        """
        Run the middleware layer called ``name`` again.
        """
        self._middleware.enable(name)
        return self

    def index_of_layer(self, name: str) -> int:
        """
        The position of the layer called ``name``, or -1.
        """
        return self._middleware.index_of(name)

    @property
    def layers(self) -> list[Any]:
        """
        The middleware layers, in order.
        """
        return self._middleware.layers

    def authorize(self, fn: Callable[[PrimusRequest], Any]) -> Primus:
        """
        Authorize every request and upgrade with ``fn(request)``, which may
        return an awaitable; raising refuses the request (see
        :class:`~primus_tx.AuthorizationError`).
        """
        if not callable(fn):
            raise PrimusError("Authorize only accepts functions")
        self.auth = fn
        return self

    # -- plugins ----------------------------------------------------------------

    def plugin(self, name: Any = None, plugin: Any = None) -> Any:
        """
        Add a plugin (``plugin(name, plugin)`` or ``plugin(plugin)`` with a
        ``name`` attribute), get one (``plugin(name)``) or all of them
        (``plugin()``).  Adding emits ``"plugin"`` and then calls the
        plugin's ``server(primus, options)``.

        ``plugin(name)`` for a plugin that is not added yet but is a
        built-in or published one (``primus.plugin("rooms")``) adds it and
        returns it, so that asking for a plugin is enough to have it;
        other unknown names give ``None``, as with Primus.  ``plugin`` may
        also be given as a name (``plugin("chat", "emitter")``).
        """
        if name is None and plugin is None:
            return dict(self._plugins)
        if plugin is None and isinstance(name, str):
            if name in self._plugins:
                return self._plugins[name]
            found = find_plugin(name)
            if found is None:
                return None
            self.plugin(name, found)
            return self._plugins[name]
        if isinstance(plugin, str) and ":" not in plugin:
            found = find_plugin(plugin)
            if found is None:
                raise PrimusError(f"Unknown plugin {plugin!r}")
            plugin = found
        if plugin is None:
            plugin, name = name, getattr(name, "name", None)
        if not isinstance(name, str) or not name:
            raise PrimusError("Plugin name must be a non empty string")
        plugin = checked_plugin(name, plugin)
        if name in self._plugins:
            raise PrimusError(f"Plugin name already defined: {name!r}")
        self._plugins[name] = plugin
        self._library = None
        self.emit("plugin", name, plugin)
        server = getattr(plugin, "server", None)
        if callable(server):
            server(self, self.options)
        return self

    def plugout(self, name: str) -> bool:
        """
        Remove a plugin (its server-side effects stay).
        """
        if name not in self._plugins:
            return False
        plugin = self._plugins[name]
        self.emit("plugout", name, plugin)
        del self._plugins[name]
        self._library = None
        return True

    def _add_configured_plugins(self, plugins: Any) -> None:
        for name, plugin in configured_plugins(plugins):
            self.plugin(name, plugin)

    # -- clients ----------------------------------------------------------------

    def library(self) -> str:
        """
        The browser client library for this server (pathname, transformer,
        parser, plugins, ping timeout and ``global_name`` compiled in).
        """
        if self._library is None:
            from primus_tx.library import build_library

            self._library = build_library(self)
        return self._library

    def save(self, path: str) -> None:
        """
        Write :meth:`library` to ``path`` (to serve it from a CDN).
        """
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.library())

    @property
    def Socket(self) -> type:
        """
        A Python client class configured like this server.
        """
        from primus_tx.client import create_socket

        return create_socket(
            transformer=self.transformer,
            parser=self.parser,
            pathname=self.pathname,
            plugin=dict(self._plugins),
            authorization=self.auth is not None,
            ping_timeout=client_ping_timeout(self.options["ping_interval"]),
        )

    @staticmethod
    def create_socket(**options: Any) -> type:
        """
        A Python client class for a server with these ``transformer``,
        ``parser``, ``plugin`` and ``pathname`` options.
        """
        from primus_tx.client import create_socket

        return create_socket(**options)

    # -- shutting down ----------------------------------------------------------

    def destroy(self, close: bool = True, reconnect: bool = False, timeout: float = 0) -> Deferred[None]:
        """
        Shut this server down: stop the heartbeat, end every spark (asking
        clients to reconnect when ``reconnect``), detach from the site,
        stop listening on the ports Primus opened itself (``close``), and
        emit ``"close"`` (whose listeners may return awaitables).

        :param timeout: seconds to wait before shutting down.
        :return: a Deferred that fires when it is done — after the
            connections have closed, those of sparks ended earlier whose
            close handshake is still under way included (or
            :data:`CLOSE_GRACE` seconds); calling ``destroy`` again returns
            a Deferred that fires at the same time.
        """
        waiter: Deferred[None] = Deferred()
        if self._destroyed is not None:
            self._waiters.append(waiter)
            if self._destroyed.called:
                self._release_waiters()
            return waiter
        self._waiters.append(waiter)
        self._destroyed = Deferred()
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        self._heartbeat = None
        options = {"close": close or reconnect, "reconnect": reconnect, "timeout": timeout}
        if timeout:
            self._delayed.append(self.reactor.callLater(timeout, self._shut_down, options))
        else:
            self._shut_down(options)
        return waiter

    def _shut_down(self, options: dict[str, Any]) -> None:
        self._closed = True
        # Wait (a little) for the connections to finish closing, so that a
        # process exiting after destroy() does not cut the close messages.
        stopping: list[Deferred[Any]] = []
        for spark in list(self.connections.values()):
            try:
                spark.end(reconnect=options["reconnect"])
            except Exception:
                self.log.failure("ending spark {spark} failed", spark=spark.id)
        for connection in list(self._closing):
            stopping.append(
                connection.whenClosed()
                .addTimeout(CLOSE_GRACE, self.reactor)
                .addErrback(lambda _: None)
            )
        self._detach()
        if options["close"]:
            for port in self._ports:
                stopping.append(as_deferred(port.stopListening()) if port else succeed(None))
            self._ports = []
        from twisted.internet.defer import gatherResults

        d = gatherResults(stopping, consumeErrors=True) if stopping else succeed(None)
        d.addCallback(lambda _: call_in_series(self._listeners("close"), options))
        d.addCallback(self._finished_shut_down)
        d.addErrback(self._shut_down_failed)

    def _finished_shut_down(self, _: Any) -> None:
        for call in self._delayed:
            if call.active():
                call.cancel()
        self._delayed = []
        self.resource.close()
        if self._server is not None:
            self._server.close()
        self._server = None
        self.remove_all_listeners()
        self.connections = {}
        self._closing = set()
        self._plugins = {}
        destroyed = self._destroyed
        if destroyed is not None and not destroyed.called:
            destroyed.callback(None)
        self._release_waiters()

    def _release_waiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def _shut_down_failed(self, failure: Failure) -> None:
        self.log.failure("shutting Primus down failed", failure)
        self._finished_shut_down(None)

    end = destroy

