"""
Every default the server, the browser library, the Python client and
``twistd primus`` share, and the rules that derive one setting from
another, each stated once.

Durations are seconds here, as in every Python option; the spec document
and the browser library speak Primus's milliseconds, converted by
:func:`milliseconds`.
"""

from __future__ import annotations

import math
from typing import Union

__all__ = [
    "CONNECT_TIMEOUT",
    "HEADER_TIMEOUT",
    "MAX_BUFFERED",
    "MAX_LENGTH",
    "MAX_PENDING",
    "MAX_PENDING_PER_ADDRESS",
    "PARSER",
    "PATHNAME",
    "PING_INTERVAL",
    "PING_TIMEOUT",
    "SLOW_CLIENT",
    "TRANSFORMER",
    "client_ping_timeout",
    "client_ping_timeout_ms",
    "milliseconds",
]

#: Where Primus answers, on the server and for clients.
PATHNAME = "/primus"
#: The transport when none is named.
TRANSFORMER = "websockets"
#: The message encoding when none is named.
PARSER = "json"
#: Seconds between the server's heartbeat pings (0 disables them).
PING_INTERVAL = 30.0
#: The largest message a client may send, in bytes (10 MiB, as Primus).
MAX_LENGTH = 10485760
#: Seconds the Python client waits for its first connection to open.
CONNECT_TIMEOUT = 10.0

# The server's limits (docs/operations.rst).
#: Outgoing bytes a spark may have waiting before the slow-client policy.
MAX_BUFFERED = 1048576
#: What happens then: "end" (the client reconnects) or "drop".
SLOW_CLIENT = "end"
#: Seconds a client has to send a request's line and headers.
HEADER_TIMEOUT = 10.0
#: Requests under the pathname still in their headers or body, in all...
MAX_PENDING = 1024
#: ... and from one client address.
MAX_PENDING_PER_ADDRESS = 64


def milliseconds(seconds: float) -> int:
    """
    ``seconds`` in whole milliseconds, rounded as JavaScript's
    ``Math.round`` rounds (halves up), so the spec document and the browser
    library show what a Node Primus would.
    """
    return math.floor(seconds * 1000 + 0.5)


def client_ping_timeout(ping_interval: float) -> Union[float, bool]:
    """
    The silence, in seconds, a client allows between the pings of a server
    pinging every ``ping_interval`` seconds: one and a half intervals, so
    one late ping is forgiven; ``False`` when the server does not ping,
    since silence then means nothing.
    """
    if not ping_interval:
        return False
    return ping_interval * 1.5


def client_ping_timeout_ms(ping_interval: float) -> Union[int, bool]:
    """
    :func:`client_ping_timeout` in milliseconds for the browser library,
    rounded as Primus rounds it (the interval first, then its half).
    """
    if not ping_interval:
        return False
    interval_ms = milliseconds(ping_interval)
    return interval_ms + math.floor(interval_ms / 2 + 0.5)


#: The Python client's ``ping_timeout`` for the default server.
PING_TIMEOUT = client_ping_timeout(PING_INTERVAL)
