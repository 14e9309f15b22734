"""
The built-in plugins, found by name like third-party ones
(``Primus(site, plugin="emitter, rooms")``, ``primus.plugin("rooms")``,
``twistd primus --plugin rooms``, ``create_socket(plugin="emitter")``).

====================  ==========================================================
``emitter``           events with acknowledgements, primus-emitter 3.1.1's wire
``emit``              events without acknowledgements, primus-emit 1.0.0's wire
``rooms``             server-side rooms, primus-rooms 3.4.3's API (no wire)
``responder``         request/response, primus-responder 1.0.4's wire
``substream``         named streams over one connection, substream 0.2.0's wire
``sessions``          ``spark.session``: the twisted.web session of the handshake
``metrics``           Prometheus metrics of connections, messages and heartbeats
``multiplex``         channels over one connection, primus-multiplex 3.2.1's wire
``fortress-maximus``  every incoming event validated before listeners see it
``mirage``            persistent session ids, mirage 0.0.7's wire
====================  ==========================================================

Each one is an :class:`~primus_tx.interfaces.IPrimusPlugin` with a server
half and, where it has a client side, a Python client half and a browser
half (emitted into ``/primus/primus.js``); see :doc:`/plugins`.

How plugins extend sparks: every :class:`~primus_tx.Primus` has its own
spark class, ``primus.Spark``, and :func:`extend_spark` replaces it with a
subclass that mixes the plugin's methods in.  Sparks made afterwards have
them; a server without plugins keeps the plain class, so plugins cost
nothing to applications that do not use them.
"""

from __future__ import annotations

from typing import Any, Optional

from primus_tx._plugins import BUILTIN, builtin_plugin

__all__ = ["BUILTIN", "PluginBase", "builtin_plugin", "extend_spark", "reactor_of"]


def extend_spark(primus: Any, mixin: type, name: Optional[str] = None) -> Any:
    """
    Mix ``mixin`` into ``primus.Spark``: the server's spark class becomes a
    subclass of ``(mixin, previous class)``, so each plugin added wraps the
    ones before it and ``super()`` reaches them.  Only sparks made after the
    call are affected.

    A mixin that keeps per-spark state defines ``__init__(self, *args,
    **kwargs)`` and calls ``super().__init__(*args, **kwargs)`` first.

    :return: the new spark class.
    """
    base = primus.Spark
    if isinstance(base, type) and issubclass(base, mixin):
        return base
    cls = type(name or base.__name__, (mixin, base), {"__module__": base.__module__})
    primus.Spark = cls
    return cls


def reactor_of(owner: Any) -> Any:
    """
    The reactor a server or client socket was given (its clock for ack
    timeouts).
    """
    reactor = getattr(owner, "reactor", None)
    if reactor is None:
        reactor = owner._reactor
    return reactor


class PluginBase:
    """
    What the built-in plugins share: a ``name``, and a ``library`` read from
    the JavaScript file beside the plugin's module.
    """

    name = ""
    #: The file, beside the plugin's module, holding its browser half.
    js_file: Optional[str] = None

    def library(self) -> Optional[str]:
        """
        The browser half, compiled into ``/primus/primus.js``: run with the
        ``Primus`` constructor in scope.
        """
        if self.js_file is None:
            return None
        import importlib
        from pathlib import Path

        module = importlib.import_module(type(self).__module__)
        return (Path(module.__file__ or "").parent / self.js_file).read_text("utf-8")

    def __repr__(self) -> str:
        return f"<primus-tx plugin {self.name!r}>"
