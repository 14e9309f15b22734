"""
The server the browser tests of the substream, sessions and metrics
plugins drive (tests/browser/test_browser_plugins_streams.py), run as a
child process like ``browser_server.py``::

    /                           a page that loads /primus/primus.js
    /login?user=NAME            stores NAME in the page's twisted.web session
    /control/stats              JSON: what the substreams received, the
                                users the sparks' sessions carry, the
                                sparks' ids as they connected
    /control/substream?name=N&data=JSON   spark.substream(N).write(data)
                                to every spark
    /control/endstream?name=N   spark.substream(N).end() on every spark
    /control/logout             expire every session
    /control/drop               end every spark, asking it to reconnect

Every spark's substream ``echo`` answers ``{"echo": data}``; with the
sessions plugin each spark is greeted with ``{"user": name}``; with
multiplex, the channel ``news`` greets each channel spark with
``{"welcome": id}`` and answers ``{"echo": data}``.

Run: ``python tests/browser/plugins_server.py [--port N] [--plugin NAMES]
[--transformer NAME] [--required]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import Primus

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>primus-tx plugins</title>
<script src="/primus/primus.js"></script></head><body>plugins</body></html>
"""


class Page(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return PAGE


class Login(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.getSession().user = request.args[b"user"][0].decode()
        return b"logged in"


class Control(Resource):
    isLeaf = True

    def __init__(self, state: dict[str, Any], site: Site) -> None:
        super().__init__()
        self.state = state
        self.site = site

    def render_GET(self, request: Any) -> bytes:
        primus: Primus = self.state["primus"]
        action = request.postpath[0].decode() if request.postpath else ""
        args = {k.decode(): v[0].decode() for k, v in request.args.items()}
        result: Any = True
        if action == "stats":
            result = {key: self.state[key] for key in ("received", "users", "ended", "ids")}
        elif action == "substream":
            for spark in primus:
                spark.substream(args["name"]).write(json.loads(args["data"]))  # type: ignore[attr-defined]
        elif action == "endstream":
            for spark in primus:
                spark.substream(args["name"]).end()  # type: ignore[attr-defined]
        elif action == "drop":
            for spark in primus:
                spark.end(reconnect=True)
        elif action == "logout":
            for session in list(self.site.sessions.values()):
                session.expire()
        else:
            request.setResponseCode(404)
            result = None
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(result).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--plugin", default="substream,sessions")
    parser.add_argument("--transformer", default="websockets")
    parser.add_argument("--required", action="store_true", help="sessions required")
    args = parser.parse_args()

    state: dict[str, Any] = {"received": [], "users": [], "ended": [], "ids": []}
    root = Resource()
    root.putChild(b"", Page())
    root.putChild(b"login", Login())
    site = Site(root)
    root.putChild(b"control", Control(state, site))

    plugins: dict[str, Any] = {}
    for name in args.plugin.replace(",", " ").split():
        if name == "sessions" and args.required:
            from primus_tx.plugins.sessions import SessionsPlugin

            plugins[name] = SessionsPlugin(required=True)
        else:
            plugins[name] = name
    primus = Primus(
        site,
        transformer=args.transformer,
        ping_interval=0,
        plugin=_resolved(plugins),
    )
    state["primus"] = primus

    def connection(spark: Any) -> None:
        state["ids"].append(spark.id)
        if hasattr(spark, "session") and spark.session is not None:
            user = getattr(spark.session, "user", None)
            state["users"].append(user)
            spark.write({"user": user})
        if hasattr(spark, "substream"):
            echo = spark.substream("echo")

            def answer(data: Any) -> None:
                state["received"].append(data)
                echo.write({"echo": data})

            echo.on("data", answer)
            echo.on("end", lambda: state["ended"].append("echo"))

    primus.on("connection", connection)
    if "multiplex" in plugins:
        news = primus.channel("news")  # type: ignore[attr-defined]

        def subscribed(channel_spark: Any) -> None:
            channel_spark.write({"welcome": channel_spark.id})

            def answer(data: Any) -> None:
                state["received"].append(data)
                channel_spark.write({"echo": data})

            channel_spark.on("data", answer)
            channel_spark.on("end", lambda: state["ended"].append(channel_spark.id))

        news.on("connection", subscribed)
    port = reactor.listenTCP(args.port, site, interface="127.0.0.1")  # type: ignore[attr-defined]
    print(f"PORT {port.getHost().port}", flush=True)
    reactor.callInThread(_wait_for_parent)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


def _resolved(plugins: dict[str, Any]) -> dict[str, Any]:
    from primus_tx._plugins import find_plugin

    return {name: find_plugin(p) if isinstance(p, str) else p for name, p in plugins.items()}


def _wait_for_parent() -> None:
    sys.stdin.read()
    reactor.callFromThread(reactor.stop)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
