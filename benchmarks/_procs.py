"""
Child processes for the runner: the servers under test, the Node load
generators, and what ``/proc`` says about them (CPU seconds, RSS, open
file descriptors) — psutil-free, Linux only.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from typing import Any, Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SERVERS_DIR = os.path.join(HERE, "servers")
LOADGEN = os.path.join(HERE, "loadgen", "loadgen.js")
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")

_PRIMUS_TX = [sys.executable, os.path.join(SERVERS_DIR, "primus_tx_echo.py")]

# name -> (command, protocol the load generator speaks to it)
SERVERS: dict[str, tuple[list[str], str]] = {
    "primus-tx": (_PRIMUS_TX, "primus"),
    "primus-tx-uws": (_PRIMUS_TX + ["--transformer", "uws"], "primus"),
    # Autobahn under Primus: the websockets transformer's other engine
    "primus-tx-faye": (_PRIMUS_TX + ["--transformer", "faye"], "primus"),
    "autobahn": ([sys.executable, os.path.join(SERVERS_DIR, "autobahn_echo.py")], "raw"),
    "node-primus": (["node", os.path.join(SERVERS_DIR, "node_primus_echo.js")], "primus"),
    "socketio": ([sys.executable, os.path.join(SERVERS_DIR, "socketio_echo.py")], "socketio"),
    # primus-tx's other transformers, same echo application
    "primus-tx-eio": (_PRIMUS_TX + ["--transformer", "engine.io"], "eio"),
    "primus-tx-sockjs": (_PRIMUS_TX + ["--transformer", "sockjs"], "sockjs"),
    "primus-tx-sockjs-raw": (_PRIMUS_TX + ["--transformer", "sockjs"], "sockjs-raw"),
    # the same servers with rooms (S6): the rooms plugin, primus-rooms,
    # python-socketio's own rooms
    "primus-tx-rooms": (_PRIMUS_TX + ["--rooms"], "primus"),
    "node-primus-rooms": (
        ["node", os.path.join(SERVERS_DIR, "node_primus_echo.js"), "--rooms"],
        "primus",
    ),
    "socketio-rooms": (
        [sys.executable, os.path.join(SERVERS_DIR, "socketio_echo.py"), "--rooms"],
        "socketio",
    ),
    # primus-tx's binary parsers, same echo application (websockets)
    "primus-tx-msgpack": (_PRIMUS_TX + ["--parser", "msgpack"], "primus-msgpack"),
    "primus-tx-binary": (_PRIMUS_TX + ["--parser", "binary"], "primus-binary"),
    # the HTTP-only transports: Engine.IO long-polling and BrowserChannel
    "primus-tx-eio-polling": (_PRIMUS_TX + ["--transformer", "engine.io"], "eio-polling"),
    "primus-tx-bc": (_PRIMUS_TX + ["--transformer", "browserchannel"], "bc"),
    # primus-tx as one node of a cluster (the plugin's cost on one node, S1)
    "primus-tx-cluster": (_PRIMUS_TX, "primus"),
    # primus-tx with the metrics plugin counting every message
    "primus-tx-metrics": (_PRIMUS_TX + ["--metrics"], "primus"),
}

#: Servers that always run with the run's Redis.
CLUSTERED = frozenset(("primus-tx-cluster",))


class RedisProc:
    """
    A private redis-server on a free loopback port, nothing saved.
    """

    def __init__(self) -> None:
        import socket
        import tempfile

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="bench-redis-")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(
                ["redis-cli", "-p", str(self.port), "PING"], capture_output=True, timeout=5
            )
            if ping.stdout.strip() == b"PONG":
                break
            time.sleep(0.05)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


_redis: list[RedisProc] = []


def shared_redis() -> str:
    """
    The URL of the run's redis-server, started on first use and killed when
    the runner exits.
    """
    if not _redis:
        import atexit

        _redis.append(RedisProc())
        atexit.register(_redis[0].stop)
    return _redis[0].url


#: The servers that run primus-tx: they import it from this tree (not from
#: wherever an editable install points), under any interpreter.
PRIMUS_TX_SERVERS = {name for name, (command, _) in SERVERS.items() if command[:2] == _PRIMUS_TX}


def interpreter_server(python: str, transformer: str = "websockets") -> str:
    """
    Register primus-tx's echo server under another interpreter (``pypy3``,
    a virtualenv's ``bin/python``...) as one more server, and return its
    name: ``primus-tx@<interpreter>``, or ``primus-tx-uws@<interpreter>``
    for another ``transformer``.

    The interpreter needs primus-tx's dependencies installed; primus-tx
    itself comes from this tree.
    """
    label = os.path.basename(os.path.normpath(python))
    if label in ("python", "python3") and os.path.basename(os.path.dirname(python)) == "bin":
        # A virtualenv's bin/python: name it after the virtualenv.
        label = os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(python))))
    prefix = "primus-tx" if transformer == "websockets" else f"primus-tx-{transformer}"
    name = f"{prefix}@{label}"
    SERVERS[name] = ([python, _PRIMUS_TX[1], "--transformer", transformer], "primus")
    PRIMUS_TX_SERVERS.add(name)
    return name


def node_available() -> bool:
    return shutil.which("node") is not None and os.path.isdir(
        os.path.join(ROOT, "tests", "js", "node_modules", "primus")
    )


def _read_line(stream: Any, deadline: float) -> str:
    """
    One line from a child's stdout, or ``TimeoutError`` at ``deadline``.
    """
    fd = stream.fileno()
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("child process did not answer in time")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1)
            if not chunk:
                raise EOFError("child process closed its stdout")
            buf += chunk
    return buf.decode()


class ProcStat:
    """
    ``/proc/<pid>`` readings of one process (all its threads).
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu(self) -> float:
        """
        User + system CPU seconds used so far.
        """
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK

    def rss(self) -> int:
        """
        Resident set size in bytes.
        """
        with open(f"/proc/{self.pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))


class Server:
    """
    One server under test in its own process, listening on 127.0.0.1.
    """

    def __init__(self, name: str, ping: float = 30.0, redis: Optional[str] = None) -> None:
        command, self.proto = SERVERS[name]
        self.name = name
        if redis is None and name in CLUSTERED:
            redis = shared_redis()
        extra = ["--redis", redis] if redis else []
        env = None
        if name in PRIMUS_TX_SERVERS:
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, (ROOT, env.get("PYTHONPATH"))))
        self.proc = subprocess.Popen(
            command + ["--port", "0", "--ping", str(ping)] + extra,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env=env,
        )
        self.stat = ProcStat(self.proc.pid)
        try:
            line = _read_line(self.proc.stdout, time.monotonic() + 30)
        except BaseException:
            self.stop()
            raise
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"{name} did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LoadGen:
    """
    One Node load-generator process and its line protocol.
    """

    def __init__(self, server: Server, progress: Callable[[str], None]) -> None:
        config = json.dumps({"url": server.url, "proto": server.proto})
        self.proc = subprocess.Popen(
            ["node", LOADGEN, config],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        self.progress = progress
        self.stat = ProcStat(self.proc.pid)

    def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        self.proc.stdin.flush()

    def read(
        self, timeout: float, on_mark: Optional[Callable[[str], None]] = None
    ) -> dict[str, Any]:
        """
        The next reply, passing progress lines to the progress printer and
        ``mark`` lines to ``on_mark``.
        """
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(_read_line(self.proc.stdout, deadline))
            if "progress" in message:
                self.progress(message["progress"])
            elif "mark" in message:
                if on_mark is not None:
                    on_mark(message["mark"])
            else:
                return message

    def call(
        self, timeout: float = 120, on_mark: Optional[Callable[[str], None]] = None, **command: Any
    ) -> dict[str, Any]:
        self.send(**command)
        reply = self.read(timeout, on_mark)
        if not reply.get("ok", False) and "armed" not in reply:
            raise RuntimeError(f"load generator failed: {reply}")
        return reply

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(cmd="exit")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

    def __enter__(self) -> LoadGen:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
