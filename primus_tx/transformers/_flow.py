"""
Flow control for connections that own a TCP (or TLS) transport: the
spark's ``pauseReading``/``resumeReading``/``bufferedAmount`` map onto the
transport, the same way for every transformer that speaks WebSocket.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TransportFlow", "buffered_bytes", "no_delay", "write_now"]

_TCP_SERVER: Any = None


def no_delay(transport: Any) -> None:
    """
    Switch Nagle's algorithm off on ``transport`` (through a TLS wrapper
    too): a real-time connection writes small messages one after another,
    and the second would otherwise wait for the peer's delayed
    acknowledgement of the first, tens of milliseconds.  Node's ``ws`` and
    Autobahn do the same.
    """
    set_no_delay = getattr(transport, "setTcpNoDelay", None)
    if set_no_delay is not None:
        try:
            set_no_delay(True)
        except OSError:  # pragma: no cover - not a TCP socket after all
            pass


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


def write_now(transport: Any, data: bytes) -> None:
    """
    ``transport.write(data)``, but sent to the socket at once when nothing
    is queued before it.

    ``FileDescriptor.write`` always queues and asks the reactor to watch the
    socket for writability, then unwatches it after the next poll: two
    ``epoll_ctl`` calls and a dispatch for every message on every
    connection, most of the cost of a broadcast.  When the transport's
    buffer is empty the bytes can go straight to the kernel instead (as
    Node does); whatever the socket does not take is queued as usual, so
    ordering and the producer's pause/resume are unchanged.  Only plain TCP
    server connections take this path.
    """
    global _TCP_SERVER
    if _TCP_SERVER is None:
        from twisted.internet.tcp import Server

        _TCP_SERVER = Server
    if (
        type(transport) is _TCP_SERVER
        and not transport._tempDataLen
        and transport.offset == len(transport.dataBuffer)
        and transport.connected
        and not transport.disconnecting
    ):
        sent = transport.writeSomeData(data)
        if sent.__class__ is int:
            if sent == len(data):
                return
            data = data[sent:]
    transport.write(data)


class TransportFlow:
    """
    Flow control for a protocol with a ``transport`` and a ``spark``.

    The reading half of :class:`~primus_tx.interfaces.IConnection`: pausing
    the spark stops reading from the socket, which lets TCP push back on the
    client.  And the writing half, as the ``IPushProducer`` the protocol
    registers on its transport: a full send buffer pauses the spark's
    writes (``write()`` returns ``False``), an emptied one resumes them
    (``"drain"``).
    """

    transport: Any
    spark: Any

    def pauseProducing(self) -> None:
        if self.spark is not None:
            self.spark.pauseWriting()

    def resumeProducing(self) -> None:
        if self.spark is not None:
            self.spark.resumeWriting()

    def stopProducing(self) -> None:
        """
        The transport is going away; the protocol's ``onClose`` tells the
        spark.
        """

    def pauseReading(self) -> None:
        if self.transport is not None:
            self.transport.pauseProducing()

    def resumeReading(self) -> None:
        if self.transport is not None:
            self.transport.resumeProducing()

    def bufferedAmount(self) -> int:
        return buffered_bytes(self.transport)

    def abort(self) -> None:
        """
        Drop the connection now, with whatever it still had to send (a
        slow client past ``max_buffered``).
        """
        transport = self.transport
        if transport is not None:
            transport.abortConnection()
