"""
The seat an application's producer takes in a consumer that Primus paces:
a spark, or a substream of one.

Both consumers pace producers the same way — a streaming producer is paused
and resumed with the transport's write pressure, a pull producer is asked
for its next chunk on the next turn of the reactor while the transport keeps
up — and differ only in where "writing is paused" and the reactor come from,
so those two are handed in and the rest lives here once.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

__all__ = ["ProducerSeat"]


class ProducerSeat:
    """
    One registered producer and its pacing state.

    :param writing_paused: whether the consumer's transport is past its
        high-water mark right now.
    :param reactor: the reactor to schedule pulls on, or ``None`` once the
        consumer is gone (no more pulls).
    """

    __slots__ = ("_log", "_pull_call", "_reactor", "_writing_paused", "paused", "producer",
                 "streaming")  # fmt: skip

    def __init__(
        self,
        writing_paused: Callable[[], bool],
        reactor: Callable[[], Optional[Any]],
        log: Logger,
    ) -> None:
        self._writing_paused = writing_paused
        self._reactor = reactor
        self._log = log
        self.producer: Any = None
        self.streaming = False
        self.paused = False
        self._pull_call: Optional[IDelayedCall] = None

    def register(self, producer: Any, streaming: bool) -> None:
        """
        Seat ``producer``, paused at once when writing already is.

        :raises RuntimeError: when a producer is already seated.
        """
        if self.producer is not None:
            raise RuntimeError(
                f"Cannot register producer {producer!r}: {self.producer!r} is still registered"
            )
        self.producer = producer
        self.streaming = bool(streaming)
        self.paused = self._writing_paused()
        if streaming:
            if self.paused:
                producer.pauseProducing()
        elif not self.paused:
            self._schedule_pull()

    def unregister(self) -> None:
        """
        Forget the seated producer and any pull scheduled for it.
        """
        self.producer = None
        self.paused = False
        if self._pull_call is not None:
            if self._pull_call.active():
                self._pull_call.cancel()
            self._pull_call = None

    def pause(self) -> None:
        """
        Writing is paused: pause a streaming producer (a pull producer is
        simply not asked again).
        """
        if self.producer is not None and not self.paused:
            self.paused = True
            if self.streaming:
                self.producer.pauseProducing()

    def resume(self) -> None:
        """
        Writing may go on: resume a streaming producer, pull from a pull one.
        """
        if self.producer is not None and self.paused:
            self.paused = False
            if self.streaming:
                self.producer.resumeProducing()
            else:
                self._schedule_pull()

    def stop(self) -> None:
        """
        The consumer is gone: unseat the producer and tell it to stop.
        """
        producer = self.producer
        self.unregister()
        if producer is not None:
            try:
                producer.stopProducing()
            except Exception:
                self._log.failure("stopping producer {producer!r} failed", producer=producer)

    def _schedule_pull(self) -> None:
        reactor = self._reactor()
        if self._pull_call is None and reactor is not None:
            self._pull_call = reactor.callLater(0, self._pull)

    def _pull(self) -> None:
        """
        Ask a pull producer for its next chunk, then again on the next turn
        of the reactor while the transport keeps up.
        """
        self._pull_call = None
        producer = self.producer
        if producer is None or self.paused or self.streaming or self._reactor() is None:
            return
        try:
            producer.resumeProducing()
        except Exception:
            self._log.failure("producer {producer!r} failed", producer=producer)
            self.unregister()
            return
        if self.producer is producer:
            if self._writing_paused():
                self.paused = True
            else:
                self._schedule_pull()
