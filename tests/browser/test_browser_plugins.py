"""
The built-in plugins' browser halves, compiled into the served
``/primus/primus.js``, in headless Chromium against our server: emitter
(acks both ways), emit, rooms (through emitter) and responder.
"""

from __future__ import annotations

import json
from typing import Any

PLUGINS = "emitter,emit,rooms,responder"


def opened(page: Any) -> None:
    page.evaluate(
        """() => new Promise((resolve) => {
             window.seen = [];
             window.p = new Primus();
             ['welcome', 'said', 'pong-emit'].forEach(function (name) {
               p.on(name, function () {
                 window.seen.push([name].concat(Array.prototype.slice.call(arguments)));
               });
             });
             p.on('data', function (d) { window.seen.push(['data', d]); });
             p.on('open', resolve);
           })"""
    )


def test_emitter_acks_both_ways(server_factory: Any, page_factory: Any) -> None:
    server = server_factory("--plugin", PLUGINS, "--ping-interval", "0")
    page = page_factory(server.url + "/")
    opened(page)
    page.wait_for_function("() => window.seen.some(e => e[0] === 'welcome')")
    assert page.evaluate("() => window.seen.find(e => e[0] === 'welcome')[1]") == server.control(
        "sparks"
    )[0]
    total = page.evaluate(
        "() => new Promise((resolve) => p.send('add', 19, 23, resolve))"
    )
    assert total == 42
    page.evaluate("() => p.on('ask', function (x, ack) { ack(x * 2, 'twice'); })")
    server.control("ask", data="21")
    stats = server.wait_for(lambda s: s["answers"])
    assert stats["answers"] == [[42, "twice"]]
    # what went over the wire is primus-emitter's packet
    assert {"type": 0, "data": ["add", 19, 23], "id": 1} in stats["received"]


def test_emit(server_factory: Any, page_factory: Any) -> None:
    server = server_factory("--plugin", PLUGINS, "--ping-interval", "0")
    page = page_factory(server.url + "/")
    opened(page)
    page.evaluate("() => p.emit('ping-emit', {n: 5})")
    page.wait_for_function("() => window.seen.some(e => e[0] === 'pong-emit')")
    assert page.evaluate("() => window.seen.find(e => e[0] === 'pong-emit')") == [
        "pong-emit", {"n": 5},
    ]
    # envelopes are events, never data, on both sides
    assert not page.evaluate("() => window.seen.some(e => e[0] === 'data' && e[1].emit)")
    assert {"emit": ["ping-emit", {"n": 5}]} not in server.control("stats")["received"]


def test_rooms(server_factory: Any, page_factory: Any) -> None:
    server = server_factory("--plugin", PLUGINS, "--ping-interval", "0")
    pages = [page_factory(server.url + "/") for _ in range(3)]
    for page, room in zip(pages, ("news", "news", "sport")):
        opened(page)
        page.evaluate(
            f"() => new Promise((resolve) => p.send('join', {json.dumps(room)}, resolve))"
        )
    server.control("room", room="news", data=json.dumps({"to": "news"}))
    for page in pages[:2]:
        page.wait_for_function("() => window.seen.some(e => e[0] === 'data' && e[1].to)")
    pages[2].evaluate("() => p.send('say', 'news', 'from sport')")
    for page in pages[:2]:
        page.wait_for_function("() => window.seen.some(e => e[0] === 'said')")
        assert page.evaluate("() => window.seen.find(e => e[0] === 'said')") == [
            "said", "from sport",
        ]
    assert not pages[2].evaluate("() => window.seen.some(e => e[0] === 'said' || e[1].to)")


def test_responder(server_factory: Any, page_factory: Any) -> None:
    server = server_factory("--plugin", PLUGINS, "--ping-interval", "0")
    page = page_factory(server.url + "/")
    opened(page)
    page.evaluate("() => { window.out = []; p.on('outgoing::data', (m) => out.push(m)); }")
    response = page.evaluate(
        "() => new Promise((resolve) => p.writeAndWait({q: 1}, resolve))"
    )
    assert response == {"echo": {"q": 1}}
    page.evaluate("() => p.on('request', function (data, done) { done({got: data}); })")
    server.control("request", data=json.dumps([1, 2]))
    assert server.wait_for(lambda s: s["answers"])["answers"] == [{"got": [1, 2]}]
    # consumed as requests, never data
    assert server.control("stats")["received"] == []
    request = json.loads(page.evaluate("() => out[0]"))
    assert list(request) == ["plugin", "requestId", "data"]
    assert request["plugin"] == "primus-responder"
    assert len(request["requestId"]) == 36 and request["requestId"][14] == "4"
