"""
An HTTP SockJS session: the spark's IConnection, its outbox and timers, outliving the requests that carry it.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol

from twisted.internet.interfaces import IDelayedCall
from zope.interface import implementer

from primus_tx._http import PrimusRequest
from primus_tx.interfaces import IConnection, ITransformerHost
from primus_tx.transformers._shared import check_water, spark_options
from primus_tx.transformers.sockjs._constants import ANOTHER_CONNECTION, HIGH_WATER, LOW_WATER
from primus_tx.transformers.sockjs._frames import _text, close_frame, message_frame
from primus_tx.transformers.sockjs._receivers import _Receiver


class _Service(Protocol):
    """
    What a session uses of its SockJS server (``server.SockJSServer``).
    """

    host: ITransformerHost
    reactor: Any
    heartbeat_delay: float
    disconnect_delay: float

    def _forget(self, session: Session) -> None: ...


# A session's life.
_NEW, _OPEN, _CLOSING, _CLOSED = range(4)


@implementer(IConnection)
class Session:
    """
    One SockJS session over HTTP, and the spark's connection.

    Its spark sees it as ``spark.socket``: ``spark.socket.close(code=3000,
    reason="Go away!")`` ends the session with an application close code
    (Primus itself closes with 1000).
    """

    def __init__(self, server: _Service, session_id: str, request: PrimusRequest) -> None:
        self.server = server
        self.id = session_id
        self.state = _NEW
        self.receiver: Optional[_Receiver] = None
        self.spark: Any = None
        self.close_frame: Optional[str] = None
        self._first_request: Optional[PrimusRequest] = request
        self._outbox: list[str] = []
        self._buffered = 0
        self._writing_paused = False
        self._reading_paused = False
        self._held: list[tuple[list[str], Callable[[], None]]] = []
        self._heartbeat: Optional[IDelayedCall] = None
        self._disconnect: Optional[IDelayedCall] = None

    # -- receivers ----------------------------------------------------------

    def attach(self, receiver: _Receiver) -> None:
        """
        A receiving request arrived for this session.
        """
        receiver.start()
        if self.close_frame is not None and not self._outbox:
            receiver.send_frame(self.close_frame)
            receiver.end()
            self._start_disconnect()
            return
        if self.receiver is not None:
            receiver.send_frame(ANOTHER_CONNECTION)
            receiver.end()
            return
        self._cancel_disconnect()
        self.receiver = receiver
        receiver.session = self
        if self.state == _NEW:
            self.state = _OPEN
            self._deliver("o")
            self._open_spark()
        self._flush()
        if self.receiver is receiver and self._heartbeat is None:
            self._schedule_heartbeat()

    def _open_spark(self) -> None:
        request, self._first_request = self._first_request, None
        if request is None:  # pragma: no cover - a session opens once
            return
        self.spark = self.server.host.connect_spark(
            self, **spark_options(request, self, copy_headers=True)
        )

    def _deliver(self, frame: str) -> None:
        receiver = self.receiver
        if receiver is None:
            return
        if not receiver.send_frame(frame):
            self._detach(receiver)
        else:
            self._schedule_heartbeat()

    def _detach(self, receiver: _Receiver) -> None:
        if self.receiver is receiver:
            self.receiver = None
            receiver.session = None
            self._cancel_heartbeat()
            if self.state != _CLOSED:
                self._start_disconnect()

    def _receiver_aborted(self, receiver: _Receiver) -> None:
        # The client went away mid-response: the session is in an unknown
        # state (frames may be lost), so it ends now, as in the reference.
        if self.receiver is receiver:
            self.receiver = None
            self._terminate()

    def _flush(self) -> None:
        while self.receiver is not None:
            if self._outbox:
                messages, self._outbox = self._outbox, []
                self._buffered = 0
                self._deliver(message_frame(messages))
                self._check_water()
                continue
            if self.close_frame is not None:
                receiver = self.receiver
                self._detach(receiver)
                receiver.send_frame(self.close_frame)
                receiver.end()
            break

    # -- timers -----------------------------------------------------------------

    def _schedule_heartbeat(self) -> None:
        self._cancel_heartbeat()
        if self.receiver is not None:
            self._heartbeat = self.server.reactor.callLater(
                self.server.heartbeat_delay, self._beat
            )

    def _cancel_heartbeat(self) -> None:
        call, self._heartbeat = self._heartbeat, None
        if call is not None and call.active():
            call.cancel()

    def _beat(self) -> None:
        self._heartbeat = None
        self._deliver("h")

    def _start_disconnect(self) -> None:
        self._cancel_disconnect()
        if self.state != _CLOSED:
            self._disconnect = self.server.reactor.callLater(
                self.server.disconnect_delay, self._expire
            )

    def _cancel_disconnect(self) -> None:
        call, self._disconnect = self._disconnect, None
        if call is not None and call.active():
            call.cancel()

    def _expire(self) -> None:
        self._disconnect = None
        if self.receiver is None:
            self._terminate()

    def _terminate(self) -> None:
        """
        The session is over: forget it and tell the spark.
        """
        if self.state == _CLOSED:
            return
        self.state = _CLOSED
        self._cancel_heartbeat()
        self._cancel_disconnect()
        self.server._forget(self)
        receiver, self.receiver = self.receiver, None
        if receiver is not None:
            receiver.session = None
            receiver.end()
        held, self._held = self._held, []
        for _, answer in held:
            answer()
        self._outbox = []
        self._buffered = 0
        spark, self.spark = self.spark, None
        if spark is not None:
            spark.connectionLost(None)

    # -- incoming ---------------------------------------------------------------

    def receive(self, messages: list[str], answer: Callable[[], None]) -> None:
        """
        Messages posted by the client; ``answer`` completes the send request
        (delayed while the spark has paused reading).
        """
        if self._reading_paused:
            self._held.append((messages, answer))
            return
        self._hand_over(messages)
        answer()

    def _hand_over(self, messages: list[str]) -> None:
        for message in messages:
            spark = self.spark
            if spark is None or self.state != _OPEN:
                return
            spark.messageReceived(message)

    # -- IConnection --------------------------------------------------------------

    def send(self, message: str | bytes) -> None:
        if self.state != _OPEN or self.close_frame is not None:
            return
        text = _text(message)
        self._outbox.append(text)
        self._buffered += len(text)
        self._flush()
        self._check_water()

    def sendPrepared(self, prepared: Any) -> None:
        self.send(prepared)

    def close(
        self, reconnect: bool = False, *, code: int = 1000, reason: str = "Normal closure"
    ) -> None:
        """
        Close the session with ``c[code,"reason"]`` (after the messages
        already written); later receiving requests get the same frame until
        the session expires.
        """
        if self.state == _CLOSED or self.close_frame is not None:
            return
        self.close_frame = close_frame(code, reason)
        if self.state == _NEW:
            self.state = _CLOSING
        self._flush()
        if self.receiver is None and self._disconnect is None:
            self._start_disconnect()
        spark, self.spark = self.spark, None
        if spark is not None:
            spark.connectionLost(None)

    def pauseReading(self) -> None:
        self._reading_paused = True

    def resumeReading(self) -> None:
        self._reading_paused = False
        while self._held and not self._reading_paused:
            messages, answer = self._held.pop(0)
            self._hand_over(messages)
            answer()

    def bufferedAmount(self) -> int:
        return self._buffered

    def abort(self) -> None:
        """
        A slow client past ``max_buffered``: drop what waits for it;
        ``close()`` follows.
        """
        self._outbox = []
        self._buffered = 0

    def _check_water(self) -> None:
        if self._writing_paused or self._buffered > HIGH_WATER:
            self._writing_paused = check_water(
                self._writing_paused, self._buffered, HIGH_WATER, LOW_WATER, self.spark
            )


# -- WebSocket sessions --------------------------------------------------------------
