"""
The browser library's browserchannel transport (our own BrowserChannel
client, ``primus_tx/transformers/browserchannel/client.js``) in headless
Chromium against a primus-tx server using the browserchannel transformer,
with a streaming back channel and with long polling forced.

Which back channel a page really uses is read from the requests Chromium
makes (Playwright's ``request`` event), not from the client.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from spec_orders import SERVER_ASKED_RECONNECT

OPENED = "() => window.log && window.log.includes('open')"
SERVER = ("--transformer", "browserchannel")


def _until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Traffic:
    """
    The BrowserChannel requests a page made: (method, TYPE, CI, RID) of
    every request to ``/primus/bind``.
    """

    def __init__(self, page: Any) -> None:
        self.binds: list[tuple[str, str, str, str]] = []
        page.on("request", self._request)

    def _request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.path.endswith("/primus/bind"):
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            self.binds.append(
                (request.method, query.get("TYPE", ""), query.get("CI", ""), query.get("RID", ""))
            )

    def back_channels(self) -> set[str]:
        return {ci for method, kind, ci, _ in self.binds if kind == "xmlhttp"}


def open_page(page_factory: Any, server: Any, options: str) -> tuple[Any, Traffic]:
    page = page_factory(server.url)
    traffic = Traffic(page)
    page.evaluate(
        f"() => {{ window.primus = new Primus({options}); window.log = record(window.primus);"
        " window.got = [];"
        " window.primus.on('data', (d) => { window.got.push(d); }); }"
    )
    return page, traffic


def events(page: Any) -> list[str]:
    return page.evaluate("() => window.log.slice()")


def saw_terminate(page: Any, traffic: Traffic) -> bool:
    """
    Whether the page said goodbye (``TYPE=terminate``); Playwright reports
    requests only as the page yields to it, so let it for a while.
    """
    for _ in range(100):
        if any(kind == "terminate" for _, kind, _, _ in traffic.binds):
            return True
        page.wait_for_timeout(50)
    return False


def with_polling(long_polling: bool, more: str = "") -> str:
    options = [f"transport: {{longPolling: {'true' if long_polling else 'false'}}}"]
    if more:
        options.append(more)
    return "{" + ", ".join(options) + "}"


@pytest.mark.parametrize("long_polling", [False, True])
def test_echo_both_back_channels(server_factory: Any, page_factory: Any, long_polling: bool) -> None:
    server = server_factory(*SERVER)
    page, traffic = open_page(page_factory, server, with_polling(long_polling))
    page.wait_for_function(OPENED)
    russian = "\u0420\u0423\u0421\u0421\u041a\u0418\u0419"
    values: list[Any] = [
        0,
        False,
        None,
        "",
        "a\u2028b\u2029c &=+%",
        f"pong{russian} €€€ 😀",
        'quote " backslash \\ newline \n tab \t nul \x00',
        {"nested": [1, 2.5, {"deep": True}]},
        "x" * 30000,
    ]
    page.evaluate("(values) => values.forEach((v) => window.primus.write(v))", values)
    page.wait_for_function(f"() => window.got.length === {len(values)}")
    assert server.control("stats")["received"] == values
    assert page.evaluate("() => window.got") == values
    # Many more than one streaming response carries (10 KiB each).
    page.evaluate("() => { for (let i = 0; i < 100; i++) window.primus.write('m' + i); }")
    page.wait_for_function(f"() => window.got.length === {len(values) + 100}")
    assert page.evaluate(f"() => window.got.slice({len(values)})") == [f"m{i}" for i in range(100)]
    assert traffic.back_channels() == ({"1"} if long_polling else {"0"})
    spark_id = page.evaluate("() => new Promise((resolve) => window.primus.id(resolve))")
    assert server.control("sparks") == [spark_id]
    page.evaluate("() => window.primus.end()")
    _until(lambda: server.control("sparks") == [])
    assert events(page)[-3:] == ["readyStateChange:end", "close", "end"]
    assert saw_terminate(page, traffic)


def test_writes_before_open_are_buffered(server_factory: Any, page_factory: Any) -> None:
    server = server_factory(*SERVER)
    page, traffic = open_page(page_factory, server, "{manual: true}")
    page.evaluate("() => { for (let i = 1; i <= 5; i++) window.primus.write(i); }")
    assert traffic.binds == []
    page.evaluate("() => window.primus.open()")
    server.wait_for(lambda stats: len(stats["received"]) == 5)
    assert server.control("stats")["received"] == [1, 2, 3, 4, 5]
    page.wait_for_function("() => window.got.length === 5")
    # Request ids count up from the bind POST's.
    rids = [int(rid) for method, kind, _, rid in traffic.binds if method == "POST"]
    assert rids == list(range(rids[0], rids[0] + len(rids)))


def test_end_with_data_delivers_it_first(server_factory: Any, page_factory: Any) -> None:
    server = server_factory(*SERVER)
    page, traffic = open_page(page_factory, server, "{}")
    page.wait_for_function(OPENED)
    page.evaluate("() => window.primus.end({last: 'words'})")
    server.wait_for(lambda stats: stats["received"] == [{"last": "words"}])
    _until(lambda: server.control("sparks") == [])
    assert saw_terminate(page, traffic)


@pytest.mark.parametrize("long_polling", [False, True])
def test_ended_by_the_server_does_not_reconnect(
    server_factory: Any, page_factory: Any, long_polling: bool
) -> None:
    server = server_factory(*SERVER)
    page, traffic = open_page(page_factory, server, with_polling(long_polling, "reconnect: {min: 50}"))
    page.wait_for_function(OPENED)
    server.control("end")
    page.wait_for_function("() => window.log.includes('end')")
    binds = len([b for b in traffic.binds if b[0] == "POST" and b[3]])
    page.wait_for_timeout(400)
    assert events(page) == [
        "readyStateChange:opening",
        "readyStateChange:open",
        "open",
        "readyStateChange:end",
        "close",
        "end",
    ]
    assert server.control("stats")["connections"] == 1
    assert len([b for b in traffic.binds if b[0] == "POST" and b[3]]) == binds


def test_server_asks_for_a_reconnect(server_factory: Any, page_factory: Any) -> None:
    server = server_factory(*SERVER)
    page, _ = open_page(page_factory, server, "{reconnect: {min: 50, max: 100}}")
    page.wait_for_function(OPENED)
    first = server.control("sparks")
    server.control("end", reconnect="1")
    page.wait_for_function("() => window.log.filter((e) => e === 'open').length === 2")
    assert events(page)[3:] == SERVER_ASKED_RECONNECT
    second = server.control("sparks")
    assert len(second) == 1 and second != first
    page.evaluate("() => window.primus.write('again')")
    page.wait_for_function("() => window.got.includes('again')")


def test_survives_a_server_restart(server_factory: Any, page_factory: Any) -> None:
    server = server_factory(*SERVER)
    page, _ = open_page(page_factory, server, "{reconnect: {min: 100, max: 300, retries: 100}}")
    page.wait_for_function(OPENED)
    server.restart()
    page.wait_for_function("() => window.log.filter((e) => e === 'open').length === 2")
    log = events(page)
    assert log[3:6] == ["readyStateChange:end", "close", "reconnect scheduled"]
    assert log[-3:] == ["reconnected", "readyStateChange:open", "open"]
    assert "error" not in log and "end" not in log
    page.evaluate("() => window.primus.write('after restart')")
    page.wait_for_function("() => window.got.includes('after restart')")


# -- the official browser client (Closure's BCSocket inside) -----------------------------

BUILD_OFFICIAL = """
const Primus = require('primus');
const http = require('http');
const primus = new Primus(http.createServer(), { transformer: 'browserchannel', pingInterval: 30000 });
require('fs').writeFileSync(process.argv[1], primus.library());
process.exit(0);
"""


@pytest.fixture(scope="module")
def official_library(tmp_path_factory: Any) -> Any:
    import subprocess
    from pathlib import Path

    from tests.conftest import require_tool

    node = require_tool("node")
    peers = Path(__file__).parent.parent / "js"
    path = tmp_path_factory.mktemp("official-bc") / "primus.js"
    subprocess.run([node, "-e", BUILD_OFFICIAL, str(path)], cwd=str(peers), check=True, timeout=30)
    return path


def test_the_official_browser_client_and_ours_report_the_same_events(
    official_library: Any, server_factory: Any, page_factory: Any
) -> None:
    """
    The library a Node Primus server builds for browserchannel (Closure's
    client, test channel included) and ours, in the same Chromium against
    the same primus-tx server: an echo, a server-asked reconnect, an echo
    again, the client's end; the same events in the same order but one.
    """
    from tests.browser.test_browser_official_parity import run_reconnect_scenario

    server = server_factory(*SERVER, "--official", str(official_library))
    ours = run_reconnect_scenario(page_factory(server.url), server)
    _until(lambda: server.control("sparks") == [])
    official = run_reconnect_scenario(page_factory(server.url + "/official"), server)
    # BCSocket reports the server's stop as an error ("Stopped by server")
    # before Primus reconnects; ours, like every other transport, does not.
    assert official.count("error") == 1
    assert official.index("error") == ours.index("readyStateChange:end")
    assert [event for event in official if event != "error"] == ours
    assert ours.count("open") == 2 and ours[-1] == "end"
    _until(lambda: server.control("sparks") == [])
