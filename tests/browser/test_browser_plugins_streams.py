"""
The substream plugin's browser half (compiled into the served
``/primus/primus.js``) and the sessions plugin, in headless Chromium
against our server, on every transformer: the page logs in through an
ordinary twisted.web page and its spark carries that session.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).parent / "plugins_server.py"
TRANSFORMERS = ["websockets", "engine.io", "sockjs"]


def opened(page: Any) -> None:
    page.evaluate(
        """() => new Promise((resolve) => {
             window.seen = [];
             window.p = new Primus();
             p.on('data', function (d) { window.seen.push(['data', d]); });
             p.on('open', resolve);
           })"""
    )


@pytest.mark.parametrize("transformer", TRANSFORMERS)
def test_substream_both_ways(server_factory: Any, page_factory: Any, transformer: str) -> None:
    server = server_factory("--plugin", "substream", "--transformer", transformer, script=SCRIPT)
    page = page_factory(server.url + "/")
    opened(page)
    page.evaluate(
        """() => {
             window.echo = p.substream('echo');
             echo.on('data', function (d) { window.seen.push(['echo', d]); });
             echo.on('end', function () { window.seen.push(['echo end']); });
             window.news = p.substream('news');
             news.on('data', function (d) { window.seen.push(['news', d]); });
             echo.write({hello: 'echo'});
             p.substream('elsewhere').write('plain on the server');
           }"""
    )
    page.wait_for_function("() => window.seen.some(e => e[0] === 'echo')")
    assert page.evaluate("() => window.seen.find(e => e[0] === 'echo')") == [
        "echo", {"echo": {"hello": "echo"}},
    ]
    assert server.control("stats")["received"] == [{"hello": "echo"}]
    server.control("substream", name="news", data=json.dumps([1, "two"]))
    page.wait_for_function("() => window.seen.some(e => e[0] === 'news')")
    assert page.evaluate("() => window.seen.find(e => e[0] === 'news')") == ["news", [1, "two"]]
    # The server ends a stream: the page's stream ends, the name is free.
    server.control("endstream", name="echo")
    page.wait_for_function("() => window.seen.some(e => e[0] === 'echo end')")
    assert page.evaluate("() => p.substream('echo') !== window.echo")
    # The page ends one: the server's stream hears it.
    page.evaluate("() => news.end('bye')")
    # Envelopes for streams the page has open never reach its data listeners.
    assert not page.evaluate("() => window.seen.some(e => e[0] === 'data' && e[1].substream)")


@pytest.mark.parametrize("transformer", TRANSFORMERS)
def test_the_spark_has_the_page_s_login(
    server_factory: Any, page_factory: Any, transformer: str
) -> None:
    server = server_factory(
        "--plugin", "sessions", "--transformer", transformer, "--required", script=SCRIPT
    )
    page = page_factory(server.url + "/")
    # Not logged in: refused (401), the client gives up without a spark.
    page.evaluate(
        """() => new Promise((resolve) => {
             window.refused = new Primus();
             refused.on('error', function (e) { resolve(e.statusCode || e.message); });
             refused.on('end', function () { resolve('end'); });
           })"""
    )
    assert server.control("stats")["users"] == []
    page.evaluate("() => { window.refused.destroy(); return fetch('/login?user=ada'); }")
    opened(page)
    page.wait_for_function("() => window.seen.some(e => e[0] === 'data' && e[1].user)")
    assert page.evaluate("() => window.seen.find(e => e[1].user)[1]") == {"user": "ada"}
    assert server.control("stats")["users"] == ["ada"]
    # Logging out (the session expiring) ends the connection for good: the
    # client is told not to reconnect (and were a reconnect to happen, say
    # with the close message lost in a polling upgrade, it would be refused).
    page.evaluate("() => { window.ended = false; p.on('end', function () { window.ended = true; }); }")
    server.control("logout")
    page.wait_for_function("() => window.ended || p.readyState !== Primus.OPEN")
    page.wait_for_timeout(500)
    assert page.evaluate("() => p.readyState") != 3
    assert server.control("stats")["users"] == ["ada"]


@pytest.mark.parametrize("transformer", ["websockets", "engine.io"])
def test_multiplex_channels(server_factory: Any, page_factory: Any, transformer: str) -> None:
    server = server_factory("--plugin", "multiplex", "--transformer", transformer, script=SCRIPT)
    page = page_factory(server.url + "/")
    opened(page)
    page.evaluate(
        """() => {
             window.a = p.channel('news');
             window.b = p.channel('news');
             [a, b].forEach(function (ch, i) {
               ch.on('data', function (d) { window.seen.push(['ch' + i, d]); });
               ch.on('end', function () { window.seen.push(['ch' + i + ' end']); });
             });
             a.write({from: 'a'});
             b.write(0);
           }"""
    )
    page.wait_for_function("() => window.seen.filter(e => e[0] === 'ch0').length === 2")
    page.wait_for_function("() => window.seen.filter(e => e[0] === 'ch1').length === 2")
    ids = page.evaluate("() => [a.id, b.id]")
    assert page.evaluate("() => window.seen.filter(e => e[0] === 'ch0').map(e => e[1])") == [
        {"welcome": ids[0]}, {"echo": {"from": "a"}},
    ]
    assert page.evaluate("() => window.seen.filter(e => e[0] === 'ch1').map(e => e[1])") == [
        {"welcome": ids[1]}, {"echo": 0},
    ]
    page.evaluate("() => a.end()")
    assert server.wait_for(lambda s: s["ended"])["ended"] == [ids[0]]
    # Multiplex packets never reach the page's data listeners.
    assert not page.evaluate("() => window.seen.some(e => e[0] === 'data')")


@pytest.mark.parametrize("transformer", TRANSFORMERS)
def test_mirage_keeps_the_id_across_reconnects(
    server_factory: Any, page_factory: Any, transformer: str
) -> None:
    server = server_factory("--plugin", "mirage", "--transformer", transformer, script=SCRIPT)
    page = page_factory(server.url + "/")
    page.evaluate(
        """() => new Promise((resolve) => {
             window.ids = [];
             window.p = new Primus({ reconnect: { min: 50, max: 100 } });
             p.on('mirage', function (id) { window.ids.push(id); resolve(); });
           })"""
    )
    given = page.evaluate("() => window.ids[0]")
    assert len(given) == 16 and page.evaluate("() => p.mirage") == given
    assert server.control("stats")["ids"] == [given]
    server.control("drop")
    server.wait_for(lambda stats: len(stats["ids"]) == 2, timeout=10)
    assert server.control("stats")["ids"] == [given, given]
    # A page that brings its own id keeps it.
    other = page_factory(server.url + "/")
    other.evaluate(
        """() => new Promise((resolve) => {
             window.p = new Primus({ mirage: 'kept-id' });
             p.on('mirage', resolve);
           })"""
    )
    assert server.control("stats")["ids"][-1] == "kept-id"
