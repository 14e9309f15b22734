"""
The demo chat (primus_tx.demo): its page in Chromium, and its server half.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.web.test.requesthelper import DummyRequest

from primus_tx.demo import chat, demo_root


def test_demo_page_chats_and_measures(server_factory: Any, page_factory: Any) -> None:
    server = server_factory("--demo", "--ping-interval", "0.5")
    page = page_factory(server.url)
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'open'")
    page.fill("#name", "Ada")
    page.fill("#text", "hello <b>world</b>")
    page.click("button[type=submit]")
    page.wait_for_selector("#messages li.mine")
    mine = page.inner_text("#messages li.mine .text")
    assert mine == "hello <b>world</b>"  # shown as text, never as HTML
    page.wait_for_function("() => /ms$/.test(document.getElementById('m-latency').textContent)")
    assert page.inner_text("#m-people") == "1"
    spark_ids = server.control("sparks")
    assert page.inner_text("#m-id") == spark_ids[0]
    page.wait_for_function("() => /s ago$/.test(document.getElementById('m-ping').textContent)")
    shot = os.environ.get("PRIMUS_TX_DEMO_SCREENSHOT")
    if shot:  # for a human to look at; never committed
        page.set_viewport_size({"width": 1200, "height": 720})
        page.screenshot(path=shot)


def test_demo_page_shows_reconnecting(server_factory: Any, page_factory: Any) -> None:
    server = server_factory("--demo")
    page = page_factory(server.url)
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'open'")
    server.control("end", reconnect="1")
    page.wait_for_function("() => document.getElementById('m-attempts').textContent === '1'")
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'open'")
    assert "back after 1 attempt" in page.inner_text("#messages")


class FakeSpark:
    def __init__(self, id: str) -> None:
        self.id = id
        self.written: list[Any] = []
        self.listeners: dict[str, Any] = {}

    def on(self, event: str, fn: Any) -> None:
        self.listeners[event] = fn

    def write(self, data: Any) -> bool:
        self.written.append(data)
        return True


class FakePrimus:
    def __init__(self) -> None:
        self.listeners: dict[str, Any] = {}
        self.broadcast: list[Any] = []
        self.connected = 0

    def on(self, event: str, fn: Any) -> None:
        self.listeners[event] = fn

    def write(self, data: Any) -> None:
        self.broadcast.append(data)


def test_chat_broadcasts_and_answers_latency_probes_to_the_sender() -> None:
    primus = FakePrimus()
    assert chat(primus) is primus
    spark = FakeSpark("abc")
    primus.connected = 1
    primus.listeners["connection"](spark)
    assert primus.broadcast == [{"type": "presence", "count": 1}]

    spark.listeners["data"]({"name": "Ada", "text": "hi"}, '{"name":"Ada","text":"hi"}')
    message = primus.broadcast[-1]
    assert message["type"] == "message" and message["from"] == "abc"
    assert message["data"] == {"name": "Ada", "text": "hi"}
    assert isinstance(message["at"], int)

    probe = {"type": "latency", "sent": 12.5}
    spark.listeners["data"](probe)
    assert spark.written == [probe]
    assert len(primus.broadcast) == 2

    primus.connected = 0
    primus.listeners["disconnection"](spark)
    assert primus.broadcast[-1] == {"type": "presence", "count": 0}


def render(root: Any, path: bytes) -> DummyRequest:
    request = DummyRequest(path.strip(b"/").split(b"/") if path != b"/" else [b""])
    resource = root
    while request.postpath and not getattr(resource, "isLeaf", False):
        resource = resource.getChildWithDefault(request.postpath.pop(0), request)
    body = resource.render(request)
    if isinstance(body, bytes):
        request.write(body)
    return request


def test_demo_root_serves_page_and_assets_with_the_pathname() -> None:
    root = demo_root("/realtime/")
    page = render(root, b"/")
    html = b"".join(page.written).decode()
    assert '<script src="/realtime/primus.js"></script>' in html
    assert page.responseHeaders.getRawHeaders(b"content-type") == [b"text/html; charset=utf-8"]
    css = render(root, b"/demo.css")
    assert b"--accent" in b"".join(css.written)
    script = render(root, b"/demo.js")
    assert b"new Primus(" in b"".join(script.written)
