# -*- test-case-name: tests.cluster.test_redis_link -*-
"""
One reconnecting Redis connection, bounded in every direction.

The Redis protocol itself is txredisapi's (with hiredis's parser when it is
installed).  What this module adds is what a real-time server needs and
txredisapi does not give on its own:

* every call is bounded: while no connection is up a call fails at once with
  :class:`RedisUnavailable` instead of being parked until Redis comes back
  (txredisapi's pool waits forever), and a call on a connection that stops
  answering fails after ``timeout`` seconds (the connection is then aborted
  and made again);
* at most ``max_in_flight`` calls wait for an answer; past that, calls fail
  at once with :class:`ClusterOverloaded`, so a slow Redis never grows a
  queue in the node;
* reconnection with exponential back-off (Twisted's ``ClientService``) that
  never gives up: txredisapi's own handshake stops reconnecting for good
  when ``AUTH`` or ``SELECT`` fails, which is what a frozen Redis makes them
  do, so the handshake here is ours and only drops the one connection;
* a subscriber connection that subscribes again on every reconnect and that
  a liveness probe (``PING`` on the subscribed connection, answered by Redis
  even in subscribed mode) restarts when Redis stops answering: without it a
  frozen Redis leaves a subscriber waiting on a healthy-looking TCP
  connection forever.

txredisapi imports the global reactor when it is imported, so it is only
imported when a link is made, never when primus-tx is.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence
from urllib.parse import unquote, urlsplit

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from primus_tx._errors import PrimusError

__all__ = [
    "ClusterError",
    "ClusterOverloaded",
    "RedisLink",
    "RedisUnavailable",
    "parse_redis_url",
]


class ClusterError(PrimusError):
    """
    A cross-node operation could not be done.
    """


class RedisUnavailable(ClusterError):
    """
    Redis is not reachable right now (down, frozen, or not answering within
    the timeout).  Local delivery is not affected.
    """


class ClusterOverloaded(ClusterError):
    """
    Too many Redis calls are already waiting for an answer; this one was
    refused rather than queued.
    """


def parse_redis_url(url: str) -> dict[str, Any]:
    """
    ``redis://[[user]:password@]host[:port][/db]`` as its parts.

    :raises PrimusError: for another scheme or a database that is not a
        number.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis", ""):
        raise PrimusError(f"The Redis URL must start with redis://, not {url!r}")
    if parts.scheme == "":
        parts = urlsplit("redis://" + url)
    path = parts.path.strip("/")
    try:
        db = int(path) if path else 0
    except ValueError:
        raise PrimusError(f"The Redis database in {url!r} must be a number") from None
    try:
        port = parts.port or 6379
    except ValueError:
        raise PrimusError(f"The Redis port in {url!r} must be a number") from None
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": port,
        "db": db,
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password is not None else None,
    }


def _protocol_class(subscriber: bool) -> type:
    import txredisapi

    base: Any = txredisapi.SubscriberProtocol if subscriber else txredisapi.RedisProtocol

    class _Protocol(base):
        link: Any = None

        def connectionMade(self) -> None:
            # txredisapi's own handshake calls factory.stopTrying() when
            # AUTH or SELECT fails; ours only drops this connection.
            self.ready: Deferred[Any] = self.link._handshake(self)

        def connectionLost(self, why: Any) -> None:
            base.connectionLost(self, why)
            self.link._lost(self)

        def messageReceived(self, pattern: Any, channel: Any, message: Any) -> None:
            self.link._message(channel, message)

    return _Protocol


class _Factory(Factory):
    """
    The protocol factory ``ClientService`` reconnects with.
    """

    noisy = False

    def __init__(self, link: RedisLink) -> None:
        self._link = link

    def buildProtocol(self, addr: Any) -> Any:
        link = self._link
        protocol = link._protocol_class(
            charset=None, replyTimeout=link.timeout, convertNumbers=False
        )
        protocol.link = link
        protocol.factory = self
        # txredisapi times replies out with the global reactor's callLater;
        # use the injected one.
        protocol.callLater = link._reactor.callLater
        return protocol

    # What txredisapi's protocol may call on its factory.
    def stopTrying(self) -> None:
        pass

    def connectionError(self, why: Any) -> None:
        pass

    isLazy = True


class RedisLink:
    """
    One Redis connection kept up for as long as the link runs.

    :param url: ``redis://host:port/db`` (user and password optional).
    :param reactor: the reactor (its clock and TCP).
    :param timeout: seconds a call may wait for its answer.
    :param max_in_flight: calls allowed to wait for an answer at once.
    :param channels: subscribe to these channels on every connection (a
        subscriber link, which then only runs the liveness probe; use
        another link for commands).
    :param on_message: ``on_message(channel, message)`` for a subscriber
        link (both ``bytes``).
    :param on_ready: called with no argument after every (re)connection
        once the handshake is done.
    :param scripts: Lua scripts loaded on every connection, callable by
        name with :meth:`script`.
    :param probe_interval: seconds between liveness probes (0 disables).
    """

    log = Logger()

    #: Reconnection back-off: first delay, growth factor, longest delay.
    initial_delay = 0.1
    factor = 2.0
    max_delay = 2.0

    def __init__(
        self,
        url: str,
        reactor: Any,
        timeout: float = 1.0,
        max_in_flight: int = 10000,
        channels: Sequence[str] = (),
        on_message: Optional[Callable[[bytes, bytes], None]] = None,
        on_ready: Optional[Callable[[], None]] = None,
        scripts: Optional[dict[str, str]] = None,
        probe_interval: float = 1.0,
        name: str = "redis",
    ) -> None:
        self.address = parse_redis_url(url)
        self.url = url
        self.name = name
        self._reactor = reactor
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self._channels = [c.encode("utf-8") for c in channels]
        self._on_message = on_message
        self._on_ready = on_ready
        self._scripts = dict(scripts or {})
        self._shas: dict[str, str] = {}
        self._probe_interval = probe_interval
        self._protocol_class = _protocol_class(bool(channels))
        self._current: Any = None
        self._in_flight = 0
        self._service: Any = None
        self._probe: Optional[IDelayedCall] = None
        self._probing = False
        self._waiting: list[Deferred[None]] = []
        #: Counters: calls refused or failed because Redis was unavailable,
        #: calls refused because too many were waiting, (re)connections,
        #: liveness probes that failed.
        self.unavailable = 0
        self.overloaded = 0
        self.connections = 0
        self.probe_failures = 0

    # -- life -------------------------------------------------------------

    def start(self) -> None:
        """
        Start connecting (and reconnecting, until :meth:`stop`).
        """
        from twisted.application.internet import ClientService, backoffPolicy
        from twisted.internet.endpoints import HostnameEndpoint

        endpoint = HostnameEndpoint(
            self._reactor,
            self.address["host"],
            self.address["port"],
            timeout=max(1, int(self.timeout + 0.999)),
        )
        self._service = ClientService(
            endpoint,
            _Factory(self),
            retryPolicy=backoffPolicy(self.initial_delay, self.max_delay, self.factor),
            clock=self._reactor,
            prepareConnection=self._prepare,
        )
        self._service.startService()
        if self._probe_interval:
            self._schedule_probe()

    def stop(self) -> Deferred[None]:
        """
        Stop reconnecting and close the connection.
        """
        if self._probe is not None and self._probe.active():
            self._probe.cancel()
        self._probe = None
        service, self._service = self._service, None
        self._current = None
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            waiter.errback(RedisUnavailable(f"{self.name}: stopped"))
        if service is None:
            return succeed(None)
        return service.stopService()

    @property
    def up(self) -> bool:
        """
        Whether a connection is up and ready for calls.
        """
        return self._current is not None

    def when_up(self) -> Deferred[None]:
        """
        A Deferred that fires once a connection is up (at once if one is).
        """
        if self._current is not None:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._waiting.append(waiter)
        return waiter

    # -- the connection's life ---------------------------------------------

    def _prepare(self, protocol: Any) -> Any:
        real = getattr(protocol, "_protocol", protocol)
        return real.ready

    def _handshake(self, protocol: Any) -> Deferred[Any]:
        steps: list[tuple[Any, ...]] = []
        password = self.address["password"]
        if password is not None:
            if self.address["username"]:
                steps.append(("AUTH", self.address["username"], password))
            else:
                steps.append(("AUTH", password))
        if self.address["db"]:
            steps.append(("SELECT", self.address["db"]))
        names = sorted(self._scripts)
        first_script = len(steps)
        for name in names:
            steps.append(("SCRIPT", "LOAD", self._scripts[name]))
        if self._channels:
            steps.append(("SUBSCRIBE", *self._channels))
        replies: list[Any] = []

        def run(_: Any, index: int) -> Any:
            if index == len(steps):
                return None
            d = protocol.execute_command(*steps[index])
            return d.addCallback(replies.append).addCallback(run, index + 1)

        def done(_: Any) -> Any:
            for name, sha in zip(names, replies[first_script:]):
                self._shas[name] = sha.decode("ascii") if isinstance(sha, bytes) else str(sha)
            self._current = protocol
            self.connections += 1
            waiting, self._waiting = self._waiting, []
            for waiter in waiting:
                waiter.callback(None)
            if self._on_ready is not None:
                try:
                    self._on_ready()
                except Exception:
                    self.log.failure("{name}: the on-ready hook failed", name=self.name)
            return protocol

        def failed(failure: Failure) -> Failure:
            self.log.warn(
                "{name}: handshake with Redis at {host}:{port} failed: {error}",
                name=self.name,
                host=self.address["host"],
                port=self.address["port"],
                error=failure.getErrorMessage(),
            )
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.abortConnection()
            return failure

        return succeed(None).addCallback(run, 0).addCallbacks(done, failed)

    def _lost(self, protocol: Any) -> None:
        if self._current is protocol:
            self._current = None
            self.log.info(
                "{name}: lost the connection to Redis at {host}:{port}",
                name=self.name,
                host=self.address["host"],
                port=self.address["port"],
            )

    def _message(self, channel: Any, message: Any) -> None:
        if self._on_message is not None:
            try:
                self._on_message(channel, message)
            except Exception:
                self.log.failure("{name}: handling a Redis message failed", name=self.name)

    # -- the liveness probe -------------------------------------------------

    def _schedule_probe(self) -> None:
        self._probe = self._reactor.callLater(self._probe_interval, self._run_probe)

    def _run_probe(self) -> None:
        self._probe = None
        if self._service is None:
            return
        protocol = self._current
        if protocol is None or self._probing:
            self._schedule_probe()
            return
        self._probing = True
        try:
            d = protocol.execute_command("PING")
        except Exception:
            d = fail(RedisUnavailable("not connected"))

        def answered(_: Any) -> None:
            self._probing = False

        def unanswered(failure: Failure) -> None:
            # txredisapi has already aborted the connection when the answer
            # timed out; ClientService connects again.
            self._probing = False
            self.probe_failures += 1
            self.log.warn(
                "{name}: Redis did not answer the liveness probe: {error}",
                name=self.name,
                error=failure.getErrorMessage(),
            )
            if self._current is protocol:
                self._current = None
                transport = getattr(protocol, "transport", None)
                if transport is not None:
                    transport.abortConnection()

        d.addCallbacks(answered, unanswered)
        if self._service is not None:
            self._schedule_probe()

    # -- calls --------------------------------------------------------------

    def call(self, *args: Any) -> Deferred[Any]:
        """
        Run one Redis command.

        :return: a Deferred firing with the reply (``bytes`` for strings),
            or failing with :class:`RedisUnavailable` (no connection, lost
            connection, no answer within :attr:`timeout`),
            :class:`ClusterOverloaded` (too many calls waiting) or
            txredisapi's ``ResponseError`` (Redis refused the command).
        """
        protocol = self._current
        if protocol is None:
            self.unavailable += 1
            return fail(RedisUnavailable(f"{self.name}: Redis is unreachable"))
        if self._in_flight >= self.max_in_flight:
            self.overloaded += 1
            return fail(
                ClusterOverloaded(f"{self.name}: {self._in_flight} Redis calls are already waiting")
            )
        try:
            d = protocol.execute_command(*args)
        except Exception as error:
            self.unavailable += 1
            return fail(RedisUnavailable(f"{self.name}: {error}"))
        self._in_flight += 1
        return d.addBoth(self._answered)

    def _answered(self, result: Any) -> Any:
        self._in_flight -= 1
        if isinstance(result, Failure):
            import txredisapi

            if result.check(txredisapi.ConnectionError):
                self.unavailable += 1
                return Failure(RedisUnavailable(f"{self.name}: {result.getErrorMessage()}"))
        return result

    def script(self, name: str, keys: Sequence[Any], args: Sequence[Any]) -> Deferred[Any]:
        """
        Run the Lua script loaded as ``name`` (``EVALSHA``).
        """
        sha = self._shas.get(name)
        if sha is None:
            return self.call("EVAL", self._scripts[name], len(keys), *keys, *args)
        return self.call("EVALSHA", sha, len(keys), *keys, *args)

    @property
    def in_flight(self) -> int:
        """
        Calls waiting for an answer.
        """
        return self._in_flight
