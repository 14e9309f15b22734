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


@pytest.fixture
def node_server(tmp_path: Path) -> Iterator[str]:
    node = require_tool("node")
    library = tmp_path / "primus.js"
    # Compiled as a primus-tx server pinging every 0.3 s would compile it.
    Primus(None, reactor=Clock(), ping_interval=0.3).save(str(library))
    process = subprocess.Popen(
        [node, str(HERE / "node_server.js"), str(library)],
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
