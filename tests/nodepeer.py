"""
Real Node peers for the interop tests: the official Primus 8 client and
server from npm, each in a long-lived Node process driven over stdin/stdout
(tests/js/primus_client_driver.js and tests/js/primus_server_driver.js;
their protocols are documented at the top of each file).

Why a Python API over a child process rather than a Node test suite: the
assertions belong next to our server (or client) in the same reactor, so a
test can see both sides of one conversation and the order of their events.

Usage::

    client = await NodePrimusClient.start(reactor)
    client.send({"op": "connect", "url": url})
    await client.wait_for("open", timeout=5)
    ...
    await client.stop()            # always kills the process

    server = await NodePrimusServer.start(reactor, {"pingInterval": False})
    server.port

Every wait is bounded: a timeout raises :class:`PeerTimeout` whose message
lists the events seen so far and the process's stderr, which is what one
needs to understand a failed interop test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
from base64 import b64decode, b64encode
from pathlib import Path
from typing import Any, Callable, Optional

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

__all__ = [
    "JS_DIR",
    "NodePeer",
    "NodePrimusClient",
    "NodePrimusServer",
    "PeerExited",
    "PeerTimeout",
    "after",
    "from_wire",
    "lifecycle",
    "node_path",
    "to_wire",
]

JS_DIR = Path(__file__).resolve().parent / "js"

Event = dict[str, Any]
Matcher = Callable[[Event], bool]


class PeerTimeout(AssertionError):
    """
    An awaited event did not come in time.
    """


class PeerExited(AssertionError):
    """
    The Node process ended while an event was awaited.
    """


def _require_tool(name: str) -> str:
    """
    ``require_tool`` from tests/conftest.py, loaded by path: two conftest
    modules share the module name ``conftest``, so importing it by name
    would pick whichever pytest loaded last.
    """
    module = sys.modules.get("_primus_tx_tests_conftest")
    if module is None:
        spec = importlib.util.spec_from_file_location(
            "_primus_tx_tests_conftest", Path(__file__).resolve().parent / "conftest.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module.require_tool(name)  # type: ignore[no-any-return]


def node_path() -> str:
    """
    The ``node`` executable, after checking that the pinned npm packages are
    installed (skips on a developer machine without node, fails in CI).
    """
    node = _require_tool("node")
    if (
        not (JS_DIR / "node_modules" / "primus").is_dir()
        or not (JS_DIR / "node_modules" / "ws").is_dir()
    ):
        raise RuntimeError(
            f"The npm test peers are not installed: run `npm ci` in {JS_DIR} "
            "(it installs the versions pinned in package-lock.json)."
        )
    return node


def to_wire(value: Any) -> Any:
    """
    ``value`` as the drivers expect it: ``bytes`` become ``{"$binary": base64}``.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$binary": b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {key: to_wire(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(item) for item in value]
    return value


def from_wire(value: Any) -> Any:
    """
    The inverse of :func:`to_wire`, applied to every event's ``args``.
    """
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("$binary"), str):
            return b64decode(value["$binary"])
        return {key: from_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_wire(item) for item in value]
    return value


#: The client's public life-cycle events (no data, pings or socket details).
LIFECYCLE = frozenset(
    (
        "open", "end", "close", "readyStateChange", "reconnect scheduled", "reconnect",
        "reconnected", "reconnect failed", "reconnect timeout", "online", "offline", "timeout",
    )
)  # fmt: skip


def lifecycle(peer: NodePeer, client: str = "default") -> list[str]:
    """
    The life-cycle event names of one client, ``readyStateChange`` with its
    state (``"readyStateChange:open"``), for order assertions against
    docs/protocol/primus.rst, "Client events and their orders".
    """
    out = []
    for event in peer.events:
        if event.get("client") != client or event["event"] not in LIFECYCLE:
            continue
        name = event["event"]
        if name == "readyStateChange":
            name = f"readyStateChange:{event['args'][0]}"
        out.append(name)
    return out


def after(names: list[str], first: str, n: int = 1) -> list[str]:
    """
    The names that follow the ``n``-th ``first``.
    """
    seen = 0
    for index, name in enumerate(names):
        if name == first:
            seen += 1
            if seen == n:
                return names[index + 1 :]
    raise AssertionError(f"no {first!r} #{n} in {names}")


class _Lines(ProcessProtocol):
    """
    Newline-delimited JSON from the driver's stdout; stderr kept for
    diagnostics.
    """

    def __init__(self, peer: NodePeer) -> None:
        self._peer = peer
        self._buffer = b""

    def outReceived(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self._peer._line(line)

    def errReceived(self, data: bytes) -> None:
        self._peer.stderr += data.decode("utf-8", "replace")

    def processEnded(self, reason: Failure) -> None:
        self._peer._ended(reason)


class _Waiter:
    __slots__ = ("call", "d", "description", "matcher", "n")

    def __init__(self, matcher: Matcher, n: int, description: str, d: Deferred[Event]) -> None:
        self.matcher = matcher
        self.n = n
        self.description = description
        self.d = d
        self.call: Any = None


class NodePeer:
    """
    One Node driver process and the events it has reported.

    :ivar events: every event so far, in order, as ``{"event", "args", "t",
        ...}`` dicts with binary values already decoded to ``bytes``.
    :ivar stderr: what the process wrote to stderr.
    """

    script = ""
    #: The event the driver prints once it can take commands.
    ready_event = "ready"

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self.events: list[Event] = []
        self.stderr = ""
        self._waiters: list[_Waiter] = []
        self._process: Any = None
        self._exit: Optional[Failure] = None
        self._exit_waiters: list[Deferred[None]] = []

    # -- life cycle --------------------------------------------------------

    def _spawn(self, *arguments: str, node: Optional[str] = None) -> None:
        node = node or node_path()
        env = dict(os.environ)
        env["NODE_PATH"] = str(JS_DIR / "node_modules")
        self._process = self._reactor.spawnProcess(
            _Lines(self),
            node,
            [node, str(JS_DIR / self.script), *arguments],
            env=env,
            path=str(JS_DIR),
        )

    async def _started(self, timeout: float) -> None:
        try:
            await self.wait_for(self.ready_event, timeout=timeout)
        except BaseException:
            await self.stop()
            raise

    @property
    def running(self) -> bool:
        """
        Whether the Node process is still alive.
        """
        return self._process is not None and self._exit is None

    async def stop(self, timeout: float = 3.0) -> None:
        """
        End the process: ask it to exit, then kill it if it does not.  Safe to
        call more than once and after the process died by itself.
        """
        if self._process is None or self._exit is not None:
            return
        ended: Deferred[None] = Deferred()
        self._exit_waiters.append(ended)
        try:
            self.send({"op": "exit"})
            self._process.closeStdin()
        except Exception:
            pass
        call = self._reactor.callLater(timeout, self._kill)
        try:
            await ended
        finally:
            if call.active():
                call.cancel()

    def _kill(self) -> None:
        try:
            self._process.signalProcess(signal.SIGKILL)
        except ProcessExitedAlready:
            pass

    def _ended(self, reason: Failure) -> None:
        self._exit = reason
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if waiter.call is not None and waiter.call.active():
                waiter.call.cancel()
            if not waiter.d.called:
                clean = reason.check(ProcessDone) is not None
                waiter.d.errback(
                    PeerExited(
                        f"{self.script} exited ({'cleanly' if clean else reason.value}) "
                        f"while waiting for {waiter.description}\n{self.report()}"
                    )
                )
        exits, self._exit_waiters = self._exit_waiters, []
        for d in exits:
            d.callback(None)

    # -- talking -----------------------------------------------------------

    def send(self, command: dict[str, Any]) -> None:
        """
        Send one command (binary values as ``bytes``; they are encoded here).
        """
        if not self.running:
            raise PeerExited(f"{self.script} is not running\n{self.report()}")
        line = json.dumps(to_wire(command), ensure_ascii=False, separators=(",", ":"))
        self._process.write(line.encode("utf-8") + b"\n")

    def _line(self, line: bytes) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            self.stderr += "[stdout, not JSON] " + line.decode("utf-8", "replace") + "\n"
            return
        if isinstance(event, dict) and "args" in event:
            event["args"] = from_wire(event["args"])
        self.events.append(event)
        for waiter in list(self._waiters):
            if self._count(waiter.matcher) >= waiter.n:
                self._waiters.remove(waiter)
                if waiter.call is not None and waiter.call.active():
                    waiter.call.cancel()
                waiter.d.callback(self._nth(waiter.matcher, waiter.n))

    # -- looking at events -------------------------------------------------

    def _matcher(
        self, name: Optional[str], where: Optional[Matcher], extra: dict[str, Any]
    ) -> Matcher:
        def matches(event: Event) -> bool:
            if name is not None and event.get("event") != name:
                return False
            for key, value in extra.items():
                if event.get(key) != value:
                    return False
            return where is None or bool(where(event))

        return matches

    def _count(self, matcher: Matcher) -> int:
        return sum(1 for event in self.events if matcher(event))

    def _nth(self, matcher: Matcher, n: int) -> Event:
        seen = 0
        for event in self.events:
            if matcher(event):
                seen += 1
                if seen == n:
                    return event
        raise LookupError(n)

    def _filters(self) -> dict[str, Any]:
        return {}

    def wait_for(
        self,
        name: Optional[str],
        timeout: float = 5.0,
        *,
        n: int = 1,
        where: Optional[Matcher] = None,
        **filters: Any,
    ) -> Deferred[Event]:
        """
        The ``n``-th event called ``name`` (``None``: any event) that also
        satisfies ``where(event)`` and has the given top-level fields (for
        example ``client="c1"``), counting events already received.

        :raises PeerTimeout: after ``timeout`` seconds, listing the events seen.
        :raises PeerExited: if the process ends first.
        """
        matcher = self._matcher(name, where, filters)
        description = f"event #{n} {name!r}" + (f" with {filters}" if filters else "")
        if self._count(matcher) >= n:
            from twisted.internet.defer import succeed

            return succeed(self._nth(matcher, n))
        d: Deferred[Event] = Deferred()
        if self._exit is not None:
            d.errback(PeerExited(f"{self.script} has exited; {description}\n{self.report()}"))
            return d
        waiter = _Waiter(matcher, n, description, d)
        self._waiters.append(waiter)
        waiter.call = self._reactor.callLater(timeout, self._timed_out, waiter, timeout)
        return d

    def _timed_out(self, waiter: _Waiter, timeout: float) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        if not waiter.d.called:
            waiter.d.errback(
                PeerTimeout(
                    f"no {waiter.description} from {self.script} within {timeout} s\n"
                    f"{self.report()}"
                )
            )

    def named(self, name: str, **filters: Any) -> list[Event]:
        """
        Every event called ``name`` with those top-level fields.
        """
        matcher = self._matcher(name, None, filters)
        return [event for event in self.events if matcher(event)]

    def names(self, **filters: Any) -> list[str]:
        """
        The names of the events (with those top-level fields), in order: what
        event-order assertions compare.
        """
        matcher = self._matcher(None, None, filters)
        return [event["event"] for event in self.events if matcher(event)]

    def report(self, last: int = 60) -> str:
        """
        The last events and stderr, for failure messages.
        """
        lines = [f"events seen ({len(self.events)}, last {last}):"]
        for event in self.events[-last:]:
            lines.append("  " + json.dumps(event, ensure_ascii=False, default=repr)[:300])
        if self.stderr:
            lines.append("stderr:\n" + self.stderr[-3000:])
        return "\n".join(lines)


class NodePrimusClient(NodePeer):
    """
    The official Primus 8 client (one process, any number of named clients).

    Commands take an optional ``"client"`` name (default ``"default"``) and
    events carry it, so ``wait_for("open", client="c2")`` waits for that one.
    """

    script = "primus_client_driver.js"

    #: The transformer :meth:`connect` builds clients with when not told.
    transformer = "websockets"

    @classmethod
    async def start(
        cls, reactor: Any, *, node: Optional[str] = None, timeout: float = 10.0
    ) -> NodePrimusClient:
        """
        Start the driver and wait until it takes commands.
        """
        peer = cls(reactor)
        peer._spawn(node=node)
        await peer._started(timeout)
        return peer

    def connect(
        self,
        url: str,
        options: Optional[dict[str, Any]] = None,
        *,
        client: str = "default",
        transformer: Optional[str] = None,
        parser: str = "json",
        socket: Optional[dict[str, Any]] = None,
        npm_plugins: Optional[dict[str, str]] = None,
    ) -> None:
        """
        Create a client (``Primus.createSocket(...)`` then ``new Socket(url,
        options)``); it opens by itself unless ``options["manual"]``.
        ``npm_plugins`` maps plugin names to the npm packages (pinned in
        tests/js) the client is compiled with.
        """
        command: dict[str, Any] = {
            "op": "connect",
            "client": client,
            "url": url,
            "options": options or {},
            "transformer": transformer or self.transformer,
            "parser": parser,
        }
        if socket:
            command["socket"] = socket
        if npm_plugins:
            command["npm_plugins"] = npm_plugins
        self.send(command)

    async def open_client(
        self,
        url: str,
        options: Optional[dict[str, Any]] = None,
        *,
        client: str = "default",
        timeout: float = 5.0,
        **connect: Any,
    ) -> Event:
        """
        :meth:`connect` and wait for that client's first ``open``.
        """
        self.connect(url, options, client=client, **connect)
        return await self.wait_for("open", timeout, client=client)

    def write(self, data: Any, client: str = "default") -> None:
        self.send({"op": "write", "client": client, "data": data})

    def eval(self, code: str, client: str = "default") -> Deferred[Event]:
        """
        Run JavaScript with ``client`` in scope; fires with the ``eval`` (or
        fails with the ``eval error``) event of this call.
        """
        before = len(self.named("eval", client=client)) + len(
            self.named("eval error", client=client)
        )
        self.send({"op": "eval", "client": client, "code": code})
        d = self.wait_for(
            None,
            where=lambda e: e.get("event") in ("eval", "eval error"),
            n=before + 1,
            client=client,
        )
        return d.addCallback(_eval_result)


def _eval_result(event: Event) -> Event:
    if event["event"] == "eval error":
        raise AssertionError(f"JavaScript failed: {event['args'][0]}")
    return event


async def end_after_writes(server: NodePrimusServer, socket: Any, spark: str) -> list[tuple[str, Any]]:
    """
    Write ``0``, ``1``, ``2`` on a Python client ``socket``, then
    ``end({"last": "words"})``; once the Node server's spark ``spark`` has
    ended, what it heard and its end, in order (``("data", value)``,
    ``("end", None)``): the contract of ``end(data)`` is that all of it
    arrives before the end.
    """
    for n in range(3):
        socket.write(n)
    await socket.end({"last": "words"})
    await server.wait_for("end", timeout=10, where=lambda e: e["args"][0]["id"] == spark)
    return [
        (e["event"], e["args"][0].get("data"))
        for e in server.events
        if e["event"] in ("data", "end") and e["args"][0]["id"] == spark
    ]


#: What :func:`end_after_writes` expects the spark to hear.
HEARD_BEFORE_END = [("data", 0), ("data", 1), ("data", 2), ("data", {"last": "words"}), ("end", None)]


class NodePrimusServer(NodePeer):
    """
    A Node Primus 8 server on 127.0.0.1 (see primus_server_driver.js for
    the configuration keys and commands).

    :ivar port: the port it listens on.
    """

    script = "primus_server_driver.js"
    ready_event = "listening"
    port: int = 0

    @classmethod
    async def start(
        cls,
        reactor: Any,
        config: Optional[dict[str, Any]] = None,
        *,
        node: Optional[str] = None,
        timeout: float = 10.0,
    ) -> NodePrimusServer:
        """
        Start the server and wait until it listens.
        """
        peer = cls(reactor)
        peer._spawn(json.dumps(config or {}), node=node)
        await peer._started(timeout)
        peer.port = int(peer.named("listening")[0]["port"])
        return peer

    @property
    def url(self) -> str:
        """
        The base URL a client connects to (Primus adds the pathname).
        """
        return f"http://127.0.0.1:{self.port}"

    def eval(self, code: str) -> Deferred[Event]:
        """
        Run JavaScript with ``primus`` in scope; fires with the result event.
        """
        before = len(self.named("eval")) + len(self.named("eval error"))
        self.send({"op": "eval", "code": code})
        d = self.wait_for(
            None, where=lambda e: e.get("event") in ("eval", "eval error"), n=before + 1
        )
        return d.addCallback(_eval_result)
