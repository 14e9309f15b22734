"""
Shared fixtures.

pytest-twisted runs the global reactor for the whole session; tests that
need real I/O take the ``reactor`` fixture.  Most tests use fakes (Clock,
StringTransport, DummyRequest) and need no reactor at all.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def reactor():
    from twisted.internet import reactor as global_reactor

    return global_reactor


def require_tool(name: str) -> str:
    """
    The path of an outside tool; skip when it is missing on a developer
    machine, fail under CI=true (where a skip would hide a missing install).
    """
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed"
        if IN_CI:
            pytest.fail(message + " (CI must install it)")
        pytest.skip(message)
    return path


@pytest.fixture(params=["faye", "websockets"])
def each_websocket_engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """
    Run the test once per WebSocket engine: Autobahn (``faye``) and
    primus-tx's own (``websockets``), as the transformer ``hostile_server``
    uses when the test names none.
    """
    import hostile_helpers

    hostile_helpers.TRANSFORMER = request.param
    try:
        yield request.param
    finally:
        hostile_helpers.TRANSFORMER = "websockets"
