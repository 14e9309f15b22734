"""
Finding transformers and parsers by name: built-in ones first, then the
ones third parties publish through Twisted's plugin system.
"""

from __future__ import annotations

import importlib
from typing import Any

from zope.interface.interface import InterfaceClass

from primus_tx._errors import PrimusError

__all__ = ["find_named", "load"]


def load(path: str) -> Any:
    """
    Import ``module:attribute``.
    """
    module_name, _, attribute = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def _published(interface: InterfaceClass) -> dict[str, Any]:
    from twisted.plugin import getPlugins

    found: dict[str, Any] = {}
    candidate: Any
    try:
        for candidate in getPlugins(interface):  # type: ignore[arg-type]
            name = getattr(candidate, "name", None)
            if isinstance(name, str) and name:
                found.setdefault(name.lower(), candidate)
    except Exception:  # a broken third-party plugin must not hide ours
        pass
    return found


def find_named(
    value: Any,
    kind: str,
    interface: InterfaceClass,
    named_interface: InterfaceClass,
    builtin: dict[str, str],
) -> Any:
    """
    Resolve ``value``: an object providing ``interface`` is returned as it
    is; a string is looked up among the built-in and published names.
    """
    if isinstance(value, str):
        key = value.strip().lower()
        if key in builtin:
            return load(builtin[key])
        published = _published(named_interface)
        if key in published:
            return published[key]
        available = sorted(set(builtin) | set(published))
        raise PrimusError(
            f"Unsupported {kind}: {value!r}. Available {kind}s: {', '.join(available)}"
        )
    if interface.providedBy(value):
        return value
    raise PrimusError(
        f"The given {kind} {value!r} does not provide {interface.__name__}; "
        f"pass a {kind} name or an object declared with @implementer({interface.__name__})"
    )
