"""
Every implementation of every interface really provides it
(``verifyObject``: methods with compatible signatures and the declared
attributes), and every class in the package that claims an interface
matches it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest
from twisted.internet.interfaces import IConsumer, IPushProducer
from twisted.internet.task import Clock
from twisted.web.resource import IResource
from zope.interface import implementedBy, implementer
from zope.interface.verify import verifyClass, verifyObject

import primus_tx
from primus_tx._resource import PrimusResource, SiteRoot
from primus_tx.interfaces import (
    IConnection,
    IConnectionHandler,
    INamedParser,
    INamedTransformer,
    IParser,
    IPrimusPlugin,
    ITransformer,
    ITransformerHost,
    ITransformerServer,
)
from primus_tx.parsers.json import JSONParser, parser
from primus_tx.transformers import find_transformer
from primus_tx.transformers.websockets import WebSockets
from primus_tx.transformers.websockets.server import PrimusWebSocketProtocol
from tests.fakes import (
    CountingParser,
    FakeConnection,
    FakeTransformer,
    connect,
    make_primus,
)


def test_the_named_interfaces_extend_the_plain_ones() -> None:
    # The module's __all__ is pinned in test_public_api.py.
    assert INamedParser.extends(IParser)
    assert INamedTransformer.extends(ITransformer)


def test_json_parser() -> None:
    assert verifyObject(IParser, parser)
    assert verifyObject(INamedParser, JSONParser())


def test_websockets_transformer() -> None:
    transformer = find_transformer("websockets")
    assert isinstance(transformer, WebSockets)
    assert verifyObject(ITransformer, transformer)
    assert verifyObject(INamedTransformer, transformer)


def test_spark_interfaces() -> None:
    primus, _ = make_primus()
    spark, _ = connect(primus)
    assert verifyObject(IConnectionHandler, spark)
    assert verifyObject(IPushProducer, spark)
    assert verifyObject(IConsumer, spark)


def test_autobahn_protocol_is_a_connection() -> None:
    protocol = PrimusWebSocketProtocol()
    assert verifyObject(IConnection, protocol)
    assert verifyObject(IPushProducer, protocol)


def test_resources() -> None:
    primus, _ = make_primus()
    assert verifyObject(IResource, primus.resource)
    assert isinstance(primus.resource, PrimusResource)
    from twisted.web.resource import Resource

    assert verifyObject(IResource, SiteRoot(Resource(), primus.pathname, primus.resource))


def test_primus_is_a_transformer_host() -> None:
    primus, clock = make_primus(transformer=FakeTransformer(), transport={"x": 1})
    assert verifyObject(ITransformerHost, primus)
    assert primus.reactor is clock
    assert primus.transport_options == {"x": 1}
    primus.transport_options["y"] = 2  # a copy: the transformer may keep it
    assert primus.transport_options == {"x": 1}
    assert primus.compression is False


@implementer(ITransformerHost)
class _Host:
    """
    A host that is not a Primus: what a transformer's server side may use,
    and nothing more.
    """

    pathname = "/rt"
    max_length = 1024
    compression = False

    def __init__(self) -> None:
        self.reactor = Clock()
        self.transport_options: dict[str, Any] = {}
        self.disabled: list[str] = []
        self.connections: list[Any] = []

    def connect_spark(self, connection: Any, **spark_options: Any) -> Any:
        self.connections.append((connection, spark_options))
        return None

    def disable(self, name: str) -> Any:
        self.disabled.append(name)
        return self


@pytest.mark.parametrize("name", ["websockets", "uws", "faye", "engine.io", "sockjs", "browserchannel"])
def test_builtin_transformers_need_only_the_host_interface(name: str) -> None:
    host = _Host()
    assert verifyObject(ITransformerHost, host)
    server = find_transformer(name).server(host)
    assert verifyObject(ITransformerServer, server)
    assert server.prepare("message") is not None
    server.close()
    assert host.disabled == (["cors"] if name == "sockjs" else [])
    assert host.reactor.getDelayedCalls() == []


def test_the_fakes_provide_what_they_stand_for() -> None:
    assert verifyObject(IConnection, FakeConnection())
    assert verifyObject(IParser, CountingParser())
    transformer = FakeTransformer()
    assert verifyObject(ITransformer, transformer)
    primus, _ = make_primus(transformer=transformer)
    assert verifyObject(ITransformerServer, transformer.servers[0])
    assert transformer.servers[0].host is primus


def test_a_plugin_object_can_provide_the_plugin_interface() -> None:
    from zope.interface import implementer

    @implementer(IPrimusPlugin)
    class Plugin:
        name = "p"
        library = None

        def server(self, primus: Any, options: Any) -> None: ...

        def client(self, socket: Any, options: Any) -> None: ...

    assert verifyObject(IPrimusPlugin, Plugin())
    primus, _ = make_primus()
    primus.plugin(Plugin())
    assert isinstance(primus.plugin("p"), Plugin)


def _declaring_classes() -> list[tuple[str, type]]:
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(primus_tx.__path__, "primus_tx."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and value.__module__ == module.__name__
                and list(implementedBy(value).interfaces())
            ):
                found[f"{module.__name__}.{name}"] = value
    return sorted(found.items())


_CLASSES = _declaring_classes()


def test_the_scan_finds_the_core_implementations() -> None:
    names = {name for name, _ in _CLASSES}
    assert {
        "primus_tx.spark.Spark",
        "primus_tx.parsers.json.JSONParser",
        "primus_tx.transformers.websockets.WebSockets",
        "primus_tx.transformers.websockets.server.PrimusWebSocketProtocol",
        "primus_tx._resource.PrimusResource",
    } <= names


@pytest.mark.parametrize(("name", "cls"), _CLASSES, ids=[name for name, _ in _CLASSES])
def test_every_declared_interface_matches(name: str, cls: type) -> None:
    # An instance when the class can be built without arguments (verifyClass
    # misreads staticmethods as methods missing ``self``), else the class.
    try:
        instance: Any = cls()
    except TypeError:
        instance = None
    for interface in implementedBy(cls).flattened():
        if interface.__name__ == "Interface":
            continue
        if instance is not None:
            assert verifyObject(interface, instance), (name, interface)
        else:
            assert verifyClass(interface, cls), (name, interface)
