"""
Plugin objects: what makes one valid, and the plugins named in the
``plugin`` option (a dict, or a string of names published through
Twisted's plugin system or given as ``module:attribute``).
"""

from __future__ import annotations

from typing import Any

from primus_tx._errors import PrimusError

__all__ = ["BUILTIN", "builtin_plugin", "checked_plugin", "configured_plugins", "find_plugin"]

#: Built-in plugin names and where their plugin objects live (imported
#: only when asked for, so naming one plugin loads no other).
BUILTIN: dict[str, str] = {
    "emitter": "primus_tx.plugins.emitter:plugin",
    "emit": "primus_tx.plugins.emit:plugin",
    "rooms": "primus_tx.plugins.rooms:plugin",
    "responder": "primus_tx.plugins.responder:plugin",
    "cluster": "primus_tx.cluster:plugin",
    "substream": "primus_tx.plugins.substream:plugin",
    "sessions": "primus_tx.plugins.sessions:plugin",
    "metrics": "primus_tx.plugins.metrics:plugin",
    "multiplex": "primus_tx.plugins.multiplex:plugin",
    "fortress-maximus": "primus_tx.plugins.fortress:plugin",
    "mirage": "primus_tx.plugins.mirage:plugin",
}


def builtin_plugin(name: str) -> Any:
    """
    The built-in plugin object called ``name``, or ``None``.
    """
    path = BUILTIN.get(name.strip().lower()) if isinstance(name, str) else None
    if path is None:
        return None
    from primus_tx._lookup import load

    return load(path)


def find_plugin(name: str) -> Any:
    """
    The built-in plugin called ``name`` (see :mod:`primus_tx.plugins`), else
    the one published under that name through Twisted's plugin system, else
    ``None``.
    """
    found = builtin_plugin(name)
    if found is not None:
        return found
    from twisted.plugin import getPlugins

    from primus_tx.interfaces import IPrimusPlugin

    try:
        for candidate in getPlugins(IPrimusPlugin):
            if getattr(candidate, "name", None) == name:
                return candidate
    except Exception:  # a broken third-party plugin must not hide ours
        pass
    return None


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
    if isinstance(plugins, (list, tuple)):
        plugins = " ".join(str(name) for name in plugins)
    if isinstance(plugins, str):
        names = [n for n in plugins.replace(",", " ").split() if n]
        found: list[tuple[str, Any]] = []
        for name in names:
            if ":" in name:
                found.append((name.split(":", 1)[1], name))
                continue
            plugin = find_plugin(name)
            if plugin is None:
                raise PrimusError(
                    f"Unknown plugin {name!r}; the built-in plugins are "
                    f"{', '.join(sorted(BUILTIN))}, others are published as IPrimusPlugin"
                )
            found.append((name, plugin))
        return found
    raise PrimusError(
        "plugin must be a dict of name: plugin, a string of plugin names or a list of names"
    )
