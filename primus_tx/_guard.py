# -*- test-case-name: tests.test_guard -*-
"""
What Primus adds to the twisted.web ``Site`` it attaches to, so that a
hostile or merely slow client cannot make the server buffer or wait
without bound.

twisted.web reads a request's whole body into ``request.content`` (and
parses form bodies into ``request.args``) before any resource sees the
request, and it only closes connections that stay silent, not ones that
trickle.  Primus cannot fix that from its resource, so when it attaches to
a ``Site`` it installs a :class:`SiteGuard` there:

* requests are made by a subclass of the site's request class that knows
  the Primus pathnames: a body under a pathname larger than the limit (from
  ``Content-Length``, or counted while a chunked body streams in) is
  answered 413 and the connection closed before more of it is read; a
  transformer may refuse a body at once (a SockJS or Engine.IO post for a
  session that does not exist); bodies under a pathname are never parsed
  as forms;
* connections get a channel subclass that closes a connection whose request
  headers are not complete within ``header_timeout`` seconds (408), answers
  431 for a request line or headers past twisted.web's limits (twisted.web
  itself closes without a word or answers 400), and counts the requests
  under each pathname that are still in their headers or body, refusing
  (503) those over ``max_pending`` in total or ``max_pending_per_address``
  from one address.

Everything is undone when the last Primus detaches from the site; channels
already made keep their class but do nothing more.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any, Callable, Optional

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.logger import Logger
from twisted.web.http import HTTPChannel

from primus_tx._http import reason

__all__ = ["EarlyAnswer", "SiteGuard", "early_answer"]

log = Logger()

# Node's wording where twisted.web's is older.
_NODE_REASONS = {408: b"Request Timeout", 413: b"Payload Too Large"}

#: ``(status, content type, body)`` of an answer written before the body.
EarlyAnswer = tuple[int, bytes, bytes]


def early_answer(transport: Any, status: int, content_type: bytes = b"text/plain", body: bytes = b"") -> None:
    """
    Answer on ``transport`` directly and close the connection, for a
    request whose body will not be read (so the connection cannot carry
    another request).
    """
    if transport is None or getattr(transport, "disconnecting", False):
        return
    head = b"HTTP/1.1 %d %s\r\n" % (status, _NODE_REASONS.get(status) or reason(status))
    if body:
        head += b"Content-Type: " + content_type + b"\r\n"
    head += b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    transport.write(head + body)
    transport.loseConnection()


class _Entry:
    """
    One Primus on the site: its pathname, its limits, its transformer's
    server side and its counters.
    """

    def __init__(self, owner: object, options: dict[str, Any], server: Any) -> None:
        self.owner = owner
        self.pathname: str = options["pathname"]
        self.prefix = self.pathname.encode("utf-8")
        self.max_length: int = options["max_length"]
        self.server = server
        self.max_pending: int = options["max_pending"]
        self.max_pending_per_address: int = options["max_pending_per_address"]
        self.header_timeout: float = options["header_timeout"]
        self.pending = 0
        self.by_address: dict[str, int] = {}
        #: Whether a refusal was logged since the pending count last fell:
        #: one warning per flood, not one per refused request.
        self.warned = False

    def body_limit(self) -> int:
        limit = getattr(self.server, "max_body", None)
        return int(limit) if limit else self.max_length

    def refuse(self, method: bytes, uri: bytes) -> Optional[EarlyAnswer]:
        """
        The transformer's early answer for a request with a body, if it
        has one (an unknown session).
        """
        refuse = getattr(self.server, "refuse_body", None)
        if refuse is None:
            return None
        try:
            answer: Optional[EarlyAnswer] = refuse(method, uri)
        except Exception:
            log.failure("refuse_body of {server!r} failed", server=self.server)
            return None
        return answer

    def admit(self, address: str) -> bool:
        if self.max_pending and self.pending >= self.max_pending:
            return False
        per = self.by_address.get(address, 0)
        if self.max_pending_per_address and per >= self.max_pending_per_address:
            return False
        self.pending += 1
        self.by_address[address] = per + 1
        return True

    def release(self, address: str) -> None:
        self.pending -= 1
        self.warned = False
        left = self.by_address.get(address, 1) - 1
        if left > 0:
            self.by_address[address] = left
        else:
            self.by_address.pop(address, None)


def _path_of(uri: Optional[bytes]) -> bytes:
    if not uri:
        return b""
    return uri.split(b"?", 1)[0]


def _address_of(channel: Any) -> str:
    transport = getattr(channel, "transport", None)
    try:
        peer = transport.getPeer() if transport is not None else None
    except Exception:  # pragma: no cover - a transport without a peer
        peer = None
    if isinstance(peer, (IPv4Address, IPv6Address)):
        return str(peer.host)
    return ""


class SiteGuard:
    """
    The limits Primus enforces on the site it is attached to (see the
    module's docstring), shared by every Primus attached to that site.
    """

    def __init__(self, site: Any) -> None:
        self.site = site
        self.entries: list[_Entry] = []
        self._original_factory = site.requestFactory
        self._channel_classes: dict[type, type] = {}
        factory = site.requestFactory
        if isinstance(factory, type):
            site.requestFactory = type(
                "Primus" + factory.__name__,
                (_GuardedRequest, factory),
                {"_primus_guard": self, "__module__": __name__},
            )
        self._had_build = "buildProtocol" in vars(site)
        self._original_build = site.buildProtocol
        site.buildProtocol = self._build_protocol

    @classmethod
    def attach(cls, site: Any, owner: object, options: dict[str, Any], server: Any) -> SiteGuard:
        """
        Guard ``site`` for one server (installing the guard on first use).

        :param owner: the server, as :meth:`detach` will name it.
        :param options: the server's checked options (``pathname``,
            ``max_length`` and the limits of this module).
        :param server: its transformer's server side, asked for
            ``max_body`` and ``refuse_body`` when it has them.
        """
        guard: Optional[SiteGuard] = getattr(site, "_primus_guard", None)
        if guard is None:
            guard = cls(site)
            site._primus_guard = guard
        guard.entries.append(_Entry(owner, options, server))
        return guard

    def detach(self, owner: object) -> None:
        """
        Forget ``owner``; the last one out restores the site.
        """
        self.entries = [entry for entry in self.entries if entry.owner is not owner]
        if self.entries:
            return
        site = self.site
        if getattr(site, "_primus_guard", None) is self:
            del site._primus_guard
        if getattr(site.requestFactory, "_primus_guard", None) is self:
            site.requestFactory = self._original_factory
        if site.buildProtocol == self._build_protocol:
            if self._had_build:
                site.buildProtocol = self._original_build
            else:
                del site.buildProtocol

    # -- lookups -------------------------------------------------------------

    def entry_for(self, uri: Optional[bytes]) -> Optional[_Entry]:
        path = _path_of(uri)
        for entry in self.entries:
            if path.startswith(entry.prefix):
                return entry
        return None

    @property
    def header_timeout(self) -> float:
        timeouts = [entry.header_timeout for entry in self.entries if entry.header_timeout]
        return min(timeouts) if timeouts else 0.0

    # -- channels --------------------------------------------------------------

    def _build_protocol(self, addr: Any) -> Any:
        protocol = self._original_build(addr)
        channel = getattr(protocol, "_channel", protocol)
        if isinstance(channel, HTTPChannel) and self.entries:
            base = type(channel)
            guarded = self._channel_classes.get(base)
            if guarded is None:
                guarded = type(
                    "Primus" + base.__name__, (_GuardedChannel, base), {"__module__": __name__}
                )
                self._channel_classes[base] = guarded
            channel.__class__ = guarded
            channel._primus_guard = self  # type: ignore[attr-defined]
        return protocol


class _GuardedChannel(HTTPChannel):
    """
    Mixed in before the site's channel class (see :class:`SiteGuard`).
    """

    _primus_guard: Optional[SiteGuard] = None
    _primus_deadline: Any = None
    _primus_counted: Optional[tuple[_Entry, str]] = None

    def dataReceived(self, data: bytes) -> None:
        if self._primus_deadline is None and self.line_mode and not self._handlingRequest:
            guard = self._primus_guard
            timeout = guard.header_timeout if guard is not None else 0.0
            if timeout:
                self._primus_deadline = self.callLater(timeout, self._primus_too_slow)
        super().dataReceived(data)

    def _primus_too_slow(self) -> None:
        self._primus_deadline = None
        log.info(
            "closing a connection whose request headers took too long: {peer}",
            peer=str(self.transport.getPeer()) if self.transport is not None else "?",
        )
        self._primus_release()
        early_answer(self.transport, 408)

    def _primus_stop_deadline(self) -> None:
        call, self._primus_deadline = self._primus_deadline, None
        if call is not None and call.active():
            call.cancel()

    def _primus_release(self) -> None:
        counted, self._primus_counted = self._primus_counted, None
        if counted is not None:
            counted[0].release(counted[1])

    def lineReceived(self, line: bytes) -> None:
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            self._primus_too_large()
            return
        requests = len(self.requests)
        super().lineReceived(line)
        if len(self.requests) > requests and self._primus_guard is not None:
            self._primus_started(getattr(self, "_path", None))

    def _primus_started(self, uri: Optional[bytes]) -> None:
        """
        A request line was parsed: count it when it is under a pathname.
        """
        guard = self._primus_guard
        entry = guard.entry_for(uri) if guard is not None else None
        if entry is None or self._primus_counted is not None:
            return
        address = _address_of(self)
        if not entry.admit(address):
            if not entry.warned:
                entry.warned = True
                log.warn(
                    "refusing requests under {pathname}: too many still in their headers "
                    "({pending} in all, max_pending {cap}; {per} from {address})",
                    pathname=entry.pathname,
                    pending=entry.pending,
                    cap=entry.max_pending,
                    per=entry.by_address.get(address, 0),
                    address=address,
                )
            self.persistent = False
            early_answer(self.transport, 503)
            return
        self._primus_counted = (entry, address)

    def headerReceived(self, line: bytes) -> bool:
        if self._receivedHeaderCount >= self.maxHeaders:
            self._primus_too_large()
            return False
        return bool(super().headerReceived(line))

    def lineLengthExceeded(self, line: bytes) -> None:
        self._primus_too_large()

    def _primus_too_large(self) -> None:
        self.persistent = False
        self._primus_stop_deadline()
        self._primus_release()
        early_answer(self.transport, 431)

    def allHeadersReceived(self) -> None:
        self._primus_stop_deadline()
        super().allHeadersReceived()

    def allContentReceived(self) -> None:
        self._primus_release()
        super().allContentReceived()

    def connectionLost(self, reason: Any = None) -> None:
        self._primus_stop_deadline()
        self._primus_release()
        super().connectionLost(reason)


class _GuardedRequest:
    """
    Mixed in before the site's request class (see :class:`SiteGuard`).
    """

    _primus_guard: Optional[SiteGuard] = None
    #: The body limit while this request is under a pathname, else None.
    _primus_limit: Optional[int] = None
    _primus_read = 0
    _primus_refused = False
    _primus_content: Any = None

    channel: Any
    content: Any
    requestHeaders: Any
    gotLength: Callable[..., Any]

    def gotLength(self, length: Optional[int]) -> None:  # type: ignore[no-redef]
        super().gotLength(length)  # type: ignore[misc]
        guard = self._primus_guard
        channel = self.channel
        if guard is None or channel is None:
            return
        uri = getattr(channel, "_path", None)
        entry = guard.entry_for(uri)
        if entry is None:
            return
        limit = entry.body_limit()
        self._primus_limit = limit
        if length == 0:
            return
        if length is not None and length > limit:
            self._primus_refuse(413, b"text/plain", b"Payload Too Large")
            return
        answer = entry.refuse(getattr(channel, "_command", b""), uri or b"")
        if answer is not None:
            self._primus_refuse(*answer)

    def _primus_refuse(self, status: int, content_type: bytes, body: bytes) -> None:
        self._primus_refused = True
        # No "100 Continue" for a body we refuse.
        self.requestHeaders.removeHeader(b"expect")
        channel = self.channel
        channel.persistent = False
        early_answer(channel.transport, status, content_type, body)

    def handleContentChunk(self, data: bytes) -> None:
        limit = self._primus_limit
        if limit is not None:
            if self._primus_refused:
                return
            self._primus_read += len(data)
            if self._primus_read > limit:
                self._primus_refuse(413, b"text/plain", b"Payload Too Large")
                return
        super().handleContentChunk(data)  # type: ignore[misc]

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._primus_refused:
            return
        if self._primus_limit is not None:
            # An empty stand-in while twisted.web looks for form fields: a
            # body under the pathname is the transport's, never a form.
            self._primus_content, self.content = self.content, BytesIO()
        super().requestReceived(command, path, version)  # type: ignore[misc]

    def process(self) -> None:
        content, self._primus_content = self._primus_content, None
        if content is not None:
            content.seek(0, 0)
            self.content = content
        super().process()  # type: ignore[misc]
