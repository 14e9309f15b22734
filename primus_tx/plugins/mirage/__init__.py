# -*- test-case-name: tests.plugins.test_mirage -*-
"""
The ``mirage`` plugin: persistent session ids, generated or validated by
the server and carried by the client across reconnects, on the wire of the
npm mirage 0.0.7::

    primus = Primus(site, plugin="mirage")
    primus.id.generator(lambda spark: new_id())           # optional
    primus.id.validator(lambda spark, id: id in known)    # optional

    def connection(spark):
        spark.id            # the mirage id, settled before "connection"

Clients send the id they were given as the ``_mirage`` query parameter
(Python: ``Socket(url, mirage=id)``, browser: ``new Primus(url, {mirage:
id})``) and learn it from the ``mirage`` event, which the server sends as
soon as it is settled — as a primus-emit envelope ``{"emit": ["mirage",
id]}``, or a primus-emitter event ``{"type": 0, "data": ["mirage", id]}``
when the server has the ``emitter`` plugin and not ``emit`` (or as
``MiragePlugin(wire=...)`` says).

Until the id is settled the server holds the connection's messages back
(its ``connection`` listener is asynchronous), so the application sees
``spark.id`` equal to the mirage id from the start.  A validator answers
``True`` (keep the id), a string (a renewed id, sent to the client), or
``False``/an exception (refused: the connection ends without reconnecting);
it may return an awaitable.  It has ``MiragePlugin(timeout=...)`` seconds
(5 by default) to answer.

Hardening, where the npm plugin trusts the client: the default validator
keeps a well-formed id (1 to 128 characters of letters, digits and
``-_.:``) only when no open connection holds it, and renews it otherwise,
so a client cannot claim another connection's id.  A validator that
accepts an id in use (say, after checking the session) takes it over: the
older connection is ended.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Optional

from twisted.internet.defer import Deferred, maybeDeferred
from zope.interface import implementer

from primus_tx._errors import PrimusError
from primus_tx._transforms import Packet
from primus_tx.interfaces import IPrimusPlugin
from primus_tx.plugins import PluginBase, reactor_of

__all__ = ["MirageIds", "MiragePlugin", "envelope", "mirage_of", "plugin"]

#: Seconds a generator or validator has to answer.
TIMEOUT = 5.0
_WELL_FORMED = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


def _new_id(spark: Any) -> str:
    # mirage's default: 8 random bytes as 16 hex characters.
    return os.urandom(8).hex()


def envelope(wire: str, id: str) -> dict[str, Any]:
    """
    The ``mirage`` event carrying ``id`` in the ``emit`` or ``emitter`` wire.
    """
    if wire == "emitter":
        return {"type": 0, "data": ["mirage", id]}
    return {"emit": ["mirage", id]}


def mirage_of(data: Any) -> Optional[str]:
    """
    The id when ``data`` is a ``mirage`` event in either wire, else ``None``.
    """
    if type(data) is not dict:
        return None
    body = data.get("emit")
    if type(body) is not list:
        body = data.get("data") if type(data.get("type")) is int and data["type"] == 0 else None
    if type(body) is list and len(body) == 2 and body[0] == "mirage" and type(body[1]) is str:
        return body[1]
    return None


class MirageIds:
    """
    ``primus.id``: the generator, the validator and the timeout (as the
    npm plugin's ``primus.id``).
    """

    def __init__(self, primus: Any, timeout: float) -> None:
        self._primus = primus
        self.timeout = timeout
        self._generator: Callable[[Any], Any] = _new_id
        self._validator: Callable[[Any, str], Any] = self._default_validator

    def generator(self, fn: Callable[[Any], Any]) -> MirageIds:
        """
        Make ids with ``fn(spark)`` (a string, or an awaitable of one).
        """
        if not callable(fn):
            raise PrimusError("The mirage generator must be callable")
        self._generator = fn
        return self

    def validator(self, fn: Callable[[Any, str], Any]) -> MirageIds:
        """
        Check ids with ``fn(spark, id)``: ``True`` keeps it, a string renews
        it, ``False`` or raising refuses; or an awaitable of those.
        """
        if not callable(fn):
            raise PrimusError("The mirage validator must be callable")
        self._validator = fn
        return self

    def _default_validator(self, spark: Any, id: str) -> Any:
        holder = self._primus.connections.get(id)
        if _WELL_FORMED.fullmatch(id) and (holder is None or holder is spark):
            return True
        return maybeDeferred(self._generator, spark)

    def settle(self, spark: Any) -> Deferred[str]:
        """
        The id of ``spark``: the client's, validated, or a new one.
        """
        requested = spark.query.get("_mirage")
        if isinstance(requested, list):
            requested = requested[0] if requested else None
        if isinstance(requested, str) and requested:
            d = maybeDeferred(self._validator, spark, requested)
            d.addCallback(_validated, requested)
        else:
            d = maybeDeferred(self._generator, spark).addCallback(_checked)
        return d.addTimeout(self.timeout, reactor_of(self._primus))


def _checked(id: Any) -> str:
    if not isinstance(id, str) or not id:
        raise PrimusError(f"The mirage generator gave {id!r}, not an id")
    return id


def _validated(result: Any, requested: str) -> str:
    if result is True or result is None:
        return requested
    if isinstance(result, str) and result:
        return result
    raise PrimusError(f"The mirage id {requested!r} did not validate")


@implementer(IPrimusPlugin)
class MiragePlugin(PluginBase):
    """
    The mirage plugin (found by name as ``"mirage"``).

    :param timeout: seconds the generator or validator has to answer.
    :param wire: ``"emit"`` or ``"emitter"``: how the ``mirage`` event is
        sent; by default ``emitter`` when the server has that plugin and
        not ``emit``, else ``emit``.
    """

    name = "mirage"
    js_file = "mirage.js"

    def __init__(self, timeout: float = TIMEOUT, wire: Optional[str] = None) -> None:
        if wire not in (None, "emit", "emitter"):
            raise PrimusError(f"wire must be 'emit' or 'emitter', not {wire!r}")
        self.timeout = timeout
        self.wire = wire

    def server(self, primus: Any, options: Any = None) -> None:
        """
        Give the server ``primus.id`` and settle every connection's id
        before the application's ``connection`` listeners run.
        """
        ids = primus.id = MirageIds(primus, self.timeout)
        wire = self.wire

        def settled(id: str, spark: Any) -> None:
            if spark.ready_state != spark.OPEN:
                return  # gone while its id was settled: nothing to register
            connections = primus.connections
            holder = connections.get(id)
            if holder is not None and holder is not spark:
                holder.end()  # taken over: the validator accepted it
            if connections.get(spark.id) is spark:
                del connections[spark.id]
            spark.id = spark.mirage = id
            connections[id] = spark
            names = primus.plugin()
            chosen = wire or ("emitter" if "emitter" in names and "emit" not in names else "emit")
            spark.write(envelope(chosen, id))

        def connection(spark: Any) -> Deferred[None]:
            return ids.settle(spark).addCallback(settled, spark)

        primus.on("connection", connection)

    def client(self, socket: Any, options: Any = None) -> None:
        """
        Send the socket's id (the ``mirage`` option) with every connection
        and learn new ones from the ``mirage`` event.
        """
        socket.mirage = (options or {}).get("mirage") or None

        def url(parts: dict[str, Any]) -> None:
            if socket.mirage:
                from primus_tx.client._url import parse_query, stringify_query

                query = parse_query(parts["query"])
                query["_mirage"] = socket.mirage
                parts["query"] = stringify_query(query)

        def learn(packet: Packet) -> Any:
            id = mirage_of(packet.data)
            if id is None:
                return None
            socket.mirage = id
            from primus_tx._events import EventEmitter

            # Straight to the listeners: an emit plugin's ``emit`` would
            # send it to the server instead.
            EventEmitter.emit(socket, "mirage", id)
            return False

        socket.on("outgoing::url", url)
        socket.transform("incoming", learn)


#: The plugin as found by name (``plugin="mirage"``).
plugin = MiragePlugin()
