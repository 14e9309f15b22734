"""
What every Python server script needs: a raised fd limit and the
``PORT <n>`` handshake line the runner waits for.
"""

from __future__ import annotations

import argparse
import resource
import sys


def raise_fd_limit() -> int:
    """
    Lift the soft fd limit to the hard one, because the 10,000-connection
    scenarios need more descriptors than the usual soft limit of 1,024.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft
        return hard
    return soft


def arguments(
    description: str,
    tracemalloc: bool = False,
    transformer: bool = False,
    rooms: bool = False,
    metrics: bool = False,
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    if metrics:
        parser.add_argument(
            "--metrics", action="store_true", help="with the metrics plugin (served at /metrics)"
        )
    if rooms:
        parser.add_argument(
            "--rooms", action="store_true", help="rooms: join and room broadcasts (S6)"
        )
    if transformer:
        parser.add_argument(
            "--transformer",
            default="websockets",
            choices=("websockets", "uws", "faye", "engine.io", "sockjs", "browserchannel"),
            help="primus-tx transformer under test",
        )
        parser.add_argument(
            "--parser",
            default="json",
            choices=("json", "msgpack", "binary"),
            help="primus-tx parser under test",
        )
    if tracemalloc:
        parser.add_argument(
            "--tracemalloc",
            default=None,
            metavar="PREFIX",
            help="dump a tracemalloc snapshot to PREFIX.<n> on SIGUSR1",
        )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ping", type=float, default=30.0, help="heartbeat interval, seconds")
    parser.add_argument("--backlog", type=int, default=4096)
    parser.add_argument(
        "--redis", default=None, help="scale out through this Redis URL (S7 and the S1 cost)"
    )
    return parser.parse_args()


def announce(port: int) -> None:
    """
    Tell the runner where we listen; it reads stdout line by line.
    """
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
