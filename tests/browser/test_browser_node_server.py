"""
Our browser client (saved with ``primus.save``) against the official Node
Primus 8 server, in Chromium: the wire protocol of docs/protocol/primus.rst from
the other side.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from twisted.internet.task import Clock

from primus_tx import Primus
from tests.conftest import require_tool

HERE = Path(__file__).parent
JS_PEERS = HERE.parent / "js"


def start_node_server(
    tmp_path: Path, plugins: Any = None, transformer: str = "websockets"
) -> Iterator[str]:
    node = require_tool("node")
    library = tmp_path / "primus.js"
    # Compiled as a primus-tx server pinging every 0.3 s would compile it
    # (with our halves of the plugins, when the Node server has npm ones).
    ours = ",".join(plugins) if plugins else None
    Primus(
        None, reactor=Clock(), ping_interval=0.3, plugin=ours, transformer=transformer
    ).save(str(library))
    process = subprocess.Popen(
        [node, str(HERE / "node_server.js"), str(library), json.dumps(plugins or {}), transformer],
        cwd=str(JS_PEERS),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        # The script lives here; its `require('primus')` is tests/js's.
        env={**os.environ, "NODE_PATH": str(JS_PEERS / "node_modules")},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()


@pytest.fixture
def node_server(tmp_path: Path) -> Iterator[str]:
    yield from start_node_server(tmp_path)


# primus-emit cannot share a Node server with the others: its `emit`
# override sends the events primus-emitter and primus-responder emit
# locally on to the client.  It gets a server of its own.
NPM_PLUGINS = {
    "emitter": "primus-emitter",
    "rooms": "primus-rooms",
    "responder": "primus-responder",
}


@pytest.fixture
def node_plugin_server(tmp_path: Path) -> Iterator[str]:
    yield from start_node_server(tmp_path, NPM_PLUGINS)


@pytest.fixture
def node_emit_server(tmp_path: Path) -> Iterator[str]:
    yield from start_node_server(tmp_path, {"emit": "primus-emit"})


def control(base: str, action: str) -> Any:
    with urllib.request.urlopen(f"{base}/control/{action}", timeout=5) as response:
        return json.loads(response.read())


def test_against_a_node_primus_server(node_server: str, page_factory: Any) -> None:
    page = page_factory(node_server)
    assert (
        page.evaluate("() => window.primus === undefined && Primus.prototype.defaultPingTimeout")
        == 450
    )
    page.evaluate(
        "() => { window.primus = new Primus({reconnect: {min: 50}});"
        " window.log = record(window.primus);"
        " window.pongs = 0; window.primus.on('outgoing::pong', () => window.pongs++); }"
    )
    page.wait_for_function("() => window.log.includes('open')")
    spark_id = page.evaluate("() => new Promise((resolve) => window.primus.id(resolve))")
    assert control(node_server, "sparks") == [spark_id]

    page.evaluate("() => ['a\\u2028b', 0, {x: [1, null]}].forEach((v) => window.primus.write(v))")
    page.wait_for_function("() => window.log.filter((e) => e.startsWith('data:')).length === 3")

    # Node's heartbeat: pings answered, so the spark outlives several of them.
    page.wait_for_function("() => window.pongs >= 3")
    assert control(node_server, "sparks") == [spark_id]

    control(node_server, "end?reconnect=1")
    page.wait_for_function("() => window.log.filter((e) => e === 'open').length === 2")
    control(node_server, "end")
    page.wait_for_function("() => window.log.includes('end')")
    time.sleep(0.2)
    log = page.evaluate("() => window.log.slice()")
    assert [e for e in log if e.startswith("data:")] == [
        'data:"a\u2028b"',
        "data:0",
        'data:{"x":[1,null]}',
    ]
    assert log[-3:] == ["readyStateChange:end", "close", "end"]
    assert log.count("reconnect scheduled") == 1


def test_our_plugin_halves_against_the_npm_plugins(
    node_plugin_server: str, page_factory: Any
) -> None:
    """
    The browser halves of emitter and responder in our library, against a
    Node Primus server running primus-emitter, primus-rooms and
    primus-responder.
    """
    base = node_plugin_server
    pages = [page_factory(base) for _ in range(2)]
    for page in pages:
        page.evaluate(
            """() => new Promise((resolve) => {
                 window.seen = [];
                 window.p = new Primus();
                 p.on('said', (x) => seen.push(['said', x]));
                 p.on('ask', (x, ack) => ack(x * 2));
                 p.on('request', (data, done) => done({got: data}));
                 p.on('open', resolve);
               })"""
        )
    page = pages[0]
    assert page.evaluate("() => new Promise((resolve) => p.send('add', 40, 2, resolve))") == 42
    for other, room in zip(pages, ("news", "news")):
        assert other.evaluate(
            f"() => new Promise((resolve) => p.send('join', {json.dumps(room)}, resolve))"
        ) == room
    page.evaluate("() => p.send('say', 'news', 'hello room')")
    for other in pages:
        other.wait_for_function("() => seen.some((e) => e[0] === 'said')")
        assert other.evaluate("() => seen.find((e) => e[0] === 'said')") == ["said", "hello room"]
    response = page.evaluate("() => new Promise((resolve) => p.writeAndWait({q: 1}, resolve))")
    assert response == {"echo": {"q": 1}}
    control(base, "ask?data=21")
    control(base, "request?data=%22hi%22")
    deadline = time.monotonic() + 5
    while len(control(base, "answers")) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    answers = control(base, "answers")
    assert sorted(json.dumps(a) for a in answers) == sorted(
        json.dumps(a) for a in [42, 42, {"got": "hi"}, {"got": "hi"}]
    )


def test_our_emit_half_against_npm_primus_emit(node_emit_server: str, page_factory: Any) -> None:
    page = page_factory(node_emit_server)
    page.evaluate(
        """() => new Promise((resolve) => {
             window.seen = [];
             window.p = new Primus();
             p.on('pong-emit', (x) => seen.push(x));
             p.on('data', (d) => seen.push(['data', d]));
             p.on('open', resolve);
           })"""
    )
    page.evaluate("() => p.emit('ping-emit', {n: 7})")
    page.wait_for_function("() => seen.length > 0")
    assert page.evaluate("() => seen") == [{"n": 7}]


@pytest.mark.parametrize("long_polling", [False, True])
def test_our_browserchannel_transport_against_node_primus(
    tmp_path: Path, page_factory: Any, long_polling: bool
) -> None:
    """
    Our browser library built for ``browserchannel`` against a Node Primus
    server running the npm ``browserchannel`` server: echoes, Node's
    heartbeat, ``id``, a server-asked reconnect and a server end, streaming
    and long-polling.
    """
    for base in start_node_server(tmp_path, transformer="browserchannel"):
        page = page_factory(base)
        flag = "true" if long_polling else "false"
        page.evaluate(
            "() => { window.primus = new Primus({reconnect: {min: 50},"
            f" transport: {{longPolling: {flag}}}}});"
            " window.log = record(window.primus);"
            " window.pongs = 0; window.primus.on('outgoing::pong', () => window.pongs++); }"
        )
        page.wait_for_function("() => window.log.includes('open')")
        spark_id = page.evaluate("() => new Promise((resolve) => window.primus.id(resolve))")
        assert control(base, "sparks") == [spark_id]
        page.evaluate(
            "() => ['a\\u2028b \\u00e9\\ud83d\\ude00', 0, {x: [1, null]}, 'y'.repeat(20000)]"
            ".forEach((v) => window.primus.write(v))"
        )
        page.wait_for_function("() => window.log.filter((e) => e.startsWith('data:')).length === 4")
        page.wait_for_function("() => window.pongs >= 3")
        assert control(base, "sparks") == [spark_id]
        control(base, "end?reconnect=1")
        page.wait_for_function("() => window.log.filter((e) => e === 'open').length === 2")
        control(base, "end")
        page.wait_for_function("() => window.log.includes('end')")
        log = page.evaluate("() => window.log.slice()")
        assert [e for e in log if e.startswith("data:")][:3] == [
            'data:"a\u2028b \u00e9\U0001f600"',
            "data:0",
            'data:{"x":[1,null]}',
        ]
        assert "error" not in log
        assert log[-3:] == ["readyStateChange:end", "close", "end"]
