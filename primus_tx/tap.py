# -*- test-case-name: tests.test_tap -*-
"""
``twistd primus``: run a Primus server without writing a line of Python, or
run your own application under twistd's daemonising, logging, privilege
dropping and signal handling.

The module only imports light things at its top level: twistd imports it
to print ``--help`` and to parse the command line, and importing the
reactor (or Autobahn, which imports it) here would break ``twistd
--reactor=...`` for every subcommand (docs/protocol/twisted.rst, "Keeping
twistd plugins light").  All the heavy lifting happens in
:func:`makeService` and in :class:`PrimusService` when twistd starts it.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional

from twisted.application.service import MultiService, Service
from twisted.logger import Logger
from twisted.python import usage

from primus_tx._defaults import (
    HEADER_TIMEOUT,
    MAX_BUFFERED,
    MAX_LENGTH,
    MAX_PENDING,
    MAX_PENDING_PER_ADDRESS,
    PARSER,
    PATHNAME,
    PING_INTERVAL,
    SLOW_CLIENT,
    TRANSFORMER,
)

__all__ = ["Options", "PrimusService", "makeService"]

_FALLBACK_PAGE = (
    b"primus-tx is running.\n\n"
    b"The Primus endpoint is at %s; the browser client at %s/primus.js.\n"
)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number of seconds") from None
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError(f"{value!r} is not a number of seconds (0 disables)")
    return seconds


_seconds.coerceDoc = "Seconds; 0 disables the heartbeat."  # type: ignore[attr-defined]


def _bytes(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number of bytes") from None
    if size < 0:
        raise ValueError(f"{value!r} is not a whole number of bytes")
    return size


_bytes.coerceDoc = "Bytes; 0 means the default."  # type: ignore[attr-defined]


def _load_app(path: str) -> Callable[[Any], Any]:
    """
    Import ``module:callable``; every way this can go wrong becomes a usage
    error that says what to fix, rather than a traceback at startup.
    """
    module_name, colon, attribute = path.partition(":")
    if not colon or not module_name or not attribute:
        raise usage.UsageError(
            f"--app expects module:callable (for example myapp.realtime:setup), not {path!r}"
        )
    import importlib

    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise usage.UsageError(f"--app {path}: cannot import {module_name!r}: {error}") from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise usage.UsageError(
                f"--app {path}: module {module_name!r} has no attribute {attribute!r}"
            ) from None
    if not callable(target):
        raise usage.UsageError(f"--app {path}: {attribute!r} is not callable")
    return target


class Options(usage.Options):
    """
    The command line of ``twistd primus``.
    """

    synopsis = "[twistd options] primus [options]"
    longdesc = (
        "Run a Primus real-time server. Without --app it serves the demo chat "
        "at / and Primus at /primus. --app module:callable runs your own "
        "application: it is called with the Primus server once it has started "
        "and may return a Deferred or a coroutine."
    )

    optParameters = [
        ["pathname", None, PATHNAME, "The URL path Primus answers under."],
        ["transformer", None, TRANSFORMER, "The real-time transport."],
        ["parser", None, PARSER, "The message encoding."],
        ["ping-interval", None, PING_INTERVAL, "Seconds between heartbeat pings (0 disables).", _seconds],
        ["max-length", None, MAX_LENGTH, "Largest message a client may send, in bytes.", _bytes],
        ["max-buffered", None, MAX_BUFFERED,
         "Outgoing bytes a spark may have waiting before the slow-client policy applies "
         "(0: no cap).", _bytes],
        ["slow-client", None, SLOW_CLIENT,
         "What happens at --max-buffered: end (the client reconnects) or drop (writes are "
         "dropped and counted)."],
        ["header-timeout", None, HEADER_TIMEOUT,
         "Seconds a client has to send a request's headers (0 disables).", _seconds],
        ["max-pending", None, MAX_PENDING,
         "Requests under the pathname still in their headers or body, in all (0: no cap).",
         _bytes],
        ["max-pending-per-address", None, MAX_PENDING_PER_ADDRESS,
         "The same, from one client address (0: no cap).", _bytes],
        ["app", None, None, "module:callable called with the Primus server (your application)."],
        ["static", None, None, "A directory of your own files to serve at /."],
        ["redis", None, None,
         "Scale out: a Redis URL (redis://host:6379/0) shared by every node (the cluster plugin)."],
        ["cluster-address", None, None,
         "With --redis: the URL other nodes reach this one at [default: from the first --listen]."],
        ["cluster-password-file", None, None,
         "With --redis: a file holding the omega-supreme ingress password "
         "[default: $PRIMUS_CLUSTER_PASSWORD]."],
        ["cluster-mode", None, "primus-tx",
         "With --redis: primus-tx, or primus-cluster for fleets running primus-cluster 2.0.0."],
        ["metrics", None, None,
         "Serve Prometheus metrics at this path, such as /metrics (needs primus-tx[metrics])."],
    ]  # fmt: skip

    optFlags = [
        ["compression", None, "Accept permessage-deflate compression from clients."],
    ]

    compData = usage.Completions(optActions={"static": usage.CompleteDirs()})

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []
        self["plugin"] = []
        self["cluster"] = None
        self["app_callable"] = None

    def opt_plugin(self, names: str) -> None:
        """
        A plugin to add, by name: a built-in one (emitter, emit, rooms,
        responder), one published as an IPrimusPlugin, or module:attribute.
        Repeat it (or separate names with commas) to add several, in order.
        """
        for name in names.replace(",", " ").split():
            if name not in self["plugin"]:
                self["plugin"].append(name)

    def opt_listen(self, description: str) -> None:
        """
        An endpoint to listen on, such as tcp:8080, tcp:8080:interface=127.0.0.1,
        ssl:8443:privateKey=key.pem:certKey=cert.pem or unix:/run/primus.sock.
        Repeat it to listen on several. [default: tcp:8080]
        """
        self["listen"].append(description)

    def postOptions(self) -> None:
        """
        Validate everything that can be validated without starting anything,
        so that a mistake stops twistd with a usage message instead of a
        half-started daemon.
        """
        if not self["listen"]:
            self["listen"] = ["tcp:8080"]
        self._check_endpoints()

        from primus_tx._errors import PrimusError
        from primus_tx.parsers import check_pairing, find_parser
        from primus_tx.transformers import find_transformer

        try:
            transformer = find_transformer(self["transformer"])
        except PrimusError as error:
            raise usage.UsageError(f"--transformer: {error}") from None
        try:
            parser = find_parser(self["parser"])
            check_pairing(transformer, parser)
        except PrimusError as error:
            raise usage.UsageError(f"--parser: {error}") from None

        if self["plugin"]:
            from primus_tx._plugins import checked_plugin, configured_plugins

            try:
                for name, plugin in configured_plugins(self["plugin"]):
                    checked_plugin(name, plugin)
            except (PrimusError, ImportError, AttributeError) as error:
                raise usage.UsageError(f"--plugin: {error}") from None

        if self["slow-client"] not in ("end", "drop"):
            raise usage.UsageError(f"--slow-client must be end or drop, not {self['slow-client']!r}")
        if 0 < self["max-buffered"] < 65536:
            raise usage.UsageError("--max-buffered must be 0 or at least 65536 bytes")
        pathname = self["pathname"]
        if not pathname.strip("/"):
            raise usage.UsageError(
                f"--pathname must be a non-empty path such as /primus, not {pathname!r}"
            )
        if self["static"] is not None and not os.path.isdir(self["static"]):
            raise usage.UsageError(f"--static {self['static']}: not a directory")
        if self["app"] is not None:
            self["app_callable"] = _load_app(self["app"])
        if self["metrics"] is not None:
            from primus_tx.plugins.metrics import MetricsPlugin

            try:
                MetricsPlugin(path=self["metrics"])
            except PrimusError as error:
                raise usage.UsageError(f"--metrics: {error}") from None
            prefix = pathname.rstrip("/") + "/"
            if not self["metrics"].startswith(prefix) and len(self["metrics"].strip("/").split("/")) != 1:
                raise usage.UsageError(
                    f"--metrics: use a one-segment path such as /metrics, or one under {prefix}"
                )
        self["cluster"] = self._cluster() if self["redis"] else None

    def _cluster(self) -> dict[str, Any]:
        """
        The cluster plugin's settings from ``--redis`` and friends.
        """
        try:
            import txredisapi  # noqa: F401
        except ImportError:
            raise usage.UsageError(
                "--redis needs the cluster extra: pip install 'primus-tx[cluster]'"
            ) from None
        from primus_tx._errors import PrimusError
        from primus_tx.cluster._redis import parse_redis_url

        try:
            parse_redis_url(self["redis"])
        except PrimusError as error:
            raise usage.UsageError(f"--redis: {error}") from None
        password = os.environ.get("PRIMUS_CLUSTER_PASSWORD")
        if self["cluster-password-file"] is not None:
            try:
                with open(self["cluster-password-file"], encoding="utf-8") as handle:
                    password = handle.read().strip()
            except OSError as error:
                raise usage.UsageError(f"--cluster-password-file: {error}") from None
        if not password:
            raise usage.UsageError(
                "--redis needs a password of your choosing for the omega-supreme ingress: "
                "set PRIMUS_CLUSTER_PASSWORD or give --cluster-password-file (there is no default)"
            )
        address = self["cluster-address"] or _address_of_listen(self["listen"][0])
        if address is None:
            raise usage.UsageError(
                "--redis: cannot tell this node's address from --listen; give --cluster-address"
            )
        if self["cluster-mode"] not in ("primus-tx", "primus-cluster"):
            raise usage.UsageError(
                f"--cluster-mode must be primus-tx or primus-cluster, not {self['cluster-mode']!r}"
            )
        settings = {"redis": self["redis"], "password": password, "address": address}
        if self["cluster-mode"] != "primus-tx":
            settings["mode"] = self["cluster-mode"]
        return settings

    def _check_endpoints(self) -> None:
        """
        Parse each ``--listen`` description now (which also reads TLS key
        files), without listening: binding happens when twistd starts the
        service, after this and before privileges are dropped.
        """
        from twisted.internet import reactor
        from twisted.internet.endpoints import serverFromString

        for description in self["listen"]:
            try:
                serverFromString(reactor, description)
            except Exception as error:
                raise usage.UsageError(f"--listen {description}: {error}") from None


def _address_of_listen(description: str) -> Optional[str]:
    """
    ``http[s]://<interface>:<port>`` for a ``tcp:`` or ``ssl:`` endpoint
    with a fixed port (this host's address when it listens on every
    interface), else ``None``.
    """
    kind, _, rest = description.partition(":")
    if kind not in ("tcp", "ssl"):
        return None
    fields = rest.split(":")
    port = fields[0]
    if port.startswith("port="):
        port = port[5:]
    if not port.isdigit() or port == "0":
        return None
    interface = ""
    for field in fields[1:]:
        if field.startswith("interface="):
            interface = field[len("interface="):]
    if interface in ("", "0.0.0.0", "::"):
        import socket

        interface = socket.gethostbyname(socket.gethostname())
    if ":" in interface:
        interface = f"[{interface}]"
    return f"{'https' if kind == 'ssl' else 'http'}://{interface}:{port}"


class PrimusService(Service):
    """
    The Primus server as a twistd service: it is made when twistd starts the
    application (after the ports are bound, before the reactor runs) and
    destroyed when twistd stops it, so SIGTERM ends every spark with
    ``primus::server::close`` and stops the heartbeat.

    :ivar primus: the running :class:`~primus_tx.Primus`, or ``None`` while
        the service is stopped.
    """

    log = Logger()

    def __init__(
        self,
        site: Any,
        options: dict[str, Any],
        app: Optional[Callable[[Any], Any]] = None,
        reactor: Any = None,
    ) -> None:
        self.site = site
        self.options = options
        self.app = app
        self.primus: Any = None
        self._reactor = reactor
        self._starting: Any = None

    def _get_reactor(self) -> Any:
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        return self._reactor

    def startService(self) -> None:
        from primus_tx import Primus
        from primus_tx._events import as_deferred, is_awaitable

        super().startService()
        reactor = self._get_reactor()
        self.primus = Primus(self.site, reactor=reactor, **self.options)
        if self.app is None:
            return
        # An exception raised here stops twistd with a traceback; a failure
        # that comes later is logged and stops the reactor, because a
        # server whose application never started serves nothing useful.
        result = self.app(self.primus)
        if result is not None and is_awaitable(result):
            self._starting = as_deferred(result)
            self._starting.addErrback(self._app_failed)

    def _app_failed(self, failure: Any) -> None:
        self.log.failure("the application {app!r} failed to start", failure, app=self.app)
        reactor = self._get_reactor()
        if getattr(reactor, "running", False):
            reactor.stop()

    def stopService(self) -> Any:
        from twisted.internet.defer import succeed

        super().stopService()
        primus, self.primus = self.primus, None
        if primus is None:
            return succeed(None)
        if self._starting is not None and not self._starting.called:
            self._starting.cancel()
        # destroy() waits for the close handshakes (a few seconds at most),
        # so the clients get "primus::server::close" before the process exits.
        return primus.destroy()


def _fallback_root(pathname: str) -> Any:
    from twisted.web.resource import Resource
    from twisted.web.static import Data

    path = ("/" + pathname.strip("/")).encode("utf-8")
    root = Resource()
    root.putChild(b"", Data(_FALLBACK_PAGE % (path, path), "text/plain; charset=utf-8"))
    return root


def _echo(primus: Any) -> None:
    """
    The application when neither ``--app`` nor the demo is available: every
    message is written back to the spark that sent it.
    """

    def connection(spark: Any) -> None:
        spark.on("data", spark.write)

    primus.on("connection", connection)


def _demo() -> tuple[Optional[Callable[[str], Any]], Optional[Callable[[Any], Any]]]:
    """
    The demo's root resource factory and application, when the demo package
    provides them.
    """
    try:
        from primus_tx import demo
    except ImportError:  # pragma: no cover - the package ships with primus_tx
        return None, None
    return getattr(demo, "demo_root", None), getattr(demo, "chat", None)


def makeService(options: Options, reactor: Any = None) -> MultiService:
    """
    Build the service tree twistd runs: one :class:`PrimusService` and one
    listening service per ``--listen`` endpoint, all sharing one site.

    Binding uses :func:`twisted.application.strports.service`, which makes a
    bind failure (a port in use) stop twistd at startup instead of being
    merely logged while the process carries on serving nothing.

    :param reactor: the reactor Primus and the listeners use (the global
        reactor when ``None``); tests pass a fake one.
    """
    from twisted.application import strports
    from twisted.web.server import Site

    app = options["app_callable"]
    if app is None and options["app"] is not None:
        app = _load_app(options["app"])
    demo_root, demo_app = (None, None) if app is not None else _demo()

    if options["static"] is not None:
        from twisted.web.static import File

        root = File(options["static"])
    elif demo_root is not None:
        # The page loads the browser client from <pathname>/primus.js.
        root = demo_root(options["pathname"])
    else:
        root = _fallback_root(options["pathname"])
    if app is None:
        app = demo_app if demo_app is not None else _echo

    site = Site(root, reactor=reactor) if reactor is not None else Site(root)
    primus_options = {
        "pathname": options["pathname"],
        "transformer": options["transformer"],
        "parser": options["parser"],
        "ping_interval": options["ping-interval"],
        "max_length": options["max-length"],
        "compression": bool(options["compression"]),
        "max_buffered": options["max-buffered"],
        "slow_client": options["slow-client"],
        "header_timeout": options["header-timeout"],
        "max_pending": options["max-pending"],
        "max_pending_per_address": options["max-pending-per-address"],
    }
    plugins = list(options.get("plugin") or [])
    if options.get("cluster"):
        # --redis: the cluster plugin (found by name) with its settings.
        if "cluster" not in plugins:
            plugins.append("cluster")
        primus_options["cluster"] = dict(options["cluster"])
    if plugins:
        primus_options["plugin"] = plugins
    if options.get("metrics"):
        from primus_tx._plugins import configured_plugins
        from primus_tx.plugins.metrics import MetricsPlugin

        chosen = dict(configured_plugins(primus_options["plugin"])) if primus_options.get("plugin") else {}
        chosen["metrics"] = MetricsPlugin(path=options["metrics"])
        primus_options["plugin"] = chosen

    parent = MultiService()
    parent.setName("primus-tx")
    primus_service = PrimusService(site, primus_options, app, reactor)
    primus_service.setName("primus")
    primus_service.setServiceParent(parent)
    from primus_tx._listen import with_backlog

    for description in options["listen"]:
        strports.service(with_backlog(description), site, reactor=reactor).setServiceParent(parent)
    return parent
