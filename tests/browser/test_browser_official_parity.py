"""
Our served client and the official Primus 8 client (the library a Node
Primus server builds, from tests/js/node_modules/primus) run the same
scenarios in the same Chromium against the same primus-tx server, and must
report the same events in the same order.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import require_tool

JS_PEERS = Path(__file__).parent.parent / "js"

BUILD_OFFICIAL = """
const Primus = require('primus');
const http = require('http');
const primus = new Primus(http.createServer(), { pingInterval: 30000 });
require('fs').writeFileSync(process.argv[1], primus.library());
process.exit(0);
"""


@pytest.fixture(scope="module")
def official_library(tmp_path_factory: Any) -> Iterator[Path]:
    node = require_tool("node")
    if not (JS_PEERS / "node_modules" / "primus").is_dir():
        pytest.fail("tests/js/node_modules is missing: run `npm ci` in tests/js")
    path = tmp_path_factory.mktemp("official") / "primus.js"
    subprocess.run(
        [node, "-e", BUILD_OFFICIAL, str(path)], cwd=str(JS_PEERS), check=True, timeout=30
    )
    yield path


def run_reconnect_scenario(page: Any, server: Any) -> list[str]:
    """
    Connect, echo, be told to reconnect by the server, echo again, end.
    """
    page.evaluate(
        "() => { window.primus = new Primus({reconnect: {min: 50}});"
        " window.log = record(window.primus); }"
    )
    page.wait_for_function("() => window.log.includes('open')")
    page.evaluate("() => window.primus.write({hello: 'world'})")
    page.wait_for_function("() => window.log.some((e) => e.startsWith('data:'))")
    server.control("end", reconnect="1")
    page.wait_for_function("() => window.log.filter((e) => e === 'open').length === 2")
    page.evaluate("() => window.primus.write('again')")
    page.wait_for_function("() => window.log.includes('data:\"again\"')")
    page.evaluate("() => window.primus.end()")
    return page.evaluate("() => window.log.slice()")


def run_failing_reconnect_scenario(page: Any, server: Any) -> list[str]:
    """
    Connect, lose the server for good, exhaust two retries.
    """
    page.evaluate(
        "() => { window.primus = new Primus({reconnect: {min: 50, max: 100, retries: 2}});"
        " window.log = record(window.primus); }"
    )
    page.wait_for_function("() => window.log.includes('open')")
    server.kill()
    page.wait_for_function("() => window.log.includes('reconnect failed')")
    page.wait_for_timeout(200)  # anything that would still follow
    return page.evaluate("() => window.log.slice()")


def test_same_events_when_the_server_asks_for_a_reconnect(
    official_library: Path, server_factory: Any, page_factory: Any
) -> None:
    server = server_factory("--official", str(official_library))
    ours = run_reconnect_scenario(page_factory(server.url), server)
    official = run_reconnect_scenario(page_factory(server.url + "/official"), server)
    assert ours == official
    assert ours.count("open") == 2 and ours[-1] == "end"


def test_same_events_when_reconnecting_fails(
    official_library: Path, server_factory: Any, page_factory: Any
) -> None:
    logs = []
    for path in ("/", "/official"):
        server = server_factory("--official", str(official_library))
        logs.append(run_failing_reconnect_scenario(page_factory(server.url + path), server))
    ours, official = logs
    assert ours == official
    assert ours.count("reconnect scheduled") == 2
    assert ours.index("end") < ours.index("reconnect failed")
