"""
The Primus server's public API on fakes: options, the spec document,
reserved events, plugins, message transforms, broadcast, ``for_each`` and
``destroy``.  No reactor: time is a Clock, connections are FakeConnections.
"""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import Packet, ParserError, Primus, PrimusError
from primus_tx.server import PRIMUS_VERSION
from primus_tx.spark import Spark
from tests.fakes import (
    CountingParser,
    FakeTransformer,
    body,
    connect,
    make_primus,
    make_request,
)

_sync = SynchronousTestCase()


def _error(**options: Any) -> str:
    with pytest.raises(PrimusError) as info:
        make_primus(**options)
    return str(info.value)


# -- options -----------------------------------------------------------------


def test_defaults() -> None:
    primus, _ = make_primus()
    assert primus.pathname == "/primus"
    assert primus.options["ping_interval"] == 30.0
    assert primus.options["max_length"] == 10485760
    assert primus.max_length == 10485760
    assert primus.options["compression"] is False
    assert primus.options["global_name"] == "Primus"
    assert primus.options["transport"] == {}
    assert primus.options["credentials"] is True
    assert primus.options["origins"] == "*"
    assert primus.transformer.name == "websockets"
    assert primus.parser.name == "json"
    assert primus.connected == 0
    assert list(primus) == []
    assert primus.whitelist == []


def test_unknown_option_names_it_and_lists_known_ones() -> None:
    message = _error(ping_intervall=3)
    assert "ping_intervall" in message
    assert "ping_interval" in message.split("Known", 1)[1]


def test_removed_timeout_option() -> None:
    message = _error(timeout=35)
    assert "`timeout` option has been removed" in message


@pytest.mark.parametrize("value", ["30", -1, True, [1]])
def test_bad_ping_interval(value: Any) -> None:
    assert "ping_interval" in _error(ping_interval=value)


@pytest.mark.parametrize("value", [-1, "10", 1.5, True])
def test_bad_max_length(value: Any) -> None:
    assert "max_length" in _error(max_length=value)


def test_max_length_zero_means_default() -> None:
    primus, _ = make_primus(max_length=0)
    assert primus.max_length == 10485760
    primus, _ = make_primus(max_length=5)
    assert primus.max_length == 5


@pytest.mark.parametrize("value", ["", "/", "//", 5, None])
def test_bad_pathname(value: Any) -> None:
    assert "pathname" in _error(pathname=value)


@pytest.mark.parametrize(
    ("given", "expected"), [("foo", "/foo"), ("/foo/", "/foo"), ("/a/b", "/a/b")]
)
def test_pathname_gets_a_leading_slash(given: str, expected: str) -> None:
    primus, _ = make_primus(pathname=given)
    assert primus.pathname == expected
    assert primus.spec["pathname"] == expected


@pytest.mark.parametrize("value", ["my client", "1abc", "", 3])
def test_bad_global_name(value: Any) -> None:
    assert "global_name" in _error(global_name=value)


def test_bad_transport() -> None:
    assert "transport" in _error(transport="perMessageDeflate")


def test_bad_id_generator_and_authorization() -> None:
    assert "id_generator" in _error(id_generator="abc")
    assert "authorization" in _error(authorization=42)


def test_bad_max_age() -> None:
    assert "max_age" in _error(max_age="30 days")


def test_unknown_transformer_names_what_is_available() -> None:
    message = _error(transformer="carrier-pigeon")
    assert "carrier-pigeon" in message
    assert "websockets" in message


def test_unknown_parser_names_what_is_available() -> None:
    message = _error(parser="xml")
    assert "'xml'" in message
    assert "json" in message


def test_names_are_case_insensitive() -> None:
    primus, _ = make_primus(transformer="WebSockets", parser="JSON")
    assert primus.transformer.name == "websockets"
    assert primus.spec["parser"] == "json"
    assert primus.spec["transformer"] == "websockets"


def test_transformer_object_must_provide_the_interface() -> None:
    message = _error(transformer=object())
    assert "ITransformer" in message
    message = _error(transformer=[])
    assert "ITransformer" in message


def test_parser_object_must_provide_the_interface() -> None:
    class NotAParser:
        def encode(self, data: Any) -> str:
            return ""

        def decode(self, data: Any) -> Any:
            return data

    assert "IParser" in _error(parser=NotAParser())
    assert "IParser" in _error(parser=lambda x: x)


def test_bad_first_argument() -> None:
    with pytest.raises(PrimusError, match="first argument"):
        Primus(42, reactor=make_primus()[1])


def test_unknown_websockets_transport_option() -> None:
    with pytest.raises(PrimusError, match="transport option"):
        make_primus(transport={"noSuchAutobahnOption": 1})


def test_initialised_event_on_next_turn() -> None:
    primus, clock = make_primus(transformer=FakeTransformer())
    seen: list[Any] = []
    primus.on("initialised", lambda *args: seen.append(args))
    assert seen == []
    clock.advance(0)
    assert len(seen) == 1
    transformer, parser, options = seen[0]
    assert transformer is primus.transformer
    assert parser is primus.parser
    assert options is primus.options


# -- the spec document ----------------------------------------------------------


def _spec_body(primus: Primus) -> bytes:
    request = make_request(primus.pathname.encode() + b"/spec")
    primus.resource.render(request)
    assert request.responseCode == 200
    assert request.responseHeaders.getRawHeaders(b"content-type") == [b"application/json"]
    return body(request)


def test_spec_bytes_for_defaults() -> None:
    primus, _ = make_primus()
    assert _spec_body(primus) == (
        b'{"pingInterval":30000,"pathname":"/primus","version":"8.0.9",'
        b'"parser":"json","transformer":"websockets"}'
    )
    assert PRIMUS_VERSION == "8.0.9"


def test_spec_custom_pathname() -> None:
    primus, _ = make_primus(pathname="realtime")
    assert b'"pathname":"/realtime"' in _spec_body(primus)


@pytest.mark.parametrize("value", [False, 0, None])
def test_spec_ping_interval_disabled(value: Any) -> None:
    primus, clock = make_primus(ping_interval=value)
    assert _spec_body(primus).startswith(b'{"pingInterval":false,')
    # and no heartbeat is scheduled
    assert [c for c in clock.getDelayedCalls() if "sweep" in repr(c)] == []


def test_spec_ping_interval_in_milliseconds() -> None:
    primus, _ = make_primus(ping_interval=2.5)
    assert _spec_body(primus).startswith(b'{"pingInterval":2500,')


def test_spec_custom_parser_and_transformer_objects_report_their_names() -> None:
    primus, _ = make_primus(parser=CountingParser(), transformer=FakeTransformer())
    assert primus.spec["parser"] == "counting"
    assert primus.spec["transformer"] == "fake"
    assert _spec_body(primus).endswith(b'"parser":"counting","transformer":"fake"}')


def test_spec_key_order() -> None:
    primus, _ = make_primus()
    assert list(primus.spec) == ["pingInterval", "pathname", "version", "parser", "transformer"]


# -- reserved ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        "incoming::data",
        "outgoing::url",
        "incoming::",
        "disconnection",
        "initialised",
        "connection",
        "plugout",
        "plugin",
        "close",
        "log",
    ],
)
def test_reserved(event: str) -> None:
    primus, _ = make_primus()
    assert primus.reserved(event) is True


@pytest.mark.parametrize("event", ["INCOMING::data", "Outgoing::x", "ERROR", "LOG", "data", "foo"])
def test_not_reserved(event: str) -> None:
    primus, _ = make_primus()
    assert primus.reserved(event) is False


# -- plugins -------------------------------------------------------------------------


class _Recorder:
    def __init__(self, name: str = "rec") -> None:
        self.name = name
        self.calls: list[Any] = []

    def server(self, primus: Any, options: Any) -> None:
        self.calls.append((primus, options))


def test_no_plugins_by_default() -> None:
    primus, _ = make_primus()
    assert primus.plugin() == {}
    assert primus.plugin("nothing") is None


@pytest.mark.parametrize("name", ["", 5, None])
def test_plugin_name_must_be_a_non_empty_string(name: Any) -> None:
    primus, _ = make_primus()

    class NoName:
        def server(self, primus: Any, options: Any) -> None: ...

    with pytest.raises(PrimusError, match="Plugin name must be a non empty string"):
        primus.plugin(name, NoName())


def test_plugin_without_a_name_attribute() -> None:
    primus, _ = make_primus()

    class NoName:
        def server(self, primus: Any, options: Any) -> None: ...

    with pytest.raises(PrimusError, match="Plugin name must be a non empty string"):
        primus.plugin(NoName())


@pytest.mark.parametrize("value", [5, True, [1], (1,)])
def test_plugin_should_be_an_object(value: Any) -> None:
    primus, _ = make_primus()
    with pytest.raises(PrimusError, match="Plugin should be an object"):
        primus.plugin("p", value)


def test_plugin_needs_client_or_server() -> None:
    primus, _ = make_primus()

    class Empty:
        library = "x"

    with pytest.raises(PrimusError) as info:
        primus.plugin("empty", Empty())
    message = str(info.value)
    assert "missing" in message
    assert "client" in message
    assert "server" in message


def test_plugin_name_already_defined() -> None:
    primus, _ = make_primus()
    primus.plugin("rec", _Recorder())
    with pytest.raises(PrimusError, match="Plugin name already defined"):
        primus.plugin("rec", _Recorder())


def test_plugin_server_called_with_primus_and_options_after_plugin_event() -> None:
    primus, _ = make_primus()
    order: list[str] = []
    plugin = _Recorder()
    primus.on("plugin", lambda name, p: order.append(f"event:{name}:{p is plugin}"))
    original = plugin.server

    def server(p: Any, options: Any) -> None:
        order.append("server")
        original(p, options)

    plugin.server = server  # type: ignore[method-assign,assignment]
    assert primus.plugin("rec", plugin) is primus
    assert order == ["event:rec:True", "server"]
    assert plugin.calls == [(primus, primus.options)]


def test_plugin_by_object_uses_its_name_and_client_only_plugin_is_fine() -> None:
    primus, _ = make_primus()

    class ClientOnly:
        name = "client-only"

        @staticmethod
        def client(socket: Any, options: Any) -> None: ...

    primus.plugin(ClientOnly)
    assert primus.plugin("client-only") is ClientOnly


def test_class_with_static_server_is_accepted() -> None:
    primus, _ = make_primus()
    calls: list[Any] = []

    class Static:
        @staticmethod
        def server(p: Any, options: Any) -> None:
            calls.append(p)

    primus.plugin("static", Static)
    assert calls == [primus]


def test_get_one_and_all_plugins() -> None:
    primus, _ = make_primus()
    a, b = _Recorder("a"), _Recorder("b")
    primus.plugin("a", a).plugin("b", b)
    assert primus.plugin("a") is a
    assert primus.plugin() == {"a": a, "b": b}
    # the returned mapping is a copy
    primus.plugin().clear()
    assert primus.plugin("b") is b


def test_plugout() -> None:
    primus, _ = make_primus()
    a = _Recorder("a")
    primus.plugin("a", a)
    events: list[Any] = []
    primus.on("plugout", lambda name, plugin: events.append((name, plugin, primus.plugin(name))))
    assert primus.plugout("a") is True
    # emitted before removal
    assert events == [("a", a, a)]
    assert primus.plugin("a") is None
    assert primus.plugout("a") is False
    assert events == [("a", a, a)]


def test_plugins_from_the_options_dict() -> None:
    a, b = _Recorder("a"), _Recorder("b")
    primus, _ = make_primus(plugin={"first": a, "second": b})
    assert primus.plugin() == {"first": a, "second": b}
    assert a.calls == [(primus, primus.options)]
    assert b.calls == [(primus, primus.options)]


def test_plugin_option_of_wrong_type() -> None:
    with pytest.raises(PrimusError):
        make_primus(plugin=42)


def test_unknown_plugin_name_in_options() -> None:
    with pytest.raises(PrimusError, match="no-such-plugin"):
        make_primus(plugin="no-such-plugin")


# -- transforms ------------------------------------------------------------------------


def test_transform_invalid_type() -> None:
    primus, _ = make_primus()
    with pytest.raises(PrimusError, match="transformer"):
        primus.transform("sideways", lambda p: None)


def test_transform_must_be_callable() -> None:
    primus, _ = make_primus()
    with pytest.raises(PrimusError):
        primus.transform("incoming", "not a function")  # type: ignore[arg-type]


def test_same_transform_is_not_added_twice() -> None:
    primus, _ = make_primus()
    calls: list[Any] = []

    def fn(packet: Packet) -> None:
        calls.append(packet.data)

    assert primus.transform("outgoing", fn) is primus
    primus.transform("outgoing", fn)
    spark, _ = connect(primus)
    spark.write("x")
    assert calls == ["x"]


def test_outgoing_sync_rewrite() -> None:
    primus, _ = make_primus()
    seen: list[Any] = []

    def fn(packet: Packet) -> None:
        seen.append((packet.data, packet.raw, packet.spark))
        packet.data = {"wrapped": packet.data}

    primus.transform("outgoing", fn)
    spark, conn = connect(primus)
    assert spark.write("hi") is True
    assert conn.sent == ['{"wrapped":"hi"}']
    assert seen == [("hi", None, spark)]


def test_outgoing_drop_with_false_still_returns_true() -> None:
    primus, _ = make_primus()
    primus.transform("outgoing", lambda packet: False)
    spark, conn = connect(primus)
    assert spark.write("hi") is True
    assert conn.sent == []


def test_outgoing_transforms_run_in_order_and_false_stops_the_chain() -> None:
    primus, _ = make_primus()
    calls: list[str] = []

    def first(packet: Packet) -> Any:
        calls.append("first")
        return packet.data != "drop" or False

    primus.transform("outgoing", first)
    primus.transform("outgoing", lambda p: calls.append("second"))
    spark, conn = connect(primus)
    spark.write("drop")
    assert calls == ["first"]
    spark.write("keep")
    assert calls == ["first", "first", "second"]
    assert conn.sent == ['"keep"']


def test_outgoing_async_deferred_rewrite_and_drop() -> None:
    primus, _ = make_primus()
    gates: list[Deferred[Any]] = []

    def fn(packet: Packet) -> Deferred[Any]:
        packet.data = packet.data.upper()
        d: Deferred[Any] = Deferred()
        gates.append(d)
        return d

    primus.transform("outgoing", fn)
    spark, conn = connect(primus)
    spark.write("one")
    spark.write("two")
    assert conn.sent == []
    gates[0].callback(None)
    gates[1].callback(False)
    assert conn.sent == ['"ONE"']


def test_outgoing_coroutine_rewrite_and_drop() -> None:
    primus, _ = make_primus()

    async def fn(packet: Packet) -> Any:
        await succeed(None)
        if packet.data == "secret":
            return False
        packet.data = f"<{packet.data}>"
        return None

    primus.transform("outgoing", fn)
    spark, conn = connect(primus)
    spark.write("secret")
    spark.write("public")
    assert conn.sent == ['"<public>"']


def test_outgoing_async_result_after_end_is_not_sent() -> None:
    primus, _ = make_primus()
    gate: Deferred[Any] = Deferred()
    primus.transform("outgoing", lambda p: gate)
    spark, conn = connect(primus)
    spark.write("late")
    spark.end(reconnect=True)
    gate.callback(None)
    assert conn.sent == []


def test_outgoing_transform_error_is_a_spark_error() -> None:
    primus, _ = make_primus()

    def boom(packet: Packet) -> None:
        raise ValueError("transform broke")

    primus.transform("outgoing", boom)
    spark, conn = connect(primus)
    errors: list[Any] = []
    spark.on("error", errors.append)
    logged: list[Any] = []
    primus.on("log", lambda level, error: logged.append((level, error)))
    spark.write("x")
    assert [str(e) for e in errors] == ["transform broke"]
    assert logged == [("error", errors[0])]
    assert conn.sent == []
    assert spark.ready_state == Spark.OPEN


def test_outgoing_async_transform_failure_is_a_spark_error() -> None:
    primus, _ = make_primus()
    gate: Deferred[Any] = Deferred()
    primus.transform("outgoing", lambda p: gate)
    spark, conn = connect(primus)
    errors: list[Any] = []
    spark.on("error", errors.append)
    spark.write("x")
    gate.errback(KeyError("async"))
    assert len(errors) == 1 and isinstance(errors[0], KeyError)
    assert conn.sent == []


def test_incoming_sync_rewrite_sees_raw() -> None:
    primus, _ = make_primus()
    seen: list[Any] = []

    def fn(packet: Packet) -> None:
        seen.append((packet.data, packet.raw, packet.spark))
        packet.data = packet.data * 2

    primus.transform("incoming", fn)
    spark, _ = connect(primus)
    data: list[Any] = []
    spark.on("data", data.append)
    spark.messageReceived("21")
    assert data == [42]
    assert seen == [(21, "21", spark)]


def test_incoming_drop_with_false() -> None:
    primus, _ = make_primus()
    primus.transform("incoming", lambda packet: packet.data != "spam" or False)
    spark, _ = connect(primus)
    data: list[Any] = []
    spark.on("data", data.append)
    spark.messageReceived('"spam"')
    spark.messageReceived('"ham"')
    assert data == ["ham"]


def test_incoming_async_deferred_rewrite_and_drop() -> None:
    primus, _ = make_primus()
    gates: list[Deferred[Any]] = []

    def fn(packet: Packet) -> Deferred[Any]:
        packet.data = packet.data + "!"
        gates.append(Deferred())
        return gates[-1]

    primus.transform("incoming", fn)
    spark, _ = connect(primus)
    data: list[Any] = []
    spark.on("data", data.append)
    spark.messageReceived('"a"')
    assert data == []
    gates[0].callback(False)
    assert data == []
    spark.messageReceived('"b"')
    gates[1].callback(None)
    assert data == ["b!"]


def test_incoming_coroutine_rewrite_and_drop() -> None:
    primus, _ = make_primus()

    async def fn(packet: Packet) -> Any:
        await succeed(None)
        if packet.data == "drop":
            return False
        packet.data = {"got": packet.data}
        return None

    primus.transform("incoming", fn)
    spark, _ = connect(primus)
    data: list[Any] = []
    spark.on("data", data.append)
    spark.messageReceived('"drop"')
    spark.messageReceived('"keep"')
    assert data == [{"got": "keep"}]


def test_incoming_transform_error_is_a_spark_error_and_the_spark_survives() -> None:
    primus, _ = make_primus()

    def fn(packet: Packet) -> None:
        if packet.data == "bad":
            raise ValueError("cannot")

    primus.transform("incoming", fn)
    spark, conn = connect(primus)
    errors: list[Any] = []
    data: list[Any] = []
    spark.on("error", errors.append)
    spark.on("data", data.append)
    spark.messageReceived('"bad"')
    spark.messageReceived('"good"')
    assert [str(e) for e in errors] == ["cannot"]
    assert data == ["good"]
    assert not conn.closed


def test_incoming_async_transform_failure_reports_and_continues_with_the_backlog() -> None:
    primus, _ = make_primus()
    gate: Deferred[Any] = Deferred()
    primus.transform("incoming", lambda p: gate if p.data == 1 else None)
    spark, _ = connect(primus)
    errors: list[Any] = []
    data: list[Any] = []
    spark.on("error", errors.append)
    spark.on("data", data.append)
    spark.messageReceived("1")
    spark.messageReceived("2")
    gate.errback(RuntimeError("slow and broken"))
    assert [str(e) for e in errors] == ["slow and broken"]
    assert data == [2]


def test_slow_async_incoming_transform_keeps_order() -> None:
    primus, _ = make_primus()
    gates: dict[Any, Deferred[Any]] = {}

    def fn(packet: Packet) -> Any:
        if packet.data in (1, 3):
            gates[packet.data] = Deferred()
            return gates[packet.data]
        return None

    primus.transform("incoming", fn)
    spark, _ = connect(primus)
    data: list[Any] = []
    spark.on("data", data.append)
    for message in ("1", "2", "3", "4"):
        spark.messageReceived(message)
    assert data == []
    assert list(gates) == [1]  # 3 has not even been transformed yet
    gates[1].callback(None)
    assert data == [1, 2]
    assert list(gates) == [1, 3]
    spark.messageReceived("5")
    gates[3].callback(None)
    assert data == [1, 2, 3, 4, 5]


def test_slow_async_outgoing_transform_keeps_order() -> None:
    """
    A write whose outgoing transform is asynchronous holds back the writes
    after it, so the client receives them in the order they were written;
    a failing one is reported and the rest still go out.
    """
    primus, _ = make_primus()
    gates: dict[Any, Deferred[Any]] = {}

    def fn(packet: Packet) -> Any:
        if packet.data in (1, 3):
            gates[packet.data] = Deferred()
            return gates[packet.data]
        return None

    primus.transform("outgoing", fn)
    spark, conn = connect(primus)
    errors: list[Any] = []
    spark.on("error", errors.append)
    for value in (1, 2, 3, 4):
        assert spark.write(value) is True
    assert conn.sent == []
    assert list(gates) == [1]  # 3 has not even been transformed yet
    gates[1].callback(None)
    assert conn.sent == ["1", "2"]
    spark.write(5)
    gates[3].errback(RuntimeError("cannot"))
    assert conn.sent == ["1", "2", "4", "5"]
    assert [str(e) for e in errors] == ["cannot"]


def test_protocol_messages_bypass_incoming_transforms() -> None:
    primus, _ = make_primus()
    seen: list[Any] = []
    primus.transform("incoming", lambda p: seen.append(p.data))
    spark, conn = connect(primus)
    spark.messageReceived('"primus::pong::1"')
    spark.messageReceived('"primus::id::"')
    assert seen == []
    assert conn.decoded == [f"primus::id::{spark.id}"]


def test_protocol_messages_bypass_outgoing_transforms() -> None:
    primus, _ = make_primus()
    seen: list[Any] = []
    primus.transform("outgoing", lambda p: seen.append(p.data))
    spark, conn = connect(primus)
    spark.messageReceived('"primus::id::"')
    spark.end()
    assert seen == []
    assert conn.decoded == [f"primus::id::{spark.id}", "primus::server::close"]


# -- connections -----------------------------------------------------------------------------


def test_connections_registry() -> None:
    primus, _ = make_primus()
    a, _ = connect(primus)
    b, _ = connect(primus)
    assert primus.connected == 2
    assert len(primus) == 2
    found = primus.spark(a.id)
    assert found == a  # identity: sparks do not define __eq__
    assert primus.spark("nope") is None
    assert set(primus) == {a, b}
    a.end()
    assert primus.connected == 1
    assert primus.spark(a.id) is None


def test_iteration_is_over_a_snapshot() -> None:
    primus, _ = make_primus()
    for _ in range(3):
        connect(primus)
    visited = 0
    for spark in primus:
        spark.end()
        visited += 1
    assert visited == 3
    assert primus.connected == 0


# -- broadcast -----------------------------------------------------------------------------------


def test_broadcast_encodes_and_prepares_once() -> None:
    parser = CountingParser()
    transformer = FakeTransformer()
    primus, _ = make_primus(parser=parser, transformer=transformer, ping_interval=0)
    conns = [connect(primus)[1] for _ in range(5)]
    parser.encoded.clear()
    assert primus.write({"hello": "all"}) is primus
    assert parser.encoded == [{"hello": "all"}]
    assert transformer.servers[0].prepared == ['{"hello":"all"}']
    for conn in conns:
        assert conn.sent == ['{"hello":"all"}']


def test_broadcast_with_the_websockets_transformer_frames_once() -> None:
    primus, _ = make_primus()
    conns = [connect(primus)[1] for _ in range(3)]
    primus.write(["é", 1])
    prepared = {id(c.prepared[0]) for c in conns}
    assert len(prepared) == 1
    assert [c.sent for c in conns] == [['["é",1]']] * 3


def test_broadcast_with_outgoing_transforms_runs_them_per_spark() -> None:
    parser = CountingParser()
    transformer = FakeTransformer()
    primus, _ = make_primus(parser=parser, transformer=transformer, ping_interval=0)
    calls: list[Any] = []

    def fn(packet: Packet) -> None:
        calls.append(packet.spark)
        packet.data = f"{packet.data} to {packet.spark.id}"

    primus.transform("outgoing", fn)
    pairs = [connect(primus) for _ in range(3)]
    parser.encoded.clear()
    primus.write("hi")
    assert calls == [s for s, _ in pairs]
    assert len(parser.encoded) == 3
    assert transformer.servers[0].prepared == []
    for spark, conn in pairs:
        assert conn.decoded == [f"hi to {spark.id}"]


def test_broadcast_skips_ended_sparks() -> None:
    primus, _ = make_primus()
    a, conn_a = connect(primus)
    _, conn_b = connect(primus)
    a.end(reconnect=True)
    primus.write(1)
    assert conn_a.sent == []
    assert conn_b.sent == ["1"]


def test_broadcast_encode_failure_is_logged() -> None:
    primus, _ = make_primus()
    _, conn = connect(primus)
    logged: list[Any] = []
    primus.on("log", lambda level, error: logged.append((level, error)))
    circular: list[Any] = []
    circular.append(circular)
    primus.write(circular)
    assert conn.sent == []
    assert len(logged) == 1
    assert logged[0][0] == "error"
    assert isinstance(logged[0][1], ParserError)
    assert "Failed to encode outgoing data" in str(logged[0][1])


# -- for_each --------------------------------------------------------------------------------------


def test_for_each_sync_visits_all() -> None:
    primus, _ = make_primus()
    sparks = [connect(primus)[0] for _ in range(4)]
    visited: list[Any] = []
    d = primus.for_each(visited.append)
    assert visited == sparks
    assert _sync.successResultOf(d) is None


def test_for_each_stops_on_false() -> None:
    primus, _ = make_primus()
    for _ in range(4):
        connect(primus)
    visited: list[Any] = []

    def fn(spark: Any) -> Any:
        visited.append(spark)
        return len(visited) < 2

    _sync.successResultOf(primus.for_each(fn))
    assert len(visited) == 2


def test_for_each_async_includes_sparks_added_during_iteration() -> None:
    primus, _ = make_primus()
    for _ in range(4):
        connect(primus)
    visited: list[Any] = []
    gates: list[Deferred[Any]] = []

    def fn(spark: Any) -> Deferred[Any]:
        visited.append(spark)
        gates.append(Deferred())
        return gates[-1]

    d = primus.for_each(fn)
    added = [connect(primus)[0] for _ in range(4)]
    while gates:
        _sync.assertNoResult(d)
        gates.pop(0).callback(None)
    assert len(visited) == 8
    assert visited[4:] == added
    _sync.successResultOf(d)


def test_for_each_async_stops_on_false() -> None:
    primus, _ = make_primus()
    for _ in range(4):
        connect(primus)
    visited: list[Any] = []

    def fn(spark: Any) -> Deferred[bool]:
        visited.append(spark)
        return succeed(len(visited) < 2)

    d = primus.for_each(fn)
    _sync.successResultOf(d)
    assert len(visited) == 2


def test_for_each_async_coroutines() -> None:
    primus, _ = make_primus()
    sparks = [connect(primus)[0] for _ in range(3)]
    visited: list[Any] = []

    async def fn(spark: Any) -> None:
        await succeed(None)
        visited.append(spark)

    _sync.successResultOf(primus.for_each(fn))
    assert visited == sparks


def test_for_each_skips_sparks_that_ended_meanwhile() -> None:
    primus, _ = make_primus()
    a, _ = connect(primus)
    b, _ = connect(primus)
    gate: Deferred[Any] = Deferred()
    visited: list[Any] = []

    def fn(spark: Any) -> Any:
        visited.append(spark)
        return gate if spark is a else None

    d = primus.for_each(fn)
    b.end()
    gate.callback(None)
    assert visited == [a]
    _sync.successResultOf(d)


def test_for_each_async_failure_fails_the_deferred() -> None:
    primus, _ = make_primus()
    connect(primus)
    gate: Deferred[Any] = Deferred()
    d = primus.for_each(lambda spark: gate)
    gate.errback(ValueError("async"))
    _sync.failureResultOf(d, ValueError)


# -- destroy ------------------------------------------------------------------------------------------


def test_destroy_ends_sparks_telling_clients_not_to_reconnect() -> None:
    primus, clock = make_primus()
    pairs = [connect(primus) for _ in range(3)]
    disconnections: list[Any] = []
    primus.on("disconnection", disconnections.append)
    d = primus.destroy()
    _sync.successResultOf(d)
    for spark, conn in pairs:
        assert conn.decoded == ["primus::server::close"]
        assert conn.closes == [False]
        assert spark.ready_state == Spark.CLOSED
    assert disconnections == [s for s, _ in pairs]
    assert primus.connected == 0
    assert clock.getDelayedCalls() == []


def test_destroy_with_reconnect_sends_nothing() -> None:
    primus, clock = make_primus()
    pairs = [connect(primus) for _ in range(2)]
    _sync.successResultOf(primus.destroy(reconnect=True))
    for _, conn in pairs:
        assert conn.sent == []
        assert conn.closes == [True]
    assert clock.getDelayedCalls() == []


def test_destroy_awaits_close_listeners_with_the_options() -> None:
    primus, clock = make_primus()
    gate: Deferred[None] = Deferred()
    seen: list[Any] = []

    def slow(options: Any) -> Deferred[None]:
        seen.append(dict(options))
        return gate

    primus.on("close", slow)
    primus.on("close", lambda options: seen.append("second"))
    d = primus.destroy()
    _sync.assertNoResult(d)
    assert seen == [{"close": True, "reconnect": False, "timeout": 0}]
    gate.callback(None)
    assert seen[1:] == ["second"]
    _sync.successResultOf(d)
    assert clock.getDelayedCalls() == []


def test_destroy_close_listener_coroutine() -> None:
    primus, _ = make_primus()
    order: list[str] = []

    async def listener(options: Any) -> None:
        await succeed(None)
        order.append("close")

    primus.on("close", listener)
    d = primus.destroy()
    d.addCallback(lambda _: order.append("done"))
    assert order == ["close", "done"]


def test_destroy_called_many_times_fires_every_deferred() -> None:
    primus, clock = make_primus()
    connect(primus)
    gate: Deferred[None] = Deferred()
    primus.on("close", lambda options: gate)
    first = primus.destroy()
    second = primus.destroy()
    third = primus.destroy(reconnect=True)
    for d in (first, second, third):
        _sync.assertNoResult(d)
    gate.callback(None)
    for d in (first, second, third):
        _sync.successResultOf(d)
    fourth = primus.destroy()
    _sync.successResultOf(fourth)
    assert clock.getDelayedCalls() == []


def test_destroy_timeout_waits_on_the_clock() -> None:
    primus, clock = make_primus()
    spark, conn = connect(primus)
    d = primus.destroy(timeout=5)
    # the heartbeat stops at once
    assert all("sweep" not in repr(c) for c in clock.getDelayedCalls())
    clock.advance(4.9)
    assert spark.ready_state == Spark.OPEN
    _sync.assertNoResult(d)
    clock.advance(0.1)
    assert spark.ready_state == Spark.CLOSED
    assert conn.closes == [False]
    _sync.successResultOf(d)
    assert clock.getDelayedCalls() == []


def test_destroy_stops_the_heartbeat() -> None:
    primus, clock = make_primus(ping_interval=1)
    _, conn = connect(primus)
    _sync.successResultOf(primus.destroy())
    clock.advance(10)
    assert conn.decoded == ["primus::server::close"]
    assert clock.getDelayedCalls() == []


def test_destroy_refuses_new_connections() -> None:
    primus, _ = make_primus()
    _sync.successResultOf(primus.destroy())
    spark, conn = connect(primus)
    assert spark is None
    assert conn.closes == [True]


def test_destroy_removes_listeners_and_plugins() -> None:
    primus, _ = make_primus()
    primus.plugin("rec", _Recorder())
    primus.on("connection", lambda spark: None)
    _sync.successResultOf(primus.destroy())
    assert primus.listener_count("connection") == 0
    assert primus.plugin() == {}


def test_destroy_closes_the_transformer_server_side() -> None:
    transformer = FakeTransformer()
    primus, _ = make_primus(transformer=transformer)
    _sync.successResultOf(primus.destroy())
    assert transformer.servers[0].closed == 1


class Data(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        return b"other resource"


def _site() -> tuple[Site, Resource]:
    root = Resource()
    root.putChild(b"other", Data())
    return Site(root), root


def _resolve(site: Site, uri: bytes) -> Any:
    request = make_request(uri)
    return site.getResourceFor(request)


def test_attaches_to_a_site_and_detaches_on_destroy() -> None:
    site, root = _site()
    primus, _ = make_primus(site)
    assert _resolve(site, b"/primus") is primus.resource
    assert _resolve(site, b"/primus/spec") is primus.resource
    assert _resolve(site, b"/primus.js") is primus.resource  # Primus's prefix match
    other = _resolve(site, b"/other")
    assert isinstance(other, Data)
    assert other.render(make_request(b"/other")) == b"other resource"
    _sync.successResultOf(primus.destroy())
    assert site.resource is root
    assert isinstance(_resolve(site, b"/other"), Data)
    assert _resolve(site, b"/primus") is not primus.resource


def test_two_primus_on_one_site_and_destroying_one() -> None:
    site, _ = _site()
    first, _ = make_primus(site, pathname="/one")
    second, _ = make_primus(site, pathname="/two")
    assert _resolve(site, b"/one") is first.resource
    assert _resolve(site, b"/two") is second.resource
    _sync.successResultOf(first.destroy())
    assert _resolve(site, b"/one") is not first.resource
    assert _resolve(site, b"/two") is second.resource
    assert isinstance(_resolve(site, b"/other"), Data)


def test_mount_under_a_resource() -> None:
    root = Resource()
    primus, _ = make_primus(root, pathname="/rt")
    assert root.children[b"rt"] is primus.resource
    with pytest.raises(PrimusError):
        make_primus(Resource(), pathname="/a/b")
