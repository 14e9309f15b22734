"""
Receivers: the long-poll and streaming responses an HTTP session writes its frames to, one class per transport.
"""

from __future__ import annotations

from typing import Optional, Protocol

from primus_tx._http import PrimusRequest, watch_gone
from primus_tx.transformers.sockjs._constants import _HTMLFILE_HEAD
from primus_tx.transformers.sockjs._frames import _json
from primus_tx.transformers.sockjs._responses import _finish, _no_cache


class _ReceivingSession(Protocol):
    """
    What a receiver tells its session (``_session.Session``).
    """

    def _receiver_aborted(self, receiver: _Receiver) -> None: ...



class _Receiver:
    """
    One receiving request.  A polling receiver carries one frame; a
    streaming one carries frames until the response limit.
    """

    streaming = True
    content_type = b"application/javascript; charset=UTF-8"

    def __init__(self, request: PrimusRequest, limit: int) -> None:
        self.request = request
        self.limit = limit
        self.written = 0
        self.done = False
        self.session: Optional[_ReceivingSession] = None
        watch_gone(request, self._aborted)

    def prelude(self) -> str:
        return ""

    def wrap(self, frame: str) -> str:
        return frame + "\n"

    def start(self) -> None:
        request = self.request
        request.setResponseCode(200)
        request.setHeader(b"content-type", self.content_type)
        _no_cache(request)
        prelude = self.prelude()
        if prelude:
            request.write(prelude.encode("utf-8"))

    def send_frame(self, frame: str) -> bool:
        """
        Write one frame; ``False`` once the response is over.
        """
        if self.done:
            return False
        wrapped = self.wrap(frame).encode("utf-8")
        self.request.write(wrapped)
        self.written += len(wrapped)
        if not self.streaming or self.written >= self.limit:
            self.end()
            return False
        return True

    def end(self) -> None:
        if not self.done:
            self.done = True
            _finish(self.request)

    def _aborted(self, request: PrimusRequest) -> None:
        if not self.done:
            self.done = True
            session = self.session
            if session is not None:
                session._receiver_aborted(self)


class _XhrPolling(_Receiver):
    streaming = False


class _XhrStreaming(_Receiver):
    def prelude(self) -> str:
        return "h" * 2048 + "\n"


class _EventSource(_Receiver):
    content_type = b"text/event-stream"

    def prelude(self) -> str:
        return "\r\n"

    def wrap(self, frame: str) -> str:
        escaped = (
            frame.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A").replace("\x00", "%00")
        )
        return "data: " + escaped + "\r\n\r\n"


class _HtmlFile(_Receiver):
    content_type = b"text/html; charset=UTF-8"

    def __init__(self, request: PrimusRequest, limit: int, callback: str) -> None:
        super().__init__(request, limit)
        self.callback = callback

    def prelude(self) -> str:
        head = _HTMLFILE_HEAD.format(callback=self.callback)
        return head + " " * max(0, 1024 - len(head) + 14) + "\r\n\r\n"

    def wrap(self, frame: str) -> str:
        return "<script>\np(" + _json(frame) + ");\n</script>\r\n"


class _JsonpPolling(_Receiver):
    streaming = False

    def __init__(self, request: PrimusRequest, limit: int, callback: str) -> None:
        super().__init__(request, limit)
        self.callback = callback

    def start(self) -> None:
        super().start()
        self.request.setHeader(b"x-content-type-options", b"nosniff")

    def wrap(self, frame: str) -> str:
        return "/**/" + self.callback + "(" + _json(frame) + ");\r\n"


# -- HTTP sessions --------------------------------------------------------------

