"""
The demo chat (primus_tx.demo): its page in Chromium, and its server half.
"""

from __future__ import annotations

import json
import os
from typing import Any

from twisted.web.test.requesthelper import DummyRequest

from primus_tx.demo import ROOMS, chat, demo_root
from tests.fakes import FakeTransformer, connect, make_primus


def test_demo_page_chats_and_measures(server_factory: Any, page_factory: Any) -> None:
    server = server_factory("--demo", "--ping-interval", "0.5")
    page = page_factory(server.url)
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'open'")
    page.wait_for_selector("#rooms li.current[data-room=lobby]")
    page.fill("#name", "Ada")
    page.fill("#text", "hello <b>world</b>")
    page.click("button[type=submit]")
    page.wait_for_selector("#messages li.mine")
    mine = page.inner_text("#messages li.mine .text")
    assert mine == "hello <b>world</b>"  # shown as text, never as HTML
    # the emitter's ack says how many people the room broadcast reached
    page.wait_for_selector("#messages li.mine .ack.done")
    assert page.inner_text("#messages li.mine .ack") == "✓ delivered to 1 person"
    page.wait_for_function("() => /ms$/.test(document.getElementById('m-latency').textContent)")
    assert page.inner_text("#m-people") == "1"
    spark_ids = server.control("sparks")
    assert page.inner_text("#m-id") == spark_ids[0]
    page.wait_for_function("() => document.getElementById('users').textContent === 'Ada'")
    page.wait_for_function("() => /s ago$/.test(document.getElementById('m-ping').textContent)")
    shot = os.environ.get("PRIMUS_TX_DEMO_SCREENSHOT")
    if shot:  # for a human to look at; never committed
        page.set_viewport_size({"width": 1200, "height": 720})
        page.screenshot(path=shot)


def test_demo_rooms_and_user_lists(server_factory: Any, page_factory: Any) -> None:
    server = server_factory("--demo")
    ada, bob = page_factory(server.url), page_factory(server.url)
    for page, name in ((ada, "Ada"), (bob, "Bob")):
        page.wait_for_selector("#rooms li.current[data-room=lobby]")
        page.fill("#name", name)
        page.fill("#text", f"hi from {name}")
        page.click("button[type=submit]")
    ada.wait_for_function("() => document.getElementById('users').innerText.includes('Bob')")
    assert ada.inner_text("#users").split("\n") == ["Ada", "Bob"]
    ada.wait_for_function("() => document.querySelectorAll('#messages li .text').length === 2")
    bob.wait_for_selector("#messages li.mine .ack.done")
    assert bob.inner_text("#messages li.mine .ack") == "✓ delivered to 2 people"
    # Bob moves to #python: the lobby's list and counts follow
    bob.click("#rooms li[data-room=python]")
    bob.wait_for_selector("#rooms li.current[data-room=python]")
    ada.wait_for_function("() => document.getElementById('users').innerText.trim() === 'Ada'")
    ada.wait_for_function(
        "() => document.querySelector('#rooms li[data-room=python]').innerText.endsWith('1')"
    )
    bob.fill("#text", "only python")
    bob.click("button[type=submit]")
    bob.wait_for_selector("#messages li.mine .ack.done")
    assert bob.inner_text("#messages li.mine .ack") == "✓ delivered to 1 person"
    assert "only python" not in ada.inner_text("#messages")


def test_demo_page_shows_reconnecting(server_factory: Any, page_factory: Any) -> None:
    server = server_factory("--demo")
    page = page_factory(server.url)
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'open'")
    server.control("end", reconnect="1")
    page.wait_for_function("() => document.getElementById('m-attempts').textContent === '1'")
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'open'")
    assert "back after 1 attempt" in page.inner_text("#messages")


def test_chat_speaks_in_acknowledged_emitter_events() -> None:
    primus, _ = make_primus(transformer=FakeTransformer(), ping_interval=0)
    assert chat(primus) is primus
    assert sorted(primus.plugin()) == ["emitter", "rooms"]
    ada, ca = connect(primus)
    bob, cb = connect(primus)

    def ask(spark: Any, conn: Any, *data: Any) -> Any:
        ask.ids = getattr(ask, "ids", 0) + 1  # type: ignore[attr-defined]
        spark.messageReceived(json.dumps({"type": 0, "data": list(data), "id": ask.ids}))  # type: ignore[attr-defined]
        acks = [m for m in conn.decoded if m.get("type") == 1 and m.get("id") == ask.ids]  # type: ignore[attr-defined]
        return acks[-1]["data"][0]

    assert ask(ada, ca, "hello", "Ada") == {"id": ada.id, "rooms": list(ROOMS)}
    assert ask(bob, cb, "hello", "Bob") == {"id": bob.id, "rooms": list(ROOMS)}
    assert ask(ada, ca, "join", "lobby") == {"room": "lobby", "users": ["Ada"]}
    assert ask(bob, cb, "join", "lobby") == {"room": "lobby", "users": ["Ada", "Bob"]}
    assert {"type": 0, "data": ["users", "lobby", ["Ada", "Bob"]]} in ca.decoded
    reply = ask(ada, ca, "say", "hi")
    assert reply["delivered"] == 2
    said = [m["data"][1] for m in cb.decoded if m.get("data", [None])[0] == "message"]
    assert said == [{"room": "lobby", "from": ada.id, "name": "Ada", "text": "hi", "at": reply["at"]}]
    assert ask(bob, cb, "join", "python") == {"room": "python", "users": ["Bob"]}
    assert ask(ada, ca, "say", "alone")["delivered"] == 1
    assert ask(ada, ca, "join", "nowhere") == {"error": "no room 'nowhere'"}
    assert ask(ada, ca, "ping", 12.5) == 12.5
    counts = [m["data"][1] for m in ca.decoded if m.get("data", [None])[0] == "rooms"]
    assert counts[-1] == {"lobby": 1, "python": 1, "javascript": 0, "random": 0}
    bob.end()
    assert {"type": 0, "data": ["presence", 1]} in ca.decoded
    assert value_of(primus.rooms()) == ["lobby"]


def value_of(d: Any) -> Any:
    results: list[Any] = []
    d.addCallback(results.append)
    return results[0]


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
