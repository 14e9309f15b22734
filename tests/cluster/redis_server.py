"""
A real ``redis-server`` for the cluster tests, started on a free loopback
port in a temporary directory, with the handles the failure tests need:
``kill()`` (SIGKILL), ``start()`` again on the same port (empty: nothing is
saved), ``freeze()`` / ``thaw()`` (SIGSTOP / SIGCONT), and ``cli()`` to look
at the keys with ``redis-cli``.

Never touches a Redis it did not start: the port is picked free, and the
process is ended by its PID.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """
    One redis-server child process.
    """

    def __init__(
        self, server: str, cli: str, directory: Path, extra: tuple[str, ...] = ()
    ) -> None:
        self._extra = extra
        self._server = server
        self._cli = cli
        self.directory = directory
        self.port = free_port()
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.frozen = False
        password = dict(zip(extra[::2], extra[1::2])).get("--requirepass")
        self._auth: tuple[str, ...] = ("--no-auth-warning", "-a", password) if password else ()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """
        Start (or start again, empty) on this server's port and wait for PONG.
        """
        assert self.process is None or self.process.poll() is not None
        self.process = subprocess.Popen(
            [
                self._server,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                "--logfile", str(self.directory / "redis.log"),
                *self._extra,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.frozen = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log()}")
            try:
                if self.cli("PING") == ["PONG"]:
                    return
            except (subprocess.SubprocessError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer PING within {timeout} s: {self.log()}")

    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def kill(self) -> None:
        """
        SIGKILL: Redis dies with everything it held.
        """
        process = self.process
        if process is not None and process.poll() is None:
            if self.frozen:
                os.kill(process.pid, signal.SIGCONT)
            process.kill()
            process.wait(10)
        self.frozen = False

    def freeze(self) -> None:
        """
        SIGSTOP: connections stay open, nothing is answered.
        """
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)
        self.frozen = False

    def cli(self, *args: str) -> list[str]:
        """
        One command through ``redis-cli`` (bounded: 5 s), as output lines.
        """
        result = subprocess.run(
            [self._cli, "-h", "127.0.0.1", "-p", str(self.port), "--raw", *self._auth, *args],
            capture_output=True,
            timeout=5,
            check=True,
        )
        text = result.stdout.decode("utf-8", "replace")
        return [line for line in text.split("\n") if line != ""]

    def stop(self) -> None:
        self.kill()
