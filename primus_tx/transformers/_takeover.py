"""
Handing a twisted.web connection over to a WebSocket protocol.

twisted.web parses the upgrade request; after that the TCP (or TLS)
connection must belong to the WebSocket protocol.  Two things have to be
undone for that to be clean (docs/protocol/twisted.rst, "Handing a
connection to the WebSocket protocol"):

* the ``HTTPChannel`` registered itself as the transport's producer, so it
  would be paused by a full send buffer and stop the transport reading —
  inbound frames stalling while outbound is backed up — and a second
  producer could not be registered;
* the channel paused the transport while it served the request.

:func:`take_over` swaps the protocol in, unregisters the channel, resumes
reading, and replays the request (already parsed by twisted.web) to the new
protocol, which parses its handshake from it.
"""

from __future__ import annotations

from typing import Any

from twisted.protocols.policies import ProtocolWrapper
from twisted.web.server import Request

__all__ = ["take_over"]


def _replayed_request(request: Request) -> bytes:
    lines = [request.method + b" " + request.uri + b" HTTP/1.1"]
    for name, values in request.requestHeaders.getAllRawHeaders():
        lines.append(name + b": " + b", ".join(values))
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    content = request.content
    if content is not None:
        content.seek(0)
        head += content.read()
    return head


def take_over(request: Request, protocol: Any, replay: bool = True) -> bool:
    """
    Give the connection carrying ``request`` to ``protocol``.

    :param replay: hand the request's bytes to ``protocol`` first (for a
        protocol that parses the handshake itself, as Autobahn's does);
        ``False`` for one that was given the parsed request instead.

    :return: ``False`` when the connection is already gone (or is not one
        that can be taken over, such as HTTP/2), ``True`` otherwise.
    """
    channel: Any = request.channel
    transport = getattr(channel, "transport", None)
    if transport is None:
        return False
    secure = request.isSecure()
    leftover = b"".join(getattr(channel, "_dataBuffer", None) or ())

    # The channel is no longer the transport's protocol, nor its producer.
    network = getattr(channel, "_networkProducer", None)
    channel.transport = None
    if isinstance(transport, ProtocolWrapper):
        transport.wrappedProtocol = protocol
    elif isinstance(getattr(transport, "protocol", None), ProtocolWrapper):
        transport.protocol.wrappedProtocol = protocol
    else:
        transport.protocol = protocol
    transport.unregisterProducer()
    if hasattr(channel, "setTimeout"):
        channel.setTimeout(None)

    # Bytes that arrive in the same read as the request (a client that sends
    # its first frames without waiting for the 101) are still being handed
    # to the channel by twisted.web's parser: route them to the protocol.
    channel.dataReceived = protocol.dataReceived
    channel.rawDataReceived = protocol.dataReceived

    protocol.makeConnection(transport)
    (network if network is not None else transport).resumeProducing()
    replayed = _replayed_request(request) + leftover if replay else leftover
    _release(request, channel, secure)
    if replayed:
        protocol.dataReceived(replayed)
    return True


def _release(request: Request, channel: Any, secure: bool) -> None:
    """
    Cut the request loose from the abandoned HTTP channel.

    The spark keeps the request (``spark.request``, as Primus keeps the
    upgrade request), but not the channel, its buffers and the waiters of a
    request that will never finish: a few KB per connection.
    ``request.isSecure()`` keeps its answer.
    """
    request._forceSSL = secure
    request.channel = None  # type: ignore[assignment]  # the request outlives its channel
    request.transport = None
    request.notifications = []
    request.content = None
    channel.requests = []
    channel._dataBuffer = []
