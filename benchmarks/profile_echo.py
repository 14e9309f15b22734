"""
The per-message cost of primus-tx's echo path, in one process, without a
network: ``python -m benchmarks.profile_echo [--transformer faye] [--size
64] [--profile]``.

A real Primus (JSON parser, echo application ``spark.on("data",
spark.write)``) on a Clock gets connections of the chosen WebSocket engine
over in-memory transports; masked client frames go in, the echoed frames
come out.  It prints microseconds per echoed message, which is what the
hot-path work is judged by before a load run; ``--profile`` shows where
they go (cProfile on CPython; on PyPy, run it under vmprof instead:
``pypy3 -m vmprof -o out.prof -m benchmarks.profile_echo``).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import time
from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web.test.requesthelper import DummyRequest

from primus_tx import Primus


def masked_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """
    One client frame (masked, final).
    """
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + key + masked


def _connection(primus: Primus, transformer: str) -> tuple[Any, StringTransport]:
    """
    A protocol of the engine, opened on an in-memory transport.
    """
    transport = StringTransport()
    request: Any = DummyRequest([b"primus"])
    request.query = {}
    request.isSecure = lambda: False
    request.requestHeaders.setRawHeaders(b"sec-websocket-key", [b"dGhlIHNhbXBsZSBub25jZQ=="])
    server: Any = primus._server
    from primus_tx.transformers.websockets.lean_server import LeanServer, _Protocol

    if isinstance(server, LeanServer):
        protocol: Any = _Protocol(primus, request)
        protocol.makeConnection(transport)
    else:
        protocol = server.factory.buildProtocol(None)
        protocol.http_request = request
        protocol.makeConnection(transport)
        upgrade = (
            b"GET /primus HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        protocol.dataReceived(upgrade)
    transport.clear()
    return protocol, transport


def run(transformer: str, size: int, messages: int, connections: int) -> float:
    """
    Echo ``messages`` messages of about ``size`` bytes spread over
    ``connections``; return microseconds per message.
    """
    primus = Primus(None, transformer=transformer, ping_interval=0, reactor=Clock())
    primus.on("connection", lambda spark: spark.on("data", spark.write))
    pairs = [_connection(primus, transformer) for _ in range(connections)]
    value = {"id": 1, "text": "x" * max(0, size - 22)}
    frames = [masked_frame(json.dumps(value).encode()) for _ in range(16)]
    started = time.perf_counter()
    for i in range(messages):
        protocol = pairs[i % connections][0]
        protocol.dataReceived(frames[i & 15])
        if i % connections == connections - 1:
            for _, t in pairs:
                t.clear()
    elapsed = time.perf_counter() - started
    return 1e6 * elapsed / messages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_echo", description=__doc__)
    parser.add_argument("--transformer", default="websockets", choices=("websockets", "uws", "faye"))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5, help="the first ones warm up a JIT")
    parser.add_argument("--profile", action="store_true", help="cProfile the last round")
    args = parser.parse_args(argv)
    for round_number in range(args.rounds):
        last = round_number == args.rounds - 1
        if last and args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
        cost = run(args.transformer, args.size, args.messages, args.connections)
        if last and args.profile:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        print(f"round {round_number + 1}: {cost:.2f} us per message ({args.transformer})")


if __name__ == "__main__":
    main()
