# -*- test-case-name: tests.test_engine_names -*-
"""
``uws`` and ``faye``: Node Primus's other names for plain WebSocket, which
primus-tx accepts wherever a transformer is named.
"""

from __future__ import annotations

import json

import pytest
from fakes import make_primus
from twisted.web.test.requesthelper import DummyRequest
from zope.interface.verify import verifyObject

from primus_tx import Primus
from primus_tx.interfaces import INamedTransformer
from primus_tx.tap import Options
from primus_tx.transformers import find_transformer
from primus_tx.transformers.websockets import WebSockets

NAMES = ["uws", "faye", "UWS", " Faye "]


@pytest.mark.parametrize("name", NAMES)
def test_the_names_are_websocket_transformers(name: str) -> None:
    transformer = find_transformer(name)
    assert transformer.name == name.strip().lower()
    assert verifyObject(INamedTransformer, transformer)
    websockets = find_transformer("websockets")
    # The same wire: the same browser transport and Python client.
    assert transformer.library() == websockets.library()
    assert transformer.client() is websockets.client()
    assert isinstance(transformer, WebSockets)


@pytest.mark.parametrize("name", ["uws", "faye"])
def test_spec_and_library_report_the_name(name: str) -> None:
    primus, _ = make_primus(transformer=name)
    assert primus.spec["transformer"] == name
    assert f"// ---- transport: {name}\n" in primus.library()
    socket = primus.Socket("http://127.0.0.1:1", manual=True)
    assert socket.options["transformer"] is find_transformer(name)


@pytest.mark.parametrize("name", ["uws", "faye"])
def test_plain_requests_are_426_as_with_websockets(name: str) -> None:
    primus, _ = make_primus(transformer=name)
    request = DummyRequest([b"primus"])
    primus._server.request(request)
    assert request.responseCode == 426


@pytest.mark.parametrize("name", ["uws", "faye"])
def test_twistd_accepts_the_names(name: str) -> None:
    options = Options()
    options.parseOptions(["--transformer", name])
    assert options["transformer"] == name


def test_unknown_names_list_the_new_ones() -> None:
    with pytest.raises(Exception, match=r"faye.*sockjs.*uws"):
        Primus(None, transformer="uwebsockets")
    assert json.dumps(make_primus(transformer="uws")[0].spec)
