"""
What the Engine.IO session, WebSocket and routes share: limits, the error
codes of the reference server, and small HTTP helpers.
"""

from __future__ import annotations

import json
import os
from base64 import b64encode
from typing import Any, Optional, Protocol

from autobahn.twisted.websocket import WebSocketServerProtocol

from primus_tx._errors import PrimusError
from primus_tx._http import PrimusRequest, answer
from primus_tx.transformers._shared import HIGH_WATER, LOW_WATER

_OPEN_WS = WebSocketServerProtocol.STATE_OPEN

#: python-engineio refuses payloads of more than 16 packets.
MAX_PACKETS_PER_POLL = 16

#: How long to wait before answering a poll that arrives during an upgrade
#: with a noop (the reference repeats one every 100 ms).
_UPGRADE_NOOP_DELAY = 0.1

_DEFAULT_OPTIONS: dict[str, Any] = {
    "ping_interval": 25.0,
    "ping_timeout": 20.0,
    "max_payload": None,  # Primus's max_length
    "upgrade_timeout": 10.0,
    "close_timeout": 30.0,
    "high_water": HIGH_WATER,
    "low_water": LOW_WATER,
    "websocket": True,
}

# (status, code, message) of the reference server's JSON errors.
UNKNOWN_TRANSPORT = (400, 0, "Transport unknown")
UNKNOWN_SID = (400, 1, "Session ID unknown")
BAD_HANDSHAKE_METHOD = (400, 2, "Bad handshake method")
BAD_REQUEST = (400, 3, "Bad request")
UNSUPPORTED_VERSION = (400, 5, "Unsupported protocol version")


class SessionSocket(Protocol):
    """
    What a session uses of the WebSocket that carries it, or probes for an
    upgrade (the Autobahn protocol in ``_websocket``).
    """

    state: Any
    transport: Any
    session: Any

    def send_packet(self, kind: str, data: Any) -> None: ...

    def close_now(self) -> None: ...

    def bufferedAmount(self) -> int: ...

    def upgraded(self) -> None: ...


class Engine(Protocol):
    """
    What sessions and their WebSockets use of the Engine.IO server (the
    ``server`` module's ``EngineIOServer``): its limits, its reactor and
    its session registry.
    """

    _reactor: Any
    sessions: dict[str, Any]
    ping_interval: float
    ping_timeout: float
    upgrade_timeout: float
    close_timeout: float
    max_payload: int
    high_water: int
    low_water: int

    def _open_session(self, request: PrimusRequest, transport: str, b64: bool = False) -> Optional[Any]: ...

    def _connect(self, session: Any, request: PrimusRequest) -> None: ...

    def _forget(self, session: Any) -> None: ...


class EngineIOError(PrimusError):
    """
    An Engine.IO session failed: the client broke the protocol (a packet
    that does not parse, a ping in the wrong direction, overlapping polls,
    an oversized body...).  The spark reports it as an error and ends.
    """


def _new_sid() -> str:
    # 15 random bytes: 20 URL-safe characters, as the reference's ids.
    return b64encode(os.urandom(15), b"-_").decode("ascii")


def _text(value: Any) -> Optional[str]:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _json_error(request: PrimusRequest, error: tuple[int, int, str]) -> None:
    status, code, message = error
    body = json.dumps({"code": code, "message": message}, separators=(",", ":")).encode("utf-8")
    _respond(request, status, body, b"application/json")


def _respond(request: PrimusRequest, status: int, body: bytes, content_type: Optional[bytes]) -> None:
    """
    :func:`~primus_tx._http.answer`, not cached unless the route said
    otherwise (the reference server's rule).
    """
    if not request.responseHeaders.hasHeader(b"cache-control"):
        request.setHeader(b"cache-control", b"no-store")
    answer(request, status, body, content_type)
