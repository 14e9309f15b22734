"""
Plugin objects: what makes one valid, and the plugins named in the
``plugin`` option (a dict, or a string of names published through
Twisted's plugin system or given as ``module:attribute``).
"""

from __future__ import annotations

from typing import Any

from primus_tx._errors import PrimusError

__all__ = ["checked_plugin", "configured_plugins"]


def checked_plugin(name: str, plugin: Any) -> Any:
    """
    ``plugin`` (imported first when it is a ``module:attribute`` string),
    once it is known to have a ``server`` or a ``client`` function.

    :raises PrimusError: with Primus's messages for what is wrong.
    """
    if isinstance(plugin, str):
        from primus_tx._lookup import load

        plugin = load(plugin)
    if plugin is None or isinstance(plugin, (int, float, bool, list, tuple)):
        raise PrimusError("Plugin should be an object or a class")
    server = getattr(plugin, "server", None)
    client = getattr(plugin, "client", None)
    if not callable(server) and not callable(client):
        raise PrimusError(f"Plugin {name!r} is missing a client or server function")
    return plugin


def configured_plugins(plugins: Any) -> list[tuple[str, Any]]:
    """
    The ``(name, plugin)`` pairs the ``plugin`` option asks for.
    """
    if isinstance(plugins, dict):
        return list(plugins.items())
    if isinstance(plugins, str):
        from twisted.plugin import getPlugins

        from primus_tx.interfaces import IPrimusPlugin

        names = [n for n in plugins.replace(",", " ").split() if n]
        published = {getattr(p, "name", None): p for p in getPlugins(IPrimusPlugin)}
        found: list[tuple[str, Any]] = []
        for name in names:
            if name in published:
                found.append((name, published[name]))
            elif ":" in name:
                found.append((name.split(":", 1)[1], name))
            else:
                raise PrimusError(f"Unknown plugin {name!r}; publish it as an IPrimusPlugin")
        return found
    raise PrimusError("plugin must be a dict of name: plugin, or a string of plugin names")
