"""
The public surface, pinned: the public modules export exactly these
names, every one of them exists, and nothing defined for users is left out
of an ``__all__``.  A change here is a change to the API: it belongs in
CHANGELOG.md.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from types import ModuleType

import pytest

PUBLIC = {
    "primus_tx": [
        "PRIMUS_VERSION",
        "Address",
        "AuthorizationError",
        "Packet",
        "ParserError",
        "Primus",
        "PrimusError",
        "Spark",
        "__version__",
        "connect",
        "create_server",
    ],
    "primus_tx.interfaces": [
        "IClientTransport",
        "IClientTransportHandler",
        "IConnection",
        "IConnectionHandler",
        "INamedParser",
        "INamedTransformer",
        "IParser",
        "IPrimusPlugin",
        "ITransformer",
        "ITransformerHost",
        "ITransformerServer",
    ],
    "primus_tx.client": [
        "CLOSED",
        "OPEN",
        "OPENING",
        "Attempt",
        "ConnectionFailed",
        "IClientTransport",
        "IClientTransportHandler",
        "ReconnectFailed",
        "ReconnectTimeout",
        "Recovery",
        "Socket",
        "connect",
        "create_socket",
    ],
    "primus_tx.testing": [
        "FakeClientTransformer",
        "FakeClientTransport",
        "FakeConnection",
        "PrimusFixture",
    ],
    "primus_tx.cluster": [
        "OPTIONS",
        "Cluster",
        "ClusterError",
        "ClusterOverloaded",
        "ClusterPlugin",
        "Forward",
        "ForwardError",
        "RedisRoomsAdapter",
        "RedisUnavailable",
        "plugin",
    ],
}


def _defined_for_users(module: ModuleType) -> set[str]:
    """
    The classes and functions a module offers: defined in it, or — for a
    package — in one of its private modules (``primus_tx._errors``), and not
    named privately.
    """
    homes = (module.__name__ + "._",) if hasattr(module, "__path__") else ()
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or inspect.ismodule(value):
            continue
        home = getattr(value, "__module__", None)
        if not isinstance(home, str) or not (inspect.isclass(value) or callable(value)):
            continue
        if home == module.__name__ or home.startswith(homes):
            names.add(name)
    return names


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_all_is_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(PUBLIC[name])
    assert len(set(module.__all__)) == len(module.__all__), "a name is listed twice"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    missing = [attribute for attribute in module.__all__ if not hasattr(module, attribute)]
    assert missing == []
    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)
    assert set(module.__all__) <= set(namespace)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_nothing_offered_to_users_is_left_out(name: str) -> None:
    module = importlib.import_module(name)
    assert _defined_for_users(module) - set(module.__all__) == set()


def test_the_checker_sees_what_a_module_offers() -> None:
    # Without this, an empty _defined_for_users would pass the test above.
    assert {"connect", "Address", "PrimusError"} <= _defined_for_users(
        importlib.import_module("primus_tx")
    )
    assert {"PrimusFixture", "FakeConnection"} <= _defined_for_users(
        importlib.import_module("primus_tx.testing")
    )
    assert "Socket" in _defined_for_users(importlib.import_module("primus_tx.client"))


def test_the_version_is_a_string() -> None:
    import primus_tx

    assert isinstance(primus_tx.__version__, str) and primus_tx.__version__
    assert primus_tx.PRIMUS_VERSION.startswith("8.")


def test_the_package_says_it_is_typed() -> None:
    # The package that was imported, checkout or installed wheel: CI runs
    # this from a copy of the tests against the wheel, which proves that
    # py.typed is shipped (setup.cfg's package_data is checked in
    # tests/test_repository.py, which reads the checkout).
    import primus_tx

    assert (Path(primus_tx.__file__).resolve().parent / "py.typed").is_file()
