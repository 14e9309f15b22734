"""
Fixtures for the browser client tests: headless Chromium through
Playwright's synchronous API, and the server under test in a child Python
process (see ``browser_server.py``), so that no test here touches
pytest-twisted's reactor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from tests.conftest import require_tool

HERE = Path(__file__).parent
SERVER_SCRIPT = HERE / "browser_server.py"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# A recorder injected into test pages: every public client event, in
# order, as a string ("readyStateChange:open", "data:<json>").
RECORDER = """
window.record = function record(primus) {
  var log = [];
  ['open', 'data', 'error', 'end', 'close', 'destroy', 'timeout', 'readyStateChange',
   'online', 'offline', 'reconnect scheduled', 'reconnect', 'reconnected',
   'reconnect timeout', 'reconnect failed'].forEach(function (name) {
    primus.on(name, function (arg) {
      if (name === 'readyStateChange') log.push(name + ':' + arg);
      else if (name === 'data') log.push('data:' + JSON.stringify(arg));
      else log.push(name);
    });
  });
  return log;
};
"""


class ServerProcess:
    """
    One run of ``browser_server.py``; ``restart()`` starts a new process
    on the same port (so pages keep their origin).
    """

    #: The server script to run (other scripts beside it serve other tests).
    script = SERVER_SCRIPT

    def __init__(self, *args: str) -> None:
        self.args = list(args)
        self.port = 0
        self.process: Optional[subprocess.Popen[str]] = None

    def start(self) -> ServerProcess:
        command = [sys.executable, str(self.script), "--port", str(self.port), *self.args]
        # The server under test is this checkout's code, whatever copy of
        # primus-tx happens to be installed.
        root = str(HERE.parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
            env=env,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("PORT ") or not line:
                break
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"browser_server.py did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            if process.stdin:
                process.stdin.close()
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()

    def kill(self) -> None:
        """
        Stop abruptly, as a crashed server would.
        """
        process, self.process = self.process, None
        if process is None:
            return
        process.kill()
        process.wait(timeout=5)
        for stream in (process.stdin, process.stdout):
            if stream:
                stream.close()

    def restart(self) -> None:
        self.kill()
        deadline = time.monotonic() + 10
        while True:
            try:
                self.start()
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def control(self, action: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params)
        address = f"{self.url}/control/{action}" + (f"?{query}" if query else "")
        with urllib.request.urlopen(address, timeout=5) as response:
            return json.loads(response.read())

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> Any:
        """
        Poll the server's stats until ``predicate(stats)`` is true.
        """
        deadline = time.monotonic() + timeout
        while True:
            stats = self.control("stats")
            if predicate(stats):
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"server never reached the expected state: {stats}")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def browser_context() -> Iterator[Any]:
    """
    One headless Chromium (fresh profile) per test module; each test gets
    its own page.
    """
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="primus-tx-chromium-") as profile:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=chromium,
                headless=True,
                args=CHROMIUM_ARGS,
            )
            context.set_default_timeout(8000)
            try:
                yield context
            finally:
                context.close()


@pytest.fixture
def server_factory() -> Iterator[Any]:
    """
    ``server_factory(*args)`` starts a ``browser_server.py`` with those
    arguments (``script=`` another server script beside it); every server
    is stopped after the test.
    """
    servers: list[ServerProcess] = []

    def make(*args: str, script: Optional[Path] = None) -> ServerProcess:
        server = ServerProcess(*args)
        if script is not None:
            server.script = script
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def page_factory(browser_context: Any) -> Iterator[Any]:
    """
    ``page_factory(url)`` opens ``url`` in a new page with the event
    recorder installed; pages are closed (and the network put back online)
    after the test.
    """
    pages: list[Any] = []

    def make(url: str) -> Any:
        page = browser_context.new_page()
        pages.append(page)
        page.add_init_script(RECORDER)
        page.goto(url)
        return page

    yield make
    browser_context.set_offline(False)
    for page in pages:
        page.close()
