"""
The server the browser tests drive, run as a child process so that the
test itself can use Playwright's synchronous API without fighting
pytest-twisted's reactor greenlet.

It listens on 127.0.0.1 (port 0 unless ``--port``), prints
``PORT <n>`` on stdout once it accepts connections, echoes every message
a spark sends, and offers control endpoints for server-side actions::

    /                         a blank page that loads /primus/primus.js
    /official                 the same page loading the official client
                              (``--official FILE``), to compare the two
    /control/sparks           JSON: ids of connected sparks
    /control/stats            JSON: connections, authorization calls, received data
    /control/end?reconnect=1  spark.end() for every spark (with reconnect)
    /control/write?data=JSON  primus.write(data)
    /control/raw              JSON: every message received, as it came
                              ({"text": ..} or {"hex": ..}), with --parser

With ``--demo`` the root is ``primus_tx.demo.demo_root()`` and the
application is ``primus_tx.demo.chat`` instead of the echo.

With ``--plugin NAMES`` the server has those built-in plugins, records
what it receives without echoing it, and answers the plugin test pages (tests/browser/test_browser_plugins.py):

    emitter    "add" acks with the sum; "join" joins a room (rooms);
               "say" [room, text] sends "said" to the room; "welcome" is
               sent on connection
    emit       "ping-emit" x is emitted back as "pong-emit" x
    responder  a "request" is answered with {"echo": data}

    /control/ask?data=JSON      spark.send("ask", data, ack=True) to every
                                spark; the replies land in stats "answers"
    /control/request?data=JSON  spark.write_and_wait(data) to every spark;
                                the responses land in stats "answers"
    /control/room?room=R&data=JSON  primus.room(R).write(data)

Run: ``python tests/browser/browser_server.py [--port N] [--auth]
[--ping-interval S] [--official FILE] [--transformer NAME] [--transport JSON]
[--parser NAME]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site

from primus_tx import AuthorizationError, Primus

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>primus-tx browser test</title>
<script src="%s"></script></head><body>browser test</body></html>
"""


class Static(Resource):
    isLeaf = True

    def __init__(self, body: bytes, content_type: bytes) -> None:
        super().__init__()
        self.body = body
        self.content_type = content_type

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", self.content_type)
        request.setHeader(b"cache-control", b"no-store")
        return self.body


class Control(Resource):
    isLeaf = True

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__()
        self.state = state

    def render_GET(self, request: Any) -> bytes:
        primus: Primus = self.state["primus"]
        action = request.postpath[0].decode() if request.postpath else ""
        args = {k.decode(): v[0].decode() for k, v in request.args.items()}
        result: Any = None
        if action == "sparks":
            result = [spark.id for spark in primus]
        elif action == "stats":
            result = {
                "connections": self.state["connections"],
                "auth_calls": self.state["auth_calls"],
                "received": self.state["received"],
                "answers": self.state["answers"],
            }
        elif action == "end":
            reconnect = args.get("reconnect") == "1"
            for spark in primus:
                spark.end(reconnect=reconnect)
            result = True
        elif action == "raw":
            result = [
                {"text": raw} if isinstance(raw, str) else {"hex": bytes(raw).hex()}
                for raw in self.state["raw"]
            ]
        elif action == "write":
            primus.write(json.loads(args["data"]))
            result = True
        elif action in ("ask", "request"):
            answers = self.state["answers"]
            for spark in primus:
                if action == "ask":
                    d = spark.send("ask", json.loads(args["data"]), ack=True)  # type: ignore[attr-defined]
                else:
                    d = spark.write_and_wait(json.loads(args["data"]))  # type: ignore[attr-defined]
                d.addCallbacks(answers.append, lambda f: answers.append(str(f.value)))
            result = True
        elif action == "room":
            primus.room(args["room"]).write(json.loads(args["data"]))  # type: ignore[attr-defined]
            result = True
        else:
            request.setResponseCode(404)
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(result).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth", action="store_true")
    parser.add_argument("--ping-interval", type=float, default=30.0)
    parser.add_argument("--official", default=None)
    parser.add_argument("--demo", action="store_true", help="serve primus_tx.demo at /")
    parser.add_argument("--transformer", default="websockets")
    parser.add_argument("--plugin", default=None, help="built-in plugins to add, by name")
    parser.add_argument("--parser", default="json")
    parser.add_argument(
        "--transport", default="{}", help="JSON: the transformer's transport options"
    )
    args = parser.parse_args()

    state: dict[str, Any] = {
        "connections": 0,
        "auth_calls": 0,
        "received": [],
        "answers": [],
        "raw": [],
    }
    root = Resource()
    root.putChild(b"", Static((PAGE % "/primus/primus.js").encode(), b"text/html; charset=utf-8"))
    if args.official:
        with open(args.official, "rb") as handle:
            official = handle.read()
        root.putChild(b"official.js", Static(official, b"text/javascript; charset=utf-8"))
        root.putChild(b"official", Static((PAGE % "/official.js").encode(), b"text/html"))
    if args.demo:
        from primus_tx.demo import demo_root

        root = demo_root()
    root.putChild(b"control", Control(state))
    site = Site(root)

    options: dict[str, Any] = {
        "ping_interval": args.ping_interval,
        "transformer": args.transformer,
        "parser": args.parser,
        "transport": json.loads(args.transport),
    }
    if args.plugin:
        options["plugin"] = args.plugin
    if args.auth:

        def refuse(request: Any) -> None:
            state["auth_calls"] += 1
            raise AuthorizationError("Go away", status=401)

        options["authorization"] = refuse
    primus = Primus(site, **options)
    state["primus"] = primus
    if args.parser != "json":  # the parser tests compare what arrived
        primus.transform("incoming", lambda packet: state["raw"].append(packet.raw))

    def connection(spark: Any) -> None:
        state["connections"] += 1

        def echo(data: Any, *raw: Any) -> None:
            if args.parser == "json":  # the stats are JSON
                state["received"].append(data)
            if not args.plugin:  # plugin packets echoed would confuse the page
                spark.write(data)

        spark.on("data", echo)
        plugins = primus.plugin()
        if "emitter" in plugins:
            spark.on("add", lambda a, b: a + b)
            spark.send("welcome", spark.id)  # type: ignore[attr-defined]
            if "rooms" in plugins:
                spark.on("join", lambda room: spark.join(room))  # type: ignore[attr-defined]
                spark.on(
                    "say",
                    lambda room, text: primus.room(room).send("said", text),  # type: ignore[attr-defined]
                )
        if "emit" in plugins:
            spark.on("ping-emit", lambda x: spark.emit("pong-emit", x))
        if "responder" in plugins:
            spark.on("request", lambda data: {"echo": data})

    if args.demo:
        from primus_tx.demo import chat

        chat(primus)
    else:
        primus.on("connection", connection)
    port = reactor.listenTCP(args.port, site, interface="127.0.0.1")  # type: ignore[attr-defined]
    print(f"PORT {port.getHost().port}", flush=True)
    # The parent closes our stdin when it is done (or dies): stop then.
    reactor.callInThread(_wait_for_parent)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


def _wait_for_parent() -> None:
    sys.stdin.read()
    reactor.callFromThread(reactor.stop)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
