"""
The Autobahn factories primus-tx makes WebSockets with, a server's and the
Python client's, with the settings they share.
"""

from __future__ import annotations

from typing import Any

from autobahn.twisted.websocket import (
    WebSocketClientFactory,
    WebSocketClientProtocol,
    WebSocketServerFactory,
)

__all__ = ["CLOSE_HANDSHAKE_TIMEOUT", "client_factory", "websocket_factory"]

#: Seconds Autobahn waits for the peer's close frame before it aborts the
#: connection.  Autobahn schedules this timer through txaio's batched
#: timers, which round the due time *down* to a whole second: a timeout of
#: 1 fires anywhere from at once to one second later.  Aborting sends a TCP
#: reset, and a peer that has not yet read the last messages loses them
#: with it (``end(data)``'s data, for one).  Two seconds here means at
#: least one in practice, the lean engine's exact
#: :data:`~primus_tx.transformers.websockets.lean.CLOSE_TIMEOUT`.
CLOSE_HANDSHAKE_TIMEOUT = 2


def _configured(factory: Any, protocol: type, settings: dict[str, Any], options: dict[str, Any]) -> Any:
    factory.protocol = protocol
    factory.setProtocolOptions(**{**settings, **options})
    return factory


def websocket_factory(protocol: type, max_length: int, **options: Any) -> Any:
    """
    An Autobahn server factory for ``protocol`` with the settings every
    WebSocket transport of Primus shares: messages and frames limited to
    ``max_length``, no status page, a 10 s opening handshake, a closing
    one of :data:`CLOSE_HANDSHAKE_TIMEOUT`, and a clean close on protocol
    errors; ``options`` (Autobahn protocol options) win.

    :raises TypeError: for an option Autobahn does not know.
    """
    settings = {
        "maxMessagePayloadSize": max_length,
        "maxFramePayloadSize": max_length,
        "webStatus": False,
        "openHandshakeTimeout": 10,
        "closeHandshakeTimeout": CLOSE_HANDSHAKE_TIMEOUT,
        "failByDrop": False,
    }
    return _configured(WebSocketServerFactory(), protocol, settings, options)


def client_factory(
    url: str,
    headers: dict[str, str],
    reactor: Any,
    protocol: type[WebSocketClientProtocol],
    **options: Any,
) -> WebSocketClientFactory:
    """
    An Autobahn client factory for ``protocol``: no opening-handshake timer
    of Autobahn's (the transport's own connect and reconnect timers bound
    the handshake, on the injected reactor), the closing one of
    :data:`CLOSE_HANDSHAKE_TIMEOUT`, and a clean close on protocol errors;
    ``options`` (Autobahn protocol options) win.

    :raises TypeError: for an option Autobahn does not know.
    """
    settings = {
        "openHandshakeTimeout": 0,
        "closeHandshakeTimeout": CLOSE_HANDSHAKE_TIMEOUT,
        "failByDrop": False,
    }
    factory = WebSocketClientFactory(url, headers=headers, reactor=reactor)
    return _configured(factory, protocol, settings, options)
