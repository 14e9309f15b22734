"""
Tests for ``twistd primus``: the command line (primus_tx.tap.Options), the
service tree (makeService), the twistd plugin, and the real thing run in a
subprocess (bind failure, usage errors, SIGTERM with a connected client).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService, IServiceMaker, MultiService
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.plugin import IPlugin, getPlugins
from twisted.python import usage
from zope.interface.verify import verifyObject

from primus_tx import Primus
from primus_tx._events import EventEmitter
from primus_tx.tap import Options, PrimusService, makeService

pytestmark = pytest.mark.timeout(40)

REPO = Path(__file__).resolve().parent.parent

# The twistd of this interpreter, whatever is first on $PATH.
TWISTD = [
    sys.executable,
    "-c",
    "import sys; sys.argv[0] = 'twistd'; from twisted.scripts.twistd import run; run()",
]


def parse(*argv: str) -> Options:
    options = Options()
    options.parseOptions(list(argv))
    return options


def child_env(*extra_paths: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(REPO), *(str(p) for p in extra_paths)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


# -- Options --------------------------------------------------------------------


def test_defaults() -> None:
    """
    With no options: listen on tcp:8080 and Primus's own defaults (seconds
    and bytes, as the Python API takes them).
    """
    options = parse()
    assert options["listen"] == ["tcp:8080"]
    assert options["pathname"] == "/primus"
    assert options["transformer"] == "websockets"
    assert options["parser"] == "json"
    assert options["ping-interval"] == 30.0
    assert options["max-length"] == 10485760
    assert not options["compression"]
    assert options["app"] is None
    assert options["app_callable"] is None
    assert options["static"] is None


def test_listen_repeatable() -> None:
    """
    Every --listen adds an endpoint; the default is only used when none is given.
    """
    options = parse("--listen", "tcp:0:interface=127.0.0.1", "--listen", "unix:/tmp/p.sock")
    assert options["listen"] == ["tcp:0:interface=127.0.0.1", "unix:/tmp/p.sock"]


def test_values_are_coerced() -> None:
    """
    Numbers are parsed, the flag is set, names are kept as given.
    """
    options = parse(
        "--pathname", "/rt", "--ping-interval", "2.5", "--max-length", "1024",
        "--compression", "--transformer", "WebSockets", "--parser", "JSON",
    )
    assert options["pathname"] == "/rt"
    assert options["ping-interval"] == 2.5
    assert options["max-length"] == 1024
    assert options["compression"]
    assert options["transformer"] == "WebSockets"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--ping-interval", "soon"], "is not a number of seconds"),
        (["--ping-interval", "-1"], "is not a number of seconds"),
        (["--max-length", "1.5"], "is not a whole number of bytes"),
        (["--max-length", "-3"], "is not a whole number of bytes"),
        (["--transformer", "carrier-pigeon"], "Available transformers: "),
        (["--parser", "yaml"], "Available parsers: binary, ejson, json, msgpack"),
        (["--parser", "msgpack", "--transformer", "sockjs"], "carries text only"),
        (["--pathname", "/"], "--pathname must be a non-empty path"),
        (["--listen", "carrier:pigeon"], "--listen carrier:pigeon"),
        (["--listen", "ssl:0:privateKey=/no/such/key.pem"], "--listen ssl:0"),
        (["--static", "/no/such/directory"], "not a directory"),
        (["--app", "no_such_module_here:setup"], "cannot import 'no_such_module_here'"),
        (["--app", "json"], "expects module:callable"),
        (["--app", "json:no_such_function"], "has no attribute 'no_such_function'"),
        (["--app", "json.decoder:NaN"], "is not callable"),
        (["--bogus"], "bogus"),
    ],
)
def test_bad_options(argv: list[str], message: str) -> None:
    """
    A bad option stops with a usage error that says what is wrong.
    """
    with pytest.raises(usage.UsageError) as raised:
        parse(*argv)
    assert message in str(raised.value)


def test_app_is_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    --app module:callable is imported while parsing, so a typo is a usage
    error and not a failure after the ports are bound.
    """
    (tmp_path / "tap_sample_app.py").write_text("def setup(primus):\n    primus.seen = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    options = parse("--app", "tap_sample_app:setup")
    import tap_sample_app  # type: ignore[import-not-found]

    assert options["app_callable"] is tap_sample_app.setup


def test_static_directory_accepted(tmp_path: Path) -> None:
    """
    An existing directory is accepted for --static.
    """
    assert parse("--static", str(tmp_path))["static"] == str(tmp_path)


def test_help_lists_every_option() -> None:
    """
    --help documents the options, --listen included.
    """
    text = str(Options())
    for name in ("--listen", "--pathname", "--transformer", "--parser", "--ping-interval",
                 "--max-length", "--compression", "--app", "--static", "--plugin"):
        assert name in text


def test_plugin_option_is_repeatable_and_checked() -> None:
    """
    --plugin names plugins (repeated, or comma-separated), in order, once
    each; an unknown name is a usage error naming the built-in ones.
    """
    assert parse("--plugin", "emitter", "--plugin", "rooms, emit", "--plugin", "emitter")[
        "plugin"
    ] == ["emitter", "rooms", "emit"]
    assert parse()["plugin"] == []
    with pytest.raises(usage.UsageError, match="emitter"):
        parse("--plugin", "nope")
    with pytest.raises(usage.UsageError, match="--plugin"):
        parse("--plugin", "no_such_module:thing")


@pytest_twisted.ensureDeferred
async def test_plugins_reach_the_server() -> None:
    """
    The named plugins are added to the Primus the service makes.
    """
    options = parse("--listen", "tcp:0", "--app", "primus_tx.tap:_echo",
                    "--plugin", "emitter,rooms")
    primus_service = makeService(options, reactor=Clock()).getServiceNamed("primus")
    primus_service.startService()
    try:
        assert sorted(primus_service.primus.plugin()) == ["emitter", "rooms"]
        assert hasattr(primus_service.primus.Spark, "join")
    finally:
        await primus_service.stopService()


# -- the plugin --------------------------------------------------------------------


def test_plugin_found() -> None:
    """
    twistd finds the ``primus`` subcommand through Twisted's plugin system.
    """
    makers = [m for m in getPlugins(IServiceMaker) if m.tapname == "primus"]
    assert len(makers) == 1
    maker = makers[0]
    verifyObject(IServiceMaker, maker)
    verifyObject(IPlugin, maker)
    assert isinstance(maker.options(), Options)
    assert maker.makeService is makeService


def test_modules_do_not_import_the_reactor() -> None:
    """
    Importing the plugin and tap modules installs no reactor, so
    ``twistd --reactor=...`` keeps working for every subcommand.
    """
    code = textwrap.dedent(
        """
        import sys
        from twisted.plugins import primus_plugin
        import primus_tx.tap
        primus_plugin.primus.options
        bad = [m for m in ("twisted.internet.reactor", "autobahn") if m in sys.modules]
        print(bad)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- makeService ----------------------------------------------------------------


def _children(service: MultiService) -> list[Any]:
    return list(service)


def test_make_service_tree() -> None:
    """
    makeService builds a MultiService: the Primus service first, then one
    listening service per --listen, sharing one site; nothing is bound yet.
    """
    reactor = MemoryReactorClock()
    options = parse("--listen", "tcp:0:interface=127.0.0.1", "--listen", "tcp:0")
    service = makeService(options, reactor=reactor)
    assert isinstance(service, MultiService)
    verifyObject(IService, service)
    children = _children(service)
    assert isinstance(children[0], PrimusService)
    assert service.getServiceNamed("primus") is children[0]
    listeners = children[1:]
    assert len(listeners) == 2
    assert all(isinstance(s, StreamServerEndpointService) for s in listeners)
    assert {id(s.factory) for s in listeners} == {id(children[0].site)}
    assert reactor.tcpServers == []


@pytest_twisted.ensureDeferred
async def test_start_and_stop() -> None:
    """
    Starting binds every endpoint and makes the Primus with the options;
    stopping destroys it, which cancels every timer it had.
    """
    reactor = MemoryReactorClock()
    options = parse("--listen", "tcp:0:interface=127.0.0.1", "--pathname", "/rt",
                    "--ping-interval", "5", "--max-length", "2048")
    service = makeService(options, reactor=reactor)
    service.privilegedStartService()
    service.startService()
    try:
        assert len(reactor.tcpServers) == 1
        assert reactor.tcpServers[0][3] == "127.0.0.1"
        primus = service.getServiceNamed("primus").primus
        assert isinstance(primus, Primus)
        assert primus.pathname == "/rt"
        assert primus.options["ping_interval"] == 5.0
        assert primus.max_length == 2048
        assert primus.spec["pingInterval"] == 5000
        assert reactor.getDelayedCalls()
    finally:
        await service.stopService()
    assert service.getServiceNamed("primus").primus is None
    assert reactor.getDelayedCalls() == []


class _FakeSpark(EventEmitter):
    def __init__(self) -> None:
        self.written: list[Any] = []
        self.socket = None

    def write(self, data: Any) -> bool:
        self.written.append(data)
        return True


async def _started(options: Options) -> tuple[PrimusService, Any]:
    """
    Make the service tree on a fake clock and start only its Primus.
    """
    primus_service = makeService(options, reactor=Clock()).getServiceNamed("primus")
    primus_service.startService()
    return primus_service, primus_service.primus


@pytest_twisted.ensureDeferred
async def test_without_demo_serves_text_and_echoes(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    While primus_tx.demo has no demo_root/chat, the root is a plain text page
    and the application echoes every message back to its sender.
    """
    import primus_tx.demo

    monkeypatch.delattr(primus_tx.demo, "demo_root", raising=False)
    monkeypatch.delattr(primus_tx.demo, "chat", raising=False)
    primus_service, primus = await _started(parse())
    try:
        code, body = await _fetch(primus_service.site.resource, "/")
        assert code == 200
        assert b"/primus/primus.js" in body
        spark = _FakeSpark()
        primus.emit("connection", spark)
        spark.emit("data", {"hello": "world"})
        assert spark.written == [{"hello": "world"}]
    finally:
        await primus_service.stopService()


@pytest_twisted.ensureDeferred
async def test_with_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    When primus_tx.demo provides demo_root(pathname) and chat(primus), the
    demo root (made for the configured pathname) is served and chat runs as
    the application.
    """
    from twisted.web.resource import Resource
    from twisted.web.static import Data

    import primus_tx.demo

    root = Resource()
    root.putChild(b"", Data(b"demo page", "text/html"))
    chatted: list[Any] = []
    pathnames: list[str] = []

    def demo_root(pathname: str) -> Resource:
        pathnames.append(pathname)
        return root

    monkeypatch.setattr(primus_tx.demo, "demo_root", demo_root, raising=False)
    monkeypatch.setattr(primus_tx.demo, "chat", chatted.append, raising=False)
    primus_service, primus = await _started(parse("--pathname", "/live"))
    try:
        assert pathnames == ["/live"]
        assert chatted == [primus]
        assert await _fetch(primus_service.site.resource, "/") == (200, b"demo page")
    finally:
        await primus_service.stopService()


@pytest_twisted.ensureDeferred
async def test_static_beside_primus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    --static serves the user's files at / while Primus keeps its pathname.
    """
    import primus_tx.demo

    monkeypatch.setattr(primus_tx.demo, "demo_root", lambda: pytest.fail("demo root used"),
                        raising=False)
    (tmp_path / "hello.txt").write_bytes(b"hi there")
    primus_service, _ = await _started(
        parse("--static", str(tmp_path), "--pathname", "/live")
    )
    try:
        root = primus_service.site.resource
        # static.File streams with a pull producer, which StubTreq does not
        # pump: render it with a DummyRequest instead.
        from twisted.web.resource import getChildForRequest
        from twisted.web.test.requesthelper import DummyRequest

        request = DummyRequest([b"hello.txt"])
        request.path = b"/hello.txt"
        getChildForRequest(root, request).render(request)
        assert request.responseCode == 200
        assert b"".join(request.written) == b"hi there"
        code, body = await _fetch(root, "/live/spec")
        assert code == 200
        assert json.loads(body)["pathname"] == "/live"
    finally:
        await primus_service.stopService()


@pytest_twisted.ensureDeferred
async def test_app_may_be_a_coroutine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    --app is called with the Primus server instead of the demo; a coroutine
    result is run.
    """
    import primus_tx.demo

    monkeypatch.setattr(primus_tx.demo, "chat", lambda p: pytest.fail("demo app used"),
                        raising=False)
    (tmp_path / "tap_async_app.py").write_text(
        "calls = []\n"
        "async def setup(primus):\n"
        "    calls.append(primus)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    primus_service, primus = await _started(parse("--app", "tap_async_app:setup"))
    try:
        import tap_async_app  # type: ignore[import-not-found]

        assert tap_async_app.calls == [primus]
    finally:
        await primus_service.stopService()


@pytest_twisted.ensureDeferred
async def test_app_failure_is_logged() -> None:
    """
    An application whose Deferred fails is reported through twisted.logger.
    """
    from twisted.logger import capturedLogs

    starting: Deferred[None] = Deferred()
    options = parse()
    options["app_callable"] = lambda primus: starting
    service = makeService(options, reactor=Clock())
    primus_service = service.getServiceNamed("primus")
    with capturedLogs() as events:
        primus_service.startService()
        starting.errback(RuntimeError("database is down"))
    try:
        failures = [e for e in events if "log_failure" in e]
        assert len(failures) == 1
        assert failures[0]["log_failure"].check(RuntimeError)
    finally:
        await primus_service.stopService()


async def _fetch(root: Any, path: str) -> tuple[int, bytes]:
    from treq.testing import StubTreq

    stub = StubTreq(root)
    response = await stub.get(f"http://localhost{path}")
    return response.code, await stub.content(response)


# -- the real twistd --------------------------------------------------------------


def test_bind_failure_stops_twistd(tmp_path: Path) -> None:
    """
    A port that is already taken stops twistd at startup with a non-zero
    status and the reason, instead of a daemon that serves nothing.
    """
    busy = socket.socket()
    try:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        out = subprocess.run(
            [*TWISTD, "-n", "--pidfile=", "-l", "-", "primus",
             "--listen", f"tcp:{port}:interface=127.0.0.1"],
            cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=30,
        )
    finally:
        busy.close()
    assert out.returncode != 0
    output = out.stdout + out.stderr
    assert "CannotListenError" in output
    assert f"Couldn't listen on 127.0.0.1:{port}" in output


def test_usage_error_from_twistd(tmp_path: Path) -> None:
    """
    twistd turns the usage error into its usage message and status 1.
    (twistd before 26.10 printed the same message but exited 0.)
    """
    from incremental import Version

    import twisted

    out = subprocess.run(
        [*TWISTD, "-n", "--pidfile=", "primus", "--transformer", "carrier-pigeon"],
        cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=30,
    )
    if twisted.version >= Version("Twisted", 26, 10, 0):
        assert out.returncode == 1
    assert "Unsupported transformer: 'carrier-pigeon'" in out.stdout
    assert "--listen" in out.stdout


class _Twistd:
    """
    A twistd child process whose output is watched line by line.
    """

    def __init__(self, reactor: Any) -> None:
        from twisted.internet.protocol import ProcessProtocol

        self.output = ""
        self.ended: Deferred[Any] = Deferred()
        self._waiting: list[tuple[re.Pattern[str], Deferred[re.Match[str]]]] = []
        outer = self

        class Protocol(ProcessProtocol):
            def outReceived(self, data: bytes) -> None:
                outer._received(data)

            errReceived = outReceived

            def processEnded(self, reason: Any) -> None:
                outer.ended.callback(reason.value)
                for _, waiter in outer._waiting:
                    waiter.errback(AssertionError("twistd ended:\n" + outer.output))
                outer._waiting = []

        self.protocol = Protocol()
        self._reactor = reactor

    def _received(self, data: bytes) -> None:
        self.output += data.decode("utf-8", "replace")
        for pattern, waiter in list(self._waiting):
            found = pattern.search(self.output)
            if found:
                self._waiting.remove((pattern, waiter))
                waiter.callback(found)

    def wait_for(self, pattern: str, timeout: float = 15) -> Deferred[re.Match[str]]:
        compiled = re.compile(pattern)
        waiter: Deferred[re.Match[str]] = Deferred()
        found = compiled.search(self.output)
        if found:
            waiter.callback(found)
        else:
            self._waiting.append((compiled, waiter))
            waiter.addTimeout(timeout, self._reactor)
        return waiter


async def _serve_and_terminate(
    reactor: Any, tmp_path: Path, transformer: str = "websockets"
) -> dict[str, Any]:
    """
    Run ``twistd -n primus`` with an echo application on a free port,
    connect a WebSocket client, check the echo, send SIGTERM, and report
    what the client and the process saw.
    """
    from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
    from twisted.internet.endpoints import TCP4ClientEndpoint

    (tmp_path / "tap_echo_app.py").write_text(
        "def setup(primus):\n"
        "    primus.on('connection', lambda spark: spark.on('data', spark.write))\n"
    )
    child = _Twistd(reactor)
    process = reactor.spawnProcess(
        child.protocol, sys.executable,
        [*TWISTD, "-n", "--pidfile=", "-l", "-", "primus",
         "--listen", "tcp:0:interface=127.0.0.1", "--app", "tap_echo_app:setup",
         "--transformer", transformer],
        env=child_env(tmp_path), path=str(tmp_path),
    )
    client: Any = None
    try:
        port = int((await child.wait_for(r"Site starting on (\d+)")).group(1))

        opened: Deferred[None] = Deferred()
        closed: Deferred[Any] = Deferred()
        messages: list[str] = []

        class Client(WebSocketClientProtocol):
            def onOpen(self) -> None:
                opened.callback(None)

            def onMessage(self, payload: bytes, isBinary: bool) -> None:
                messages.append(payload.decode("utf-8"))

            def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:
                if not closed.called:
                    closed.callback((wasClean, self.remoteCloseCode))

        eio = transformer == "engine.io"
        path = "/primus/?EIO=4&transport=websocket" if eio else "/primus"
        factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}{path}")
        factory.protocol = Client
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=5)
        client = await endpoint.connect(factory)
        await opened.addTimeout(10, reactor)
        client.sendMessage(b'4"hello"' if eio else b'"hello"', False)
        for _ in range(200):  # at most 10 s
            if [m for m in messages if "hello" in m] or closed.called:
                break
            tick: Deferred[None] = Deferred()
            reactor.callLater(0.05, tick.callback, None)
            await tick
        assert [m for m in messages if not m.startswith("0{")] == (
            ['4"hello"'] if eio else ['"hello"']
        ), child.output

        process.signalProcess("TERM")
        clean, code = await closed.addTimeout(10, reactor)
        reason = await child.ended.addTimeout(15, reactor)
    finally:
        if client is not None and client.transport is not None:
            client.transport.abortConnection()
        if not child.ended.called:
            process.signalProcess("KILL")
            await child.ended
    return {"messages": messages, "clean": clean, "code": code, "reason": reason,
            "output": child.output}


@pytest_twisted.ensureDeferred
async def test_sigterm_closes_sparks(reactor: Any, tmp_path: Path) -> None:
    """
    SIGTERM shuts Primus down cleanly: the connected client is told the
    server closed (``primus::server::close``, then the WebSocket close
    handshake) before twistd tears the sockets down.  Like every twistd, it
    then re-raises the signal, so the status is "terminated by SIGTERM",
    after a shutdown that logged no error.
    """
    seen = await _serve_and_terminate(reactor, tmp_path)
    output = seen["output"]
    assert seen["messages"] == ['"hello"', '"primus::server::close"']
    # A completed close handshake whose frame carried no status code (the
    # peer reports 1005), as Node Primus closes.
    assert (seen["clean"], seen["code"]) == (True, None), output
    assert seen["reason"].signal == signal.SIGTERM, output
    assert "Main loop terminated." in output
    assert not re.search(r"#(warn|error|critical)\]", output), output


@pytest_twisted.ensureDeferred
async def test_sigterm_sends_engineio_clients_the_close_packet(reactor: Any, tmp_path: Path) -> None:
    """
    With the engine.io transformer the client gets Primus's close message,
    then engine.io's close packet, then the WebSocket close.
    """
    seen = await _serve_and_terminate(reactor, tmp_path, "engine.io")
    packets = [m for m in seen["messages"] if not m.startswith("0{")]
    assert packets == ['4"hello"', '4"primus::server::close"', "1"], seen["output"]
    assert seen["clean"] is True, seen["output"]
    assert seen["reason"].signal == signal.SIGTERM, seen["output"]


@pytest_twisted.ensureDeferred
async def test_log_has_no_debug_noise(reactor: Any, tmp_path: Path) -> None:
    """
    twistd's log is a production log: a connection that opens, echoes and
    closes logs nothing at debug level (Autobahn's per-frame debug
    messages stay behind txaio's log level).
    """
    seen = await _serve_and_terminate(reactor, tmp_path)
    debug = [line for line in seen["output"].splitlines() if "#debug]" in line]
    assert debug == []


@pytest_twisted.ensureDeferred
async def test_listen_backlog_is_511_unless_the_endpoint_says() -> None:
    """
    Twisted's endpoints listen with a backlog of 50; ``twistd primus``
    asks for Node's 511, and an endpoint's own ``backlog=`` wins.
    """
    reactor = MemoryReactorClock()
    options = parse("--listen", "tcp:0:interface=127.0.0.1", "--listen", "tcp:0:backlog=7")
    service = makeService(options, reactor=reactor)
    service.privilegedStartService()
    service.startService()
    try:
        assert [server[2] for server in reactor.tcpServers] == [511, 7]
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_hardening_flags_reach_primus() -> None:
    reactor = MemoryReactorClock()
    options = parse("--max-buffered", "65536", "--slow-client", "drop", "--header-timeout", "3",
                    "--max-pending", "9", "--max-pending-per-address", "2")
    service = makeService(options, reactor=reactor)
    service.startService()
    try:
        primus = service.getServiceNamed("primus").primus
        assert {k: primus.options[k] for k in ("max_buffered", "slow_client", "header_timeout",
                                             "max_pending", "max_pending_per_address")} == {
            "max_buffered": 65536, "slow_client": "drop", "header_timeout": 3.0,
            "max_pending": 9, "max_pending_per_address": 2,
        }
    finally:
        await service.stopService()


@pytest.mark.parametrize("argv", [("--slow-client", "ignore"), ("--max-buffered", "10")])
def test_bad_hardening_flags_are_usage_errors(argv) -> None:
    with pytest.raises(usage.UsageError):
        parse(*argv)


@pytest.mark.parametrize("parser", ["ejson", "msgpack", "binary", "MsgPack"])
@pytest_twisted.ensureDeferred
async def test_every_built_in_parser_is_accepted(parser: str) -> None:
    primus_service, primus = await _started(parse("--parser", parser))
    try:
        assert primus.parser.name == parser.lower()
    finally:
        await primus_service.stopService()
