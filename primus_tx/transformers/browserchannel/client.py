# -*- test-case-name: tests.browserchannel.test_browserchannel_client -*-
"""
The ``browserchannel`` transformer, Python client side: one BrowserChannel
session per connection attempt, through treq.

The client binds straight away (no test channel: it exists to detect
buffering proxies for browsers, and costs two seconds), sending what it
already has with the bind request, then keeps one back channel open (a
stream with ``CI=0``, or long polls with ``CI=1`` when the transport option
``long_polling`` is set) and one forward-channel POST in flight at a time.
Every request acknowledges the arrays received so far (``AID``) and
carries the socket URL's query, so the spark sees it.

Transport options (the socket's ``transport`` dict): ``long_polling``
(``False``), ``connect_timeout`` (seconds, default 10), ``app_version``
(sent as ``CVER``).

A ``stop`` array ends the connection without an error, so Primus's
reconnect strategy decides (the server's ``primus::server::close`` message,
when there is one, arrives first and ends the socket).
"""

from __future__ import annotations

import json
import random
import string
from typing import Any, Callable, Optional
from urllib.parse import quote, urlencode

from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from primus_tx._errors import ConnectionFailed
from primus_tx._json import loads
from primus_tx.interfaces import IClientTransport
from primus_tx.transformers._http_client import HTTPClientBase
from primus_tx.transformers.browserchannel._wire import MAX_MAPS, parse_chunks

__all__ = ["BrowserChannelClientTransport", "encode_maps"]

_ZX_CHARS = string.ascii_lowercase + string.digits


def encode_maps(ofs: int, messages: list[str]) -> bytes:
    """
    A forward-channel body carrying ``messages`` as ``_S`` maps from
    offset ``ofs`` (``count=0`` when there are none).
    """
    if not messages:
        return b"count=0"
    fields = [f"count={len(messages)}", f"ofs={ofs}"]
    fields.extend(f"req{n}__S={quote(message, safe='')}" for n, message in enumerate(messages))
    return "&".join(fields).encode("ascii")


@implementer(IClientTransport)
class BrowserChannelClientTransport(HTTPClientBase):
    """
    One BrowserChannel session of a Python Primus client.
    """

    protocol = "http"
    log = Logger()

    def __init__(self, handler: Any, reactor: Any, options: dict[str, Any]) -> None:
        self._handler = handler
        self._reactor = reactor
        self._options = dict(options)
        self.id: Optional[str] = None
        self._closed = False
        self._reported = False
        self._opened = False
        self._outbox: list[str] = []
        self._sent_maps = 0
        self._posting = False
        self._aid = -1
        self._rid = random.randrange(100000)
        self._buffer = ""
        self._timeout: Any = None
        HTTPClientBase.__init__(self, reactor)

    # -- IClientTransport --------------------------------------------------------

    def open(self, url: str, headers: dict[str, str]) -> None:
        self._split_url(url, headers)
        self._timeout = self._reactor.callLater(
            float(self._options.get("connect_timeout", 10)), self._timed_out
        )
        params = {"RID": str(self._rid)}
        version = self._options.get("app_version")
        if version is not None:
            params["CVER"] = str(version)
        self._rid += 1
        self._buffer = ""
        d = self._call("POST", params, encode_maps(0, []), self._chunk)
        d.addCallback(self._bound)
        d.addErrback(self._fail)

    def send(self, message: str | bytes) -> None:
        if self._closed or self._reported:
            return
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        self._outbox.append(text)
        self._post()

    def close(self) -> Deferred[None]:
        if self._closed:
            return succeed(None)
        self._closed = True
        self._cancel_timeout()
        if self._opened and not self._reported and (self._outbox or self._posting):
            # ``end(data)`` writes just before closing: deliver what is
            # still to be posted first, then say goodbye.  The handler
            # hears nothing more meanwhile.
            closing = self._drain_then(self._goodbye)
            self._post()
            return closing
        return self._goodbye()

    def _goodbye(self) -> Deferred[None]:
        self._cancel_pending()
        if self.id is None or self._reported:
            return self._pool.closeCachedConnections()
        # Say goodbye, so the server ends the session now rather than
        # when it times out; the pool closes once that is done.
        d = self._call("GET", {"SID": self.id, "RID": str(self._rid), "TYPE": "terminate"})
        call = self._reactor.callLater(2, d.cancel)

        def done(_: Any) -> Deferred[None]:
            if call.active():
                call.cancel()
            return self._pool.closeCachedConnections()

        return d.addBoth(done)

    # -- HTTP -------------------------------------------------------------------------

    def _url(self, params: dict[str, str]) -> str:
        query = {"VER": "8"}
        query.update(params)
        query["zx"] = "".join(random.choice(_ZX_CHARS) for _ in range(12))
        query["t"] = "1"
        text = urlencode(query)
        if self._query:
            text += "&" + self._query
        return f"{self._base}/bind?{text}"

    def _call(
        self,
        method: str,
        params: dict[str, str],
        body: Optional[bytes] = None,
        stream: Optional[Callable[[bytes], None]] = None,
    ) -> Deferred[Any]:
        return self._request(
            method, self._url(params), body, stream, "application/x-www-form-urlencoded"
        )

    # -- the back channel ---------------------------------------------------------------

    def _chunk(self, data: bytes) -> None:
        if self._closed or self._reported:
            return
        self._buffer += data.decode("utf-8", "replace")
        try:
            bodies, self._buffer = parse_chunks(self._buffer)
            for body in bodies:
                self._arrays(loads(body))
        except (ValueError, RecursionError) as error:
            self._fail(Failure(ConnectionFailed(f"Broken BrowserChannel chunk: {error}")))

    def _arrays(self, arrays: Any) -> None:
        if not isinstance(arrays, list):
            raise ValueError("a chunk that is not a list of arrays")
        for item in arrays:
            if self._closed or self._reported:
                return
            if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], int):
                raise ValueError("an array without its id")
            array_id, data = item
            if array_id <= self._aid:
                continue  # resent after a broken back channel
            self._aid = array_id
            if isinstance(data, list) and data:
                kind = data[0]
                if kind == "c" and not self._opened and len(data) >= 2:
                    self._opened = True
                    self.id = str(data[1])
                    self._cancel_timeout()
                    self._handler.connectionMade()
                    self._post()
                    continue
                if kind == "noop":
                    continue
                if kind == "stop":
                    self._report(None)
                    return
            if not self._opened:
                raise ValueError("an array before the session opened")
            self._handler.messageReceived(data if isinstance(data, str) else json.dumps(data))

    def _bound(self, _: Any) -> None:
        if self._closed or self._reported:
            return
        if not self._opened:
            self._fail(Failure(ConnectionFailed("The bind request ended without a session")))
            return
        self._back_channel()

    def _back_channel(self) -> None:
        if self._closed or self._reported or self.id is None:
            return
        self._buffer = ""
        params = {
            "RID": "rpc",
            "SID": self.id,
            "CI": "1" if self._options.get("long_polling") else "0",
            "AID": str(self._aid),
            "TYPE": "xmlhttp",
        }
        d = self._call("GET", params, stream=self._chunk)
        d.addCallback(lambda _: self._back_channel())
        d.addErrback(self._fail)

    # -- the forward channel --------------------------------------------------------------

    def _post(self) -> None:
        if self._posting or not self._opened or self._reported:
            return
        if not self._outbox or (self._closed and self._drained is None):
            if self._drained is not None and not self._outbox:
                self._finish_draining()
            return
        batch, self._outbox = self._outbox[:MAX_MAPS], self._outbox[MAX_MAPS:]
        ofs, self._sent_maps = self._sent_maps, self._sent_maps + len(batch)
        self._posting = True
        params = {"SID": str(self.id), "RID": str(self._rid), "AID": str(self._aid)}
        self._rid += 1
        d = self._call("POST", params, encode_maps(ofs, batch))
        d.addCallback(self._posted)
        d.addErrback(self._fail)

    def _posted(self, _: Any) -> None:
        self._posting = False
        self._post()

    # -- ending ------------------------------------------------------------------------------

    def _cancel_timeout(self) -> None:
        call, self._timeout = self._timeout, None
        if call is not None and call.active():
            call.cancel()

    def _timed_out(self) -> None:
        self._timeout = None
        if not self._opened:
            self._report(ConnectionFailed("BrowserChannel bind timed out"))

    def _fail(self, failure: Failure) -> None:
        if self._closed or self._reported:
            self._finish_draining()
            return
        if self._opened and not failure.check(ConnectionFailed):
            # The network dropped an open session (the server went away):
            # a lost connection, as a closed WebSocket is, not an error.
            self._report(None)
            return
        error = failure.value
        if not isinstance(error, ConnectionFailed):
            error = ConnectionFailed(f"BrowserChannel connection failed: {error}", error)
        self._report(error)

    def _report(self, error: Optional[Exception]) -> None:
        if self._reported or self._closed:
            return
        self._reported = True
        self._cancel_timeout()
        if error is not None:
            self._handler.connectionFailed(error)
        self._handler.connectionLost(Failure(error) if error is not None else Failure(ConnectionDone()))
        self._cancel_pending()
        self._pool.closeCachedConnections()
