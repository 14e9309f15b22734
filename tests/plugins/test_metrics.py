"""
The metrics plugin: exact counts on fakes, forged pongs and undecodable
messages, authorization refusals, and a real scrape over HTTP parsed with
``prometheus_client``'s own text-format parser.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted
import treq
from fakes import connect, make_primus
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.defer import Deferred
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import AuthorizationError, Primus, PrimusError
from primus_tx.plugins.metrics import MetricsPlugin, MetricsResource

pytestmark = pytest.mark.timeout(30)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.exposition import generate_latest

    text = generate_latest(registry).decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    labels.setdefault("transformer", "fake")
    return samples(registry)[(name, tuple(sorted(labels.items())))]


def metered(**options: Any) -> tuple[Primus, Any, CollectorRegistry]:
    from fakes import FakeTransformer

    registry = CollectorRegistry()
    primus, clock = make_primus(
        transformer=FakeTransformer(),
        plugin={"metrics": MetricsPlugin(registry=registry)},
        **options,
    )
    return primus, clock, registry


def test_messages_and_bytes_both_ways() -> None:
    primus, _, registry = metered(ping_interval=0)
    spark, conn = connect(primus)
    other, _ = connect(primus)
    conn.receive({"a": "é"})  # 10 bytes of JSON (é is two)
    conn.receive_raw("not json")  # counted, and a decode error
    spark.write("hi")  # "hi" in quotes: 4 bytes
    primus.write([1, 2])  # encoded once, sent twice: 5 bytes each
    assert value(registry, "primus_messages_received_total") == 2
    assert value(registry, "primus_received_bytes_total") == len('{"a":"é"}'.encode()) + 8
    assert value(registry, "primus_decode_errors_total") == 1
    assert value(registry, "primus_messages_sent_total") == 3
    assert value(registry, "primus_sent_bytes_total") == 4 + 5 + 5
    assert value(registry, "primus_connections_open") == 2
    assert value(registry, "primus_connections_total") == 2
    other.end()  # its close message counts too
    assert value(registry, "primus_connections_open") == 1
    assert value(registry, "primus_connections_total") == 2
    assert value(registry, "primus_messages_sent_total") == 4


def test_heartbeat_round_trips_and_forged_pongs() -> None:
    primus, clock, registry = metered(ping_interval=10)
    _spark, conn = connect(primus)
    clock.advance(10)  # ping
    clock.advance(0.03)
    conn.pong()
    conn.pong(-5)  # forged: a negative time
    conn.receive_raw('"primus::pong::abc"')  # forged: not a number
    conn.pong(int(clock.seconds() * 1000) + 10**9)  # forged: the future
    found = samples(registry)
    key = (("le", "0.05"), ("transformer", "fake"))
    assert found[("primus_heartbeat_rtt_seconds_bucket", key)] == 1
    assert found[("primus_heartbeat_rtt_seconds_bucket", (("le", "0.025"), ("transformer", "fake")))] == 0
    assert found[("primus_heartbeat_rtt_seconds_count", (("transformer", "fake"),))] == 1
    assert found[("primus_heartbeat_rtt_seconds_sum", (("transformer", "fake"),))] == pytest.approx(0.03)
    assert conn.closed is False


def test_buffer_full_events() -> None:
    primus, _, registry = metered(ping_interval=0)
    _spark, conn = connect(primus)
    conn.pause_writing()
    conn.pause_writing()  # still full: one event
    conn.resume_writing()
    conn.pause_writing()
    assert value(registry, "primus_write_buffer_full_total") == 2


def test_slow_clients() -> None:
    primus, _, registry = metered(ping_interval=0, max_buffered=65536, slow_client="drop")
    spark, conn = connect(primus)
    conn.buffered = 65530
    conn.pause_writing()
    spark.write("x" * 10)  # past the cap: dropped, one episode
    spark.write("y" * 10)
    assert value(registry, "primus_slow_clients_total") == 1
    assert spark.dropped == 2


def test_authorization_refusals() -> None:
    from fakes import make_request

    def refuse(request: Any) -> None:
        if b"no" in request.uri:
            raise AuthorizationError("no", status=403)

    primus, _, registry = metered(ping_interval=0, authorization=refuse)
    for uri in (b"/primus/?no", b"/primus/?yes", b"/primus/?no"):
        request = make_request(uri)
        primus.resource.render(request)
    assert value(registry, "primus_authorization_refusals_total") == 2


def test_counts_survive_destroy_and_servers_sum_per_transformer() -> None:
    registry = CollectorRegistry()
    first, _ = make_primus(ping_interval=0, plugin={"metrics": MetricsPlugin(registry=registry)})
    second, _ = make_primus(ping_interval=0, plugin={"metrics": MetricsPlugin(registry=registry)})
    connect(first)
    connect(second)
    assert value(registry, "primus_connections_total", transformer="websockets") == 2
    first.destroy()
    assert value(registry, "primus_connections_total", transformer="websockets") == 2
    assert value(registry, "primus_connections_open", transformer="websockets") == 1


def test_a_server_without_the_plugin_has_plain_sparks() -> None:
    primus, _ = make_primus(ping_interval=0)
    spark, conn = connect(primus)
    assert spark._connection is conn


@pytest.mark.parametrize("path", ["metrics", "", 3])
def test_bad_paths(path: Any) -> None:
    with pytest.raises(PrimusError):
        MetricsPlugin(path=path)


def test_a_nested_path_outside_primus_needs_mounting_by_hand() -> None:
    with pytest.raises(PrimusError, match="mount MetricsResource yourself"):
        Primus(Site(Resource()), plugin={"metrics": MetricsPlugin("/a/b", CollectorRegistry())})


# -- a real scrape ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, transformer",
    [
        ("/metrics", "websockets"),
        ("/primus/metrics", "websockets"),
        ("/metrics", "engine.io"),
        ("/metrics", "sockjs"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_scrape_over_http(reactor: Any, path: str, transformer: str) -> None:
    registry = CollectorRegistry()
    site = Site(Resource())
    primus = Primus(
        site,
        reactor=reactor,
        ping_interval=0,
        transformer=transformer,
        plugin={"metrics": MetricsPlugin(path=path, registry=registry)},
    )
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    url = f"http://127.0.0.1:{port.getHost().port}"
    socket: Any = None
    try:
        echoed: Deferred[Any] = Deferred()
        primus.on("connection", lambda spark: spark.on("data", spark.write))
        socket = await primus.Socket.connect(url, reactor=reactor)
        socket.once("data", echoed.callback)
        socket.write({"hello": "metrics"})
        assert await echoed.addTimeout(5, reactor) == {"hello": "metrics"}

        response = await treq.get(url + path, reactor=reactor)
        assert response.code == 200
        assert response.headers.getRawHeaders(b"content-type")[0].startswith(b"text/plain")
        text = (await response.content()).decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["primus_connections_open"].type == "gauge"
        assert families["primus_connections"].type == "counter"
        assert families["primus_heartbeat_rtt_seconds"].type == "histogram"
        labelled = {
            (s.name, json.dumps(s.labels, sort_keys=True)): s.value
            for f in families.values()
            for s in f.samples
        }
        ws = json.dumps({"transformer": transformer})
        assert labelled[("primus_connections_open", ws)] == 1
        assert labelled[("primus_messages_received_total", ws)] == 1
        assert labelled[("primus_received_bytes_total", ws)] == len('{"hello":"metrics"}')
        assert labelled[("primus_messages_sent_total", ws)] == 1
        # Upgrades and other methods are not the metrics' business.
        post = await treq.post(url + path, b"", reactor=reactor)
        await post.content()
        assert post.code == (405 if path == "/metrics" else 426)
    finally:
        if socket is not None:
            await socket.end()
        await primus.destroy()
        await port.stopListening()


def test_metrics_resource_serves_a_registry() -> None:
    from fakes import header, make_request

    _, _, registry = metered(ping_interval=0)
    request = make_request(b"/metrics")
    text = MetricsResource(registry).render_GET(request).decode()
    assert "primus_connections_open" in text
    assert header(request, b"content-type").startswith(b"text/plain; version=")  # type: ignore[union-attr]


# -- twistd primus --metrics ----------------------------------------------------------


@pytest.mark.parametrize(
    "path, message",
    [("metrics", "must start with '/'"), ("/a/b", "one-segment path")],
)
def test_twistd_metrics_option_is_checked(path: str, message: str) -> None:
    from test_tap import parse
    from twisted.python import usage

    with pytest.raises(usage.UsageError, match=message):
        parse("--metrics", path)


@pytest.mark.parametrize("path", ["/metrics", "/primus/metrics"])
@pytest_twisted.ensureDeferred
async def test_twistd_serves_metrics(path: str) -> None:
    from test_tap import _fetch, _started, parse

    primus_service, primus = await _started(parse("--metrics", path))
    try:
        assert "metrics" in primus.plugin()
        code, body = await _fetch(primus_service.site.resource, path)
        assert code == 200
        names = {f.name for f in text_string_to_metric_families(body.decode())}
        assert {"primus_connections_open", "primus_heartbeat_rtt_seconds"} <= names
    finally:
        await primus_service.stopService()
