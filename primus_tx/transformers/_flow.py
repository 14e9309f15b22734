"""
Flow control for connections that own a TCP (or TLS) transport: the
spark's ``pauseReading``/``resumeReading``/``bufferedAmount`` map onto the
transport, the same way for every transformer that speaks WebSocket.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TransportFlow", "buffered_bytes"]


def buffered_bytes(transport: Any) -> int:
    """
    How many bytes ``transport`` holds in user space, not yet handed to the
    kernel (``FileDescriptor``'s buffers; 0 for transports without them).
    """
    if transport is None:
        return 0
    pending = getattr(transport, "_tempDataLen", 0)
    data = getattr(transport, "dataBuffer", b"")
    offset = getattr(transport, "offset", 0)
    return int(pending) + len(data) - int(offset)


class TransportFlow:
    """
    The reading half of :class:`~primus_tx.interfaces.IConnection` for a
    protocol with a ``transport``: pausing the spark stops reading from the
    socket, which lets TCP push back on the client.
    """

    transport: Any

    def pauseReading(self) -> None:
        if self.transport is not None:
            self.transport.pauseProducing()

    def resumeReading(self) -> None:
        if self.transport is not None:
            self.transport.resumeProducing()

    def bufferedAmount(self) -> int:
        return buffered_bytes(self.transport)
