"""
Memory and leak figures for the hardening limits (docs/operations.rst),
measured on a primus-tx server running in its own process.

    python -m benchmarks.hardening post     # 100 MB POSTs under the pathname
    python -m benchmarks.hardening slow     # 100 clients that stop reading

(The kernel holds up to ``net.ipv4.tcp_wmem``'s maximum, often 4 MB, per
connection before the server's own buffers grow: ``slow`` writes 4 KiB per
client every 10 ms, ``--payload`` KiB, so that this fills within seconds.)
    python -m benchmarks.hardening churn    # 20,000 connect/disconnect cycles each
    python -m benchmarks.hardening all

``--server-path DIR`` runs the server from another checkout (to compare
with an older tree); ``--cycles``, ``--clients``, ``--seconds`` size the
runs.  The server's memory is read from ``/proc/<pid>/status`` (``VmRSS``,
and ``VmHWM`` for the peak); its sparks, sessions, timers and descriptors
from a ``/stats`` page it serves beside Primus.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time
from typing import Any, Optional

MB = 1024 * 1024

# -- the server ------------------------------------------------------------------


def serve(args: argparse.Namespace) -> None:
    """
    The server process: Primus on a Site, ``/stats`` beside it, and with
    ``--writer`` a naive application writing 1 KiB to every spark every
    10 ms, whatever the spark's ``write()`` returns.
    """
    from twisted.internet import reactor
    from twisted.internet.task import LoopingCall
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    from primus_tx import Primus

    root = Resource()
    site = Site(root)
    options: dict[str, Any] = {"transformer": args.transformer, "ping_interval": args.ping}
    if args.max_buffered is not None:
        options["max_buffered"] = args.max_buffered
    primus = Primus(site, reactor=reactor, **options)
    slow: list[int] = []
    try:
        primus.on("slow client", lambda spark, buffered, policy: slow.append(buffered))
    except Exception:  # pragma: no cover - an older tree may refuse the event name
        pass

    class Stats(Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            server = primus._server
            return json.dumps(
                {
                    "connected": primus.connected,
                    "sessions": len(getattr(server, "sessions", {}) or {}),
                    "delayed": len(reactor.getDelayedCalls()),
                    "fds": len(os.listdir("/proc/self/fd")),
                    "slow": len(slow),
                    **(_live_objects() if request.args.get(b"objects") else {}),
                }
            ).encode()

    root.putChild(b"stats", Stats())
    if args.writer:
        payload = "x" * (1024 * args.payload)

        def write_all() -> None:
            for spark in list(primus):
                spark.write(payload)

        LoopingCall(write_all).start(0.01)
    port = reactor.listenTCP(0, site, interface="127.0.0.1", backlog=1024)
    print(port.getHost().port, flush=True)
    reactor.run()


def _live_objects() -> dict[str, int]:
    """
    How many sparks and connections are still alive, and the bytes their
    transports hold (a leak shows here before it shows in RSS).
    """
    import gc

    from primus_tx import Spark

    gc.collect()
    sparks = connections = held = 0
    for obj in gc.get_objects():
        if isinstance(obj, Spark):
            sparks += 1
        elif type(obj).__name__ == "Server" and hasattr(obj, "dataBuffer"):
            connections += 1
            held += len(obj.dataBuffer) + obj._tempDataLen
    return {"live_sparks": sparks, "live_tcp": connections, "tcp_buffered": held}


class Server:
    def __init__(self, args: argparse.Namespace, transformer: str, *extra: str) -> None:
        env = dict(os.environ)
        tree = args.server_path or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = tree
        # Run as a script, so that primus_tx comes from ``tree`` only.
        command = [sys.executable, os.path.abspath(__file__), "_serve",
                   "--transformer", transformer, *extra]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def status(self, field: str) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(field)

    def stats(self, objects: bool = False) -> dict[str, int]:
        path = b"/stats?objects=1" if objects else b"/stats"
        _, body = http(self.port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return json.loads(body)  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


# -- clients -------------------------------------------------------------------------


def http(port: int, request: bytes, timeout: float = 10) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    return head, body


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if not size:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def upload(port: int, head: bytes, size: int) -> tuple[Optional[int], int]:
    """
    Send ``head`` then up to ``size`` bytes of body, stopping when the
    server answers or closes; the status and the bytes sent.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head)
    sock.setblocking(False)
    chunk = b"4" * 65536
    sent = 0
    answer = b""
    try:
        while sent < size:
            try:
                answer += sock.recv(65536)
                if answer:
                    break
            except BlockingIOError:
                pass
            try:
                sent += sock.send(chunk[: min(len(chunk), size - sent)])
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                break
        sock.setblocking(True)
        sock.settimeout(30)
        while b"\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    except OSError:
        pass
    finally:
        sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
    return status, sent


_KEY = base64.b64encode(b"0123456789abcdef")


def ws_connect(port: int, path: str, rcvbuf: Optional[int] = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {_KEY.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(4096)
        if not more:
            raise ConnectionError("closed during the handshake")
        data += more
    if not data.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(data[:200])
    return sock


def ws_close(sock: socket.socket, abrupt: bool) -> None:
    if abrupt:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    else:
        mask = b"\x00\x00\x00\x00"
        try:
            sock.sendall(b"\x88\x82" + mask + struct.pack("!H", 1000))
        except OSError:
            pass
    sock.close()


_WS_PATHS = {
    "websockets": "/primus",
    "engine.io": "/primus/?EIO=4&transport=websocket",
    "sockjs": "/primus/websocket",
}

# -- scenarios -------------------------------------------------------------------------


def scenario_post(args: argparse.Namespace) -> None:
    size = args.post_mb * MB
    for transformer in ("sockjs", "engine.io"):
        server = Server(args, transformer, "--ping", "0")
        try:
            if transformer == "sockjs":
                http(server.port, b"POST /primus/000/s1/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                  b"Connection: close\r\n\r\n")
                path = b"/primus/000/s1/xhr_send"
            else:
                _, body = http(server.port, b"GET /primus/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
                                            b"Connection: close\r\n\r\n")
                sid = json.loads(body.split(b"\x1e")[0][1:])["sid"]
                path = b"/primus/?EIO=4&transport=polling&sid=" + sid.encode()
            time.sleep(0.2)
            before = server.status("VmHWM")
            status, sent = upload(
                server.port,
                b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                b"Content-Length: %d\r\n\r\n" % size,
                size,
            )
            time.sleep(0.5)
            peak = server.status("VmHWM") - before
            print(f"post {transformer}: status {status}, {sent / MB:.1f} MB sent of {args.post_mb} MB, "
                  f"server peak RSS +{peak / MB:.1f} MB, sessions {server.stats()['sessions']}")
        finally:
            server.stop()


def scenario_slow(args: argparse.Namespace) -> None:
    # An older tree (--server-path) may not know max_buffered.
    for cap in (None,) if args.server_path else (None, "0"):
        extra = ["--ping", "0", "--writer", "--payload", str(args.payload)]
        extra += ["--max-buffered", cap] if cap is not None else []
        server = Server(args, "websockets", *extra)
        clients = []
        try:
            for _ in range(args.clients):
                clients.append(ws_connect(server.port, "/primus", rcvbuf=4096))
            start = server.status("VmRSS")
            samples = []
            for _ in range(args.seconds):
                time.sleep(1)
                samples.append(server.status("VmRSS") - start)
            stats = server.stats()
            label = "default max_buffered (1 MiB)" if cap is None else "max_buffered=0 (no cap)"
            if args.server_path:
                label = f"server from {args.server_path}"
            print(f"slow, {args.clients} clients, {args.payload} KiB/10 ms each, {label}: "
                  f"RSS +{samples[len(samples) // 2] / MB:.1f} MB at {args.seconds // 2} s, "
                  f"+{samples[-1] / MB:.1f} MB at {args.seconds} s; "
                  f"sparks left {stats['connected']}, slow-client events {stats['slow']}")
            for wave in range(2, args.waves + 1):
                if stats["connected"]:
                    break
                # Another wave: the memory of the ones before must have been released.
                for sock in clients:
                    sock.close()
                clients = [ws_connect(server.port, "/primus", rcvbuf=4096) for _ in range(args.clients)]
                time.sleep(args.seconds)
                stats = server.stats(objects=True)
                print(f"  wave {wave}: RSS +{(server.status('VmRSS') - start) / MB:.1f} MB after "
                      f"{args.seconds} s; sparks left {stats['connected']}, "
                      f"slow-client events {stats['slow']}; live sparks {stats['live_sparks']}, "
                      f"TCP connections {stats['live_tcp']} holding {stats['tcp_buffered']} bytes")
        finally:
            for sock in clients:
                sock.close()
            server.stop()


def scenario_churn(args: argparse.Namespace) -> None:
    for transformer in ("websockets", "engine.io", "sockjs"):
        server = Server(args, transformer, "--ping", "0")
        try:
            path = _WS_PATHS[transformer]
            for _ in range(50):
                ws_close(ws_connect(server.port, path), abrupt=False)
            time.sleep(0.5)
            before, rss_before = server.stats(), server.status("VmRSS")
            for cycle in range(args.cycles):
                ws_close(ws_connect(server.port, path), abrupt=bool(cycle % 2))
            time.sleep(2)
            after, rss_after = server.stats(), server.status("VmRSS")
            print(f"churn {transformer}: {args.cycles} cycles (half abrupt); "
                  f"RSS {rss_before / MB:.1f} -> {rss_after / MB:.1f} MB; "
                  f"sparks {before['connected']} -> {after['connected']}, "
                  f"sessions {before['sessions']} -> {after['sessions']}, "
                  f"timers {before['delayed']} -> {after['delayed']}, fds {before['fds']} -> {after['fds']}")
        finally:
            server.stop()


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("scenario", choices=("post", "slow", "churn", "all", "_serve"))
    parser.add_argument("--server-path", help="run the server from this checkout")
    parser.add_argument("--post-mb", type=int, default=100)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--cycles", type=int, default=20000)
    parser.add_argument("--waves", type=int, default=3, help="waves of slow clients (slow)")
    # the server's own options (_serve)
    parser.add_argument("--transformer", default="websockets")
    parser.add_argument("--ping", type=float, default=0)
    parser.add_argument("--max-buffered", type=int)
    parser.add_argument("--writer", action="store_true")
    parser.add_argument("--payload", type=int, default=4,
                        help="KiB the writer sends each spark every 10 ms")
    args = parser.parse_args(argv)
    if args.scenario == "_serve":
        serve(args)
        return
    for name in ("post", "slow", "churn") if args.scenario == "all" else (args.scenario,):
        globals()["scenario_" + name](args)


if __name__ == "__main__":
    main()
