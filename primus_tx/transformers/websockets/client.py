# -*- test-case-name: tests.client.test_client_loopback,tests.client.test_client_badpeers -*-
"""
The ``websockets`` transformer, Python client side: Autobahn's WebSocket
client over a Twisted endpoint.

One instance is one connection attempt (see
:class:`~primus_tx.client.IClientTransport`).  The socket gives the final
URL; this module only turns its userinfo into Basic authorization (as the
Node ``ws`` client does), picks a TCP or TLS endpoint, and translates
Autobahn's callbacks.  A refused upgrade is reported as
:class:`HandshakeError` with the server's status, headers and body, so an
application can tell "unauthorized" from "unreachable".
"""

from __future__ import annotations

import base64
from typing import Any, Callable, Optional
from urllib.parse import unquote, urlsplit, urlunsplit

from autobahn.twisted.websocket import WebSocketClientProtocol
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from primus_tx._errors import ConnectionFailed, HandshakeError
from primus_tx.interfaces import IClientTransport
from primus_tx.transformers._autobahn import client_factory

__all__ = ["HandshakeError", "WebSocketsClientTransport"]

_OPEN = WebSocketClientProtocol.STATE_OPEN


class _Protocol(WebSocketClientProtocol):
    """
    Autobahn's client protocol, reporting to its transport.
    """

    owner: Any = None
    _opened = False
    _refusal: Optional[HandshakeError] = None

    def processHandshake(self) -> Any:
        # Autobahn fails a non-101 answer as soon as the headers are in; we
        # wait for the body too (Primus puts the reason there) and keep it.
        end = self.data.find(b"\r\n\r\n")
        if end >= 0 and self._refusal is None:
            head = self.data[:end].decode("iso-8859-1")
            lines = head.split("\r\n")
            status_line = lines[0].split(None, 2)
            try:
                status = int(status_line[1])
            except (IndexError, ValueError):
                status = None
            if status != 101:
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = self.data[end + 4 :]
                try:
                    length = int(headers.get("content-length", ""))
                except ValueError:
                    length = None
                reason = status_line[2] if len(status_line) > 2 else ""
                self._refusal = HandshakeError(
                    f"The server refused the WebSocket upgrade: {status} {reason}".rstrip(),
                    status,
                    headers,
                    body,
                )
                if length is not None and len(body) < length:
                    return None  # the rest of the body is on its way
        if self._refusal is not None:
            self._refusal.body = self.data[end + 4 :] if end >= 0 else b""
        return super().processHandshake()

    def onOpen(self) -> None:
        self._opened = True
        if self.owner is not None:
            self.owner._opened(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self.owner is not None:
            self.owner._message(payload if isBinary else payload.decode("utf-8"))

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:
        if self.owner is not None:
            self.owner._lost(self, wasClean, code, reason)


def _relay(result: Any, waiter: Deferred[None]) -> Any:
    waiter.callback(None)
    return result


@implementer(IClientTransport)
class WebSocketsClientTransport:
    """
    One WebSocket connection of a Python Primus client.

    Transport options (the socket's ``transport`` dict): ``tls`` (an
    ``IOpenSSLClientConnectionCreator`` for ``wss``; default: verify the
    host), ``endpoint`` (``endpoint(host, port, secure)`` returning an
    ``IStreamClientEndpoint``, e.g. for a proxy or a unix socket),
    ``connect_timeout`` (seconds for the TCP connect, default 30) and
    ``protocol_options`` (Autobahn ``setProtocolOptions`` keywords).
    """

    protocol = "ws"
    id = None
    log = Logger()

    def __init__(self, handler: Any, reactor: Any, options: dict[str, Any]) -> None:
        self._handler = handler
        self._reactor = reactor
        self._options = dict(options)
        self._connecting: Optional[Deferred[Any]] = None
        self._protocol: Optional[_Protocol] = None
        self._closed = False
        self._gone: Optional[Deferred[None]] = None
        self._reported = False

    # -- IClientTransport ----------------------------------------------------

    def open(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        headers = dict(headers)
        if parts.username is not None and not any(k.lower() == "authorization" for k in headers):
            credentials = unquote(parts.username) + ":" + unquote(parts.password or "")
            token = base64.b64encode(credentials.encode("utf-8")).decode("ascii")
            headers["Authorization"] = "Basic " + token
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        secure = parts.scheme == "wss"
        port = parts.port or (443 if secure else 80)
        if parts.port is not None:
            netloc += f":{parts.port}"
        clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        try:
            factory = client_factory(
                clean, headers, self._reactor_for_io(), _Protocol,
                **(self._options.get("protocol_options") or {}),
            )
            endpoint = self._endpoint(parts.hostname or "", port, secure)
        except Exception as error:
            self._fail_later(ConnectionFailed(f"Cannot connect to {url}: {error}", error))
            return
        self._connecting = endpoint.connect(factory)
        self._connecting.addCallbacks(self._connected, self._connect_failed)

    def send(self, message: str | bytes) -> None:
        protocol = self._protocol
        if protocol is None or protocol.state != _OPEN:
            return
        if type(message) is str:
            protocol.sendMessage(message.encode("utf-8"), False)
        else:
            protocol.sendMessage(message, True)

    def close(self) -> Deferred[None]:
        if self._closed:
            return self._closing_deferred()
        self._closed = True
        connecting, self._connecting = self._connecting, None
        if connecting is not None:
            connecting.cancel()
        protocol = self._protocol
        if protocol is None or protocol.transport is None or self._gone_already(protocol):
            return succeed(None)
        self._gone = Deferred()
        if protocol.state == _OPEN:
            protocol.sendClose()
        else:
            protocol.dropConnection(abort=True)
        return self._closing_deferred()

    # -- internals -----------------------------------------------------------

    def _reactor_for_io(self) -> Any:
        return self._options.get("reactor") or self._reactor

    def _endpoint(self, host: str, port: int, secure: bool) -> Any:
        custom: Optional[Callable[..., Any]] = self._options.get("endpoint")
        if custom is not None:
            return custom(host, port, secure)
        from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS

        endpoint: Any = HostnameEndpoint(
            self._reactor_for_io(), host, port, timeout=self._options.get("connect_timeout", 30)
        )
        if secure:
            from twisted.internet.ssl import optionsForClientTLS

            creator = self._options.get("tls") or optionsForClientTLS(host)
            endpoint = wrapClientTLS(creator, endpoint)
        return endpoint

    @staticmethod
    def _gone_already(protocol: _Protocol) -> bool:
        return protocol.state == WebSocketClientProtocol.STATE_CLOSED

    def _closing_deferred(self) -> Deferred[None]:
        if self._gone is None or self._gone.called:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._gone.addBoth(_relay, d)
        return d

    def _fail_later(self, error: Exception) -> None:
        # Open must not call back into the socket before it returns.
        self._reactor.callLater(0, self._report_failure, error, None)

    def _report_failure(self, error: Exception, reason: Any) -> None:
        if self._closed or self._reported:
            return
        self._reported = True
        self._handler.connectionFailed(error)
        self._handler.connectionLost(reason if reason is not None else Failure(error))

    def _connected(self, protocol: _Protocol) -> None:
        self._connecting = None
        if self._closed:
            protocol.dropConnection(abort=True)
            return
        protocol.owner = self
        self._protocol = protocol

    def _connect_failed(self, failure: Failure) -> None:
        self._connecting = None
        if self._closed:
            return
        error = failure.value
        self._report_failure(
            ConnectionFailed(f"Cannot connect: {error}", error)
            if not isinstance(error, ConnectionFailed)
            else error,
            failure,
        )

    def _opened(self, protocol: _Protocol) -> None:
        if not self._closed:
            self._handler.connectionMade()

    def _message(self, message: str | bytes) -> None:
        if not self._closed:
            self._handler.messageReceived(message)

    def _lost(self, protocol: _Protocol, clean: bool, code: Optional[int], reason: Any) -> None:
        gone, self._gone = self._gone, None
        if gone is not None and not gone.called:
            gone.callback(None)
        if self._closed or self._reported:
            return
        self._reported = True
        if not protocol._opened:
            error: Exception = protocol._refusal or ConnectionFailed(
                "The WebSocket handshake did not complete: "
                + str(protocol.wasNotCleanReason or reason or "connection closed")
            )
            self._handler.connectionFailed(error)
        elif protocol.failedByMe:
            self._handler.connectionFailed(
                ConnectionFailed(f"WebSocket protocol error: {protocol.wasNotCleanReason or reason}")
            )
        self._handler.connectionLost(Failure(ConnectionDone(str(reason))))
