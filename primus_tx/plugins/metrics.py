# -*- test-case-name: tests.plugins.test_metrics -*-
"""
The ``metrics`` plugin: Prometheus metrics of a Primus server, through
``prometheus_client`` (the ``metrics`` extra: ``pip install
primus-tx[metrics]``)::

    primus = Primus(site, plugin={"metrics": MetricsPlugin(path="/metrics")})

or ``twistd primus --metrics /metrics``.  Every metric has a
``transformer`` label:

=========================================  =========  ======================================
``primus_connections_open``                gauge      sparks connected now
``primus_connections_total``               counter    sparks ever connected
``primus_messages_received_total``         counter    messages from clients (pongs included)
``primus_messages_sent_total``             counter    messages to clients (pings included)
``primus_received_bytes_total``            counter    their encoded size in bytes
``primus_sent_bytes_total``                counter    their encoded size in bytes
``primus_decode_errors_total``             counter    messages the parser could not decode
``primus_heartbeat_rtt_seconds``           histogram  ping to pong round trips
``primus_write_buffer_full_total``         counter    sends that filled a connection's buffer
``primus_authorization_refusals_total``    counter    requests ``authorize()`` refused
``primus_slow_clients_total``              counter    sparks that hit the ``max_buffered`` cap
=========================================  =========  ======================================

Why it costs nothing when off and little when on: without the plugin no
code of it runs at all.  With it, each message costs an integer addition
or two on a plain object: ``prometheus_client``'s own counters take a lock
per increment, so the counts are kept in plain integers (the reactor
thread is the only writer) and read by a custom collector when Prometheus
scrapes.  The open connections are not counted at all: the collector reads
``len(primus.connections)``.
"""

from __future__ import annotations

import bisect
import weakref
from typing import Any, Iterator, Optional, Union

from twisted.python.failure import Failure
from twisted.web.resource import Resource
from zope.interface import implementer

from primus_tx._errors import ParserError, PrimusError
from primus_tx.interfaces import IPrimusPlugin
from primus_tx.plugins import PluginBase, extend_spark, reactor_of

__all__ = [
    "BUCKETS",
    "Counts",
    "MetricsPlugin",
    "MetricsResource",
    "MetricsSpark",
    "PrimusCollector",
    "collector_for",
]

#: Upper bounds (seconds) of the heartbeat round trip histogram's buckets.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_PING = "primus::ping::"
_PING_LENGTH = len(_PING)
_PONG = "primus::pong::"
_PONG_LENGTH = len(_PONG)


def _prometheus() -> Any:
    try:
        import prometheus_client
        import prometheus_client.core
        import prometheus_client.exposition
    except ImportError:
        raise PrimusError(
            "The metrics plugin needs prometheus_client: pip install 'primus-tx[metrics]'"
        ) from None
    return prometheus_client


def _size(message: Union[str, bytes]) -> int:
    """
    The encoded size of a message without encoding it when it is ASCII
    (``isascii`` only scans).
    """
    if type(message) is str and not message.isascii():
        return len(message.encode("utf-8", "surrogatepass"))
    return len(message)


class Counts:
    """
    One server's counts: plain integers, bumped on the reactor thread.
    """

    __slots__ = (
        "__weakref__",
        "authorization_refusals",
        "buffer_full",
        "bytes_in",
        "bytes_out",
        "connections",
        "decode_errors",
        "messages_in",
        "messages_out",
        "primus",
        "rtt_buckets",
        "rtt_count",
        "rtt_sum",
        "slow_clients",
        "transformer",
    )

    def __init__(self, primus: Any) -> None:
        self.primus = weakref.ref(primus)
        self.transformer = str(primus.spec.get("transformer", "custom"))
        self.connections = 0
        self.messages_in = 0
        self.messages_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.decode_errors = 0
        self.buffer_full = 0
        self.authorization_refusals = 0
        self.slow_clients = 0
        self.rtt_buckets = [0] * (len(BUCKETS) + 1)
        self.rtt_sum = 0.0
        self.rtt_count = 0

    @property
    def open(self) -> int:
        """
        Sparks connected now (0 once the server is gone or destroyed).
        """
        primus = self.primus()
        return len(primus.connections) if primus is not None else 0

    def observe_rtt(self, seconds: float) -> None:
        self.rtt_buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.rtt_sum += seconds
        self.rtt_count += 1


class PrimusCollector:
    """
    A ``prometheus_client`` collector of every :class:`Counts` given to it,
    summed per transformer.  A server's counts stay after it is destroyed,
    so the counters never go backwards.
    """

    def __init__(self) -> None:
        self.counts: list[Counts] = []

    def add(self, counts: Counts) -> None:
        self.counts.append(counts)

    def describe(self) -> list[Any]:
        # No samples at registration: the collector is described by what it
        # yields, and registering it does not scrape.
        return []

    def collect(self) -> Iterator[Any]:
        core = _prometheus().core
        by_transformer: dict[str, list[Counts]] = {}
        for counts in self.counts:
            by_transformer.setdefault(counts.transformer, []).append(counts)

        def family(kind: Any, name: str, documentation: str, attribute: str) -> Any:
            metric = kind(name, documentation, labels=["transformer"])
            for transformer, group in sorted(by_transformer.items()):
                metric.add_metric([transformer], sum(getattr(c, attribute) for c in group))
            return metric

        yield family(core.GaugeMetricFamily, "primus_connections_open", "Sparks connected now.", "open")
        counters = (
            ("primus_connections", "Sparks ever connected.", "connections"),
            ("primus_messages_received", "Messages received from clients.", "messages_in"),
            ("primus_messages_sent", "Messages sent to clients.", "messages_out"),
            ("primus_received_bytes", "Encoded bytes received from clients.", "bytes_in"),
            ("primus_sent_bytes", "Encoded bytes sent to clients.", "bytes_out"),
            ("primus_decode_errors", "Messages the parser could not decode.", "decode_errors"),
            (
                "primus_write_buffer_full",
                "Sends that took a connection's buffer past its high-water mark.",
                "buffer_full",
            ),
            (
                "primus_authorization_refusals",
                "Requests and upgrades the authorization function refused.",
                "authorization_refusals",
            ),
            (
                "primus_slow_clients",
                "Times a spark's send buffer reached max_buffered (the slow-client cap).",
                "slow_clients",
            ),
        )
        for name, documentation, attribute in counters:
            yield family(core.CounterMetricFamily, name, documentation, attribute)

        rtt = core.HistogramMetricFamily(
            "primus_heartbeat_rtt_seconds",
            "Heartbeat round trips: from the server's ping to the client's pong.",
            labels=["transformer"],
        )
        for transformer, group in sorted(by_transformer.items()):
            cumulative = 0
            buckets = []
            for index, bound in enumerate((*BUCKETS, float("inf"))):
                cumulative += sum(c.rtt_buckets[index] for c in group)
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            rtt.add_metric([transformer], buckets, sum(c.rtt_sum for c in group))
        yield rtt


_collectors: dict[int, tuple[Any, PrimusCollector]] = {}


def collector_for(registry: Any = None) -> PrimusCollector:
    """
    The one collector registered on ``registry`` (``prometheus_client``'s
    default registry when ``None``), registering it the first time.
    """
    if registry is None:
        registry = _prometheus().REGISTRY
    known = _collectors.get(id(registry))
    if known is not None and known[0] is registry:
        return known[1]
    collector = PrimusCollector()
    registry.register(collector)
    _collectors[id(registry)] = (registry, collector)
    return collector


class MetricsResource(Resource):
    """
    The Prometheus text exposition of ``registry``, for ``GET``.
    """

    isLeaf = True

    def __init__(self, registry: Any = None) -> None:
        super().__init__()
        self.registry = registry if registry is not None else _prometheus().REGISTRY

    def render(self, request: Any) -> bytes:
        if request.method in (b"GET", b"HEAD"):
            return self.render_GET(request)
        request.setResponseCode(405)
        request.setHeader(b"allow", b"GET, HEAD")
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"Method Not Allowed"

    def render_GET(self, request: Any) -> bytes:
        exposition = _prometheus().exposition
        request.setHeader(b"content-type", exposition.CONTENT_TYPE_LATEST.encode("ascii"))
        request.setHeader(b"cache-control", b"no-store")
        body: bytes = exposition.generate_latest(self.registry)
        return body


class _CountingConnection:
    """
    A spark's connection, counting what is sent through it.  Everything
    else is the connection's own.
    """

    __slots__ = ("_connection", "_counts", "_prepared")

    def __init__(self, connection: Any, counts: Counts, prepared: Any) -> None:
        self._connection = connection
        self._counts = counts
        self._prepared = prepared

    def send(self, message: Union[str, bytes]) -> None:
        counts = self._counts
        counts.messages_out += 1
        # _size, inlined: this runs for every message.
        if type(message) is str and not message.isascii():
            counts.bytes_out += len(message.encode("utf-8", "surrogatepass"))
        else:
            counts.bytes_out += len(message)
        self._connection.send(message)

    def sendPrepared(self, prepared: object) -> None:
        counts = self._counts
        counts.messages_out += 1
        last = self._prepared
        if last[0] is prepared:
            counts.bytes_out += last[1]
        self._connection.sendPrepared(prepared)

    def bufferedAmount(self) -> int:
        # Asked on every write while the connection is behind (the
        # slow-client cap): not through __getattr__'s slow path.
        amount: int = self._connection.bufferedAmount()
        return amount

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


class MetricsSpark:
    """
    What the plugin mixes into ``primus.Spark``: the per-message counting.
    """

    _metrics: Counts
    _metrics_prepared: list[Any]
    #: The latest heartbeat ping's timestamp text and reactor time.
    _metrics_ping: list[Any]
    _metrics_receive: Any

    def __init__(self, owner: Any, connection: Any, *args: Any, **kwargs: Any) -> None:
        # ``owner``: what the spark class takes first (its server).
        counts = self._metrics
        counts.connections += 1
        super().__init__(  # type: ignore[call-arg]
            owner, _CountingConnection(connection, counts, self._metrics_prepared), *args, **kwargs
        )

    def messageReceived(self, message: Union[str, bytes]) -> None:
        counts = self._metrics
        counts.messages_in += 1
        # _size, inlined: this runs for every message.
        if type(message) is str and not message.isascii():
            counts.bytes_in += len(message.encode("utf-8", "surrogatepass"))
        else:
            counts.bytes_in += len(message)
        # The next class's method, found once when the plugin was added
        # (``super()`` costs a lookup per message).
        self._metrics_receive(message)

    def _protocol(self, message: str) -> bool:
        # A decoded ``primus::`` message.
        if message.startswith(_PONG):
            self._metrics_pong(message)
        return super()._protocol(message)  # type: ignore[misc]

    def _metrics_pong(self, message: str) -> None:
        ping = self._metrics_ping
        # Only the answer to the latest ping counts: an older or invented
        # pong stays out of the histogram.
        if ping[0] is not None and message[_PONG_LENGTH:] == ping[0]:
            spark: Any = self
            self._metrics.observe_rtt(max(reactor_of(spark.primus).seconds() - ping[1], 0.0))

    def _report(self, error: Exception) -> None:
        if isinstance(error, ParserError) and str(error).startswith("Failed to decode"):
            self._metrics.decode_errors += 1
        super()._report(error)  # type: ignore[misc]

    def pauseWriting(self) -> None:
        if not getattr(self, "_writing_paused", False):
            self._metrics.buffer_full += 1
        super().pauseWriting()  # type: ignore[misc]


def _counting_refusals(original: Any, counts: Counts) -> Any:
    def refused(failure: Failure) -> Failure:
        counts.authorization_refusals += 1
        return failure

    def authorization_layer(request: Any) -> Any:
        try:
            result = original(request)
        except Exception:
            counts.authorization_refusals += 1
            raise
        if result is not None and hasattr(result, "addErrback"):
            result.addErrback(refused)
        return result

    return authorization_layer


def _count_refusals(primus: Any, counts: Counts) -> None:
    """
    Wrap the ``authorization`` layer so its refusals are counted.
    """
    for layer in primus.layers:
        if layer.name == "authorization":
            layer.fn = _counting_refusals(layer.fn, counts)


def _mount(primus: Any, path: str, registry: Any) -> None:
    resource = MetricsResource(registry)
    prefix = primus.pathname.rstrip("/") + "/"
    if path.startswith(prefix):
        target = path.encode("utf-8")

        def metrics_layer(request: Any) -> Optional[bool]:
            if request.path != target or request.method not in (b"GET", b"HEAD"):
                return None
            body = resource.render_GET(request)
            request.write(body)
            request.finish()
            return True

        metrics_layer.upgrade = False  # type: ignore[attr-defined]
        primus.use("metrics", metrics_layer, index=0)
        return
    segments = path.strip("/").split("/")
    site = getattr(primus, "site", None)
    if len(segments) != 1 or not segments[0] or site is None:
        raise PrimusError(
            f"Cannot serve metrics at {path!r} by itself: use a path under {prefix!r}, a "
            "one-segment path on a Primus attached to a Site, or mount MetricsResource yourself"
        )
    site.resource.putChild(segments[0].encode("utf-8"), resource)


@implementer(IPrimusPlugin)
class MetricsPlugin(PluginBase):
    """
    The metrics plugin (found by name as ``"metrics"``).

    :param path: where to serve the metrics: a path under the Primus
        pathname (``/primus/metrics``, answered by a middleware layer), or a
        one-segment path (``/metrics``) of the site Primus is attached to.
        ``None`` serves nothing: mount :class:`MetricsResource` yourself,
        or serve the registry with ``prometheus_client``.
    :param registry: the ``prometheus_client`` registry to report to
        (its default registry when ``None``).
    """

    name = "metrics"
    #: Server only.
    client: Any = None

    def __init__(self, path: Optional[str] = None, registry: Any = None) -> None:
        _prometheus()
        if path is not None and (not isinstance(path, str) or not path.startswith("/")):
            raise PrimusError(f"The metrics path must start with '/', not {path!r}")
        self.path = path
        self.registry = registry

    def server(self, primus: Any, options: Any = None) -> None:
        """
        Count this server's traffic and report it to the registry.
        """
        counts = Counts(primus)
        collector_for(self.registry).add(counts)
        primus.metrics = counts
        cls = extend_spark(primus, MetricsSpark)
        cls._metrics = counts
        cls._metrics_receive = cls.__mro__[cls.__mro__.index(MetricsSpark) + 1].messageReceived
        # The message a broadcast prepared last, with its size: what a
        # spark's sendPrepared counts.
        prepared: list[Any] = [None, 0]
        cls._metrics_prepared = prepared
        ping: list[Any] = [None, 0.0, False]
        cls._metrics_ping = ping
        server = primus._server
        original_prepare = server.prepare

        def prepare(message: Union[str, bytes]) -> Any:
            result = original_prepare(message)
            prepared[0] = result
            prepared[1] = _size(message)
            if ping[2]:  # the heartbeat's ping: remember its timestamp
                ping[2] = False
                text = primus.parser.decode(message)
                if isinstance(text, str) and text.startswith(_PING):
                    ping[0] = text[_PING_LENGTH:]
                    ping[1] = reactor_of(primus).seconds()
            return result

        server.prepare = prepare
        original_sweep = primus._sweep

        def sweep() -> None:
            ping[2] = True
            try:
                original_sweep()
            finally:
                ping[2] = False

        # Read when the heartbeat starts (with the first connection).
        primus._sweep = sweep
        _count_refusals(primus, counts)

        def slow(*_: Any) -> None:
            counts.slow_clients += 1

        primus.on("slow client", slow)
        if self.path is not None:
            _mount(primus, self.path, self.registry)


_default: list[MetricsPlugin] = []


def __getattr__(name: str) -> Any:
    # ``plugin``, the plugin as found by name (``plugin="metrics"``: the
    # default registry, nothing served), is made on first use, so that
    # importing this module does not need prometheus_client.
    if name == "plugin":
        if not _default:
            _default.append(MetricsPlugin())
        return _default[0]
    raise AttributeError(name)
