# -*- test-case-name: tests.plugins.test_emit_responder -*-
"""
The ``emit`` plugin: events without acknowledgements on primus-emit
1.0.0's wire, ``{"emit": [event, arg, ...]}``, with its semantics:

* ``spark.emit(event, *args)`` (and ``socket.emit`` on the Python client)
  *sends* every event that is not reserved to the peer; reserved events
  (``data``, ``end``...) are still emitted locally.  Once the plugin is
  loaded, custom events can no longer be emitted locally.
* Envelopes from the peer are emitted on the spark (socket) when the event
  is not reserved, and never reach ``data`` listeners.
* Anything else, including ``null``, numbers, arrays and objects whose
  ``emit`` is not a list, is ordinary data (where Node's primus-emit
  crashes on ``null``).

Envelopes are recognised when ``"data"`` is emitted, that is after the
incoming transforms and after the ``"connection"`` listeners have finished,
so a listener added in an asynchronous ``"connection"`` handler does not
miss the first events.
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from primus_tx.interfaces import IPrimusPlugin
from primus_tx.plugins import PluginBase, extend_spark
from primus_tx.plugins._acks import emit_locally

__all__ = ["EmitPlugin", "EmitSpark", "envelope_event", "plugin"]


def envelope_event(data: Any) -> Any:
    """
    The ``[event, *args]`` list of a primus-emit envelope, or ``None`` when
    ``data`` is not one.
    """
    if type(data) is dict:
        emitted = data.get("emit")
        if type(emitted) is list:
            return emitted
    return None


def _deliver(conn: Any, emitted: list[Any]) -> None:
    if emitted and type(emitted[0]) is str and not conn.reserved(emitted[0]):
        emit_locally(conn, emitted[0], emitted[1:])


def _emit(conn: Any, local: Any, event: str, args: tuple[Any, ...]) -> bool:
    """
    primus-emit's ``emit``: reserved events go to ``local`` (a ``data``
    envelope is unpacked into its event instead), others to the peer.
    """
    if conn.reserved(event):
        if event == "data" and args:
            emitted = envelope_event(args[0])
            if emitted is not None:
                _deliver(conn, emitted)
                return True
        return bool(local(event, *args))
    conn.write({"emit": [event, *args]})
    return True


class EmitSpark:
    """
    What the emit plugin mixes into ``primus.Spark``.
    """

    def emit(self, event: str, *args: Any) -> bool:
        """
        Reserved events are emitted locally (a ``data`` envelope is
        unpacked); any other event is sent to the client.
        """
        return _emit(self, super().emit, event, args)  # type: ignore[misc]


@implementer(IPrimusPlugin)
class EmitPlugin(PluginBase):
    """
    The emit plugin (no options).
    """

    name = "emit"
    js_file = "emit.js"

    def server(self, primus: Any, options: Any = None) -> None:
        """
        Make the server's sparks send their custom events.
        """
        extend_spark(primus, EmitSpark)

    def client(self, socket: Any, options: Any = None) -> None:
        """
        Make a Python client socket send its custom events.
        """
        local = socket.emit

        def emit(event: str, *args: Any) -> bool:
            return _emit(socket, local, event, args)

        socket.emit = emit


#: The plugin as found by name (``plugin="emit"``).
plugin = EmitPlugin()
