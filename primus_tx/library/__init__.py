"""
The browser client library: the JavaScript served at
``<pathname>/primus.js`` and written by ``primus.save(path)``.

The sources beside this module are plain browser JavaScript, kept in
separate files so each can be read on its own; :func:`build_library`
concatenates them inside one UMD wrapper, together with what only the
server knows: its pathname, its transformer's browser transport, its
parser's browser codec, its plugins' libraries, the default ping timeout
derived from its ``ping_interval``, and whether it has an authorization
function.  Compiling these in is what lets ``new Primus()`` connect with no
configuration at all, as with Primus.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from primus_tx._defaults import client_ping_timeout_ms
from primus_tx._errors import PrimusError
from primus_tx._version import PRIMUS_VERSION

__all__ = ["CORE_SOURCES", "build_library", "default_ping_timeout"]

#: The core's files, in the order they are concatenated (each only uses
#: names defined by the ones before it, or later at call time).
CORE_SOURCES = ("emitter.js", "timers.js", "recovery.js", "url.js", "primus.js")

_HERE = Path(__file__).parent

_UMD_HEAD = """\
(function umd(name, context, definition, plugins) {
  context[name] = definition.call(context);
  for (var i = 0; i < plugins.length; i++) plugins[i](context[name]);
  if (typeof module !== 'undefined' && module.exports) {
    module.exports = context[name];
  } else if (typeof define === 'function' && define.amd) {
    define(function reference() { return context[name]; });
  }
})(%(name)s, typeof window !== 'undefined' ? window
  : typeof self !== 'undefined' ? self : this || {}, function definition() {
// Hidden so bundled code inside this closure never registers itself as a
// CommonJS or AMD module of its own.
var define, module, exports;
"""


def _source(name: str) -> str:
    return (_HERE / name).read_text("utf-8")


def _js(value: Any) -> str:
    """
    ``value`` as a JavaScript literal (JSON with U+2028/U+2029 escaped, as
    ``json.dumps`` does by default).
    """
    return json.dumps(value)


def _text_of(owner: Any, attribute: str) -> str:
    """
    A ``library`` member that may be a string or a method returning one.
    """
    value = getattr(owner, attribute, None)
    if callable(value):
        value = value()
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        raise PrimusError(f"{owner!r}.{attribute} must be JavaScript source (str), not {value!r}")
    return value


#: The client's default ``pingTimeout`` in milliseconds for a server pinging
#: every ``ping_interval`` seconds (the rule lives in :mod:`primus_tx._defaults`).
default_ping_timeout = client_ping_timeout_ms


def build_library(primus: Any) -> str:
    """
    Assemble the browser library for ``primus``.

    :param primus: a :class:`primus_tx.Primus` (only ``pathname``,
        ``options``, ``auth``, ``transformer``, ``parser`` and ``plugin()``
        are read).
    :return: one JavaScript file defining the client constructor as a
        global named ``primus.options["global_name"]`` (and as a CommonJS or
        AMD export where those exist).
    """
    options = primus.options
    name = options.get("global_name") or "Primus"
    transport = _text_of(primus.transformer, "library")
    if not transport.strip():
        raise PrimusError(
            f"The transformer {getattr(primus.transformer, 'name', primus.transformer)!r} "
            "has no browser transport (its library() is empty)"
        )
    codec = _text_of(primus.parser, "library")
    if not codec.strip():
        raise PrimusError(
            f"The parser {getattr(primus.parser, 'name', primus.parser)!r} has no browser "
            "codec (its library() is empty)"
        )

    parts = [
        f"/*! primus-tx browser client (Primus {PRIMUS_VERSION} protocol) */\n",
        _UMD_HEAD % {"name": _js(name)},
    ]
    for source in CORE_SOURCES:
        parts.append(f"\n// ---- {source}\n")
        parts.append(_source(source))
    parts.append(
        "\n// ---- transport: "
        f"{getattr(primus.transformer, 'name', 'custom')}\n"
        "Primus.prototype.client = (function transportScope() {\n"
        f"{transport}\n"
        "return client;\n"
        "})();\n"
    )
    parts.append(
        f"\n// ---- parser: {getattr(primus.parser, 'name', 'custom')}\n"
        "(function parserScope() {\n"
        f"{codec}\n"
        "Primus.prototype.encoder = encoder;\n"
        "Primus.prototype.decoder = decoder;\n"
        "})();\n"
    )
    settings = {
        "pathname": primus.pathname,
        "version": PRIMUS_VERSION,
        "authorization": primus.auth is not None,
        "defaultPingTimeout": default_ping_timeout(options.get("ping_interval", 0)),
    }
    parts.append("\n// ---- compiled in by the server\n")
    for key, value in settings.items():
        parts.append(f"Primus.prototype.{key} = {_js(value)};\n")
    parts.append("return Primus;\n}, [")

    plugins = primus.plugin() or {}
    libraries = []
    for plugin_name, plugin in plugins.items():
        source = _text_of(plugin, "library")
        if source.strip():
            libraries.append(
                f"\n// ---- plugin: {_js(plugin_name)}\nfunction plugin(Primus) {{\n{source}\n}}"
            )
    parts.append(",".join(libraries))
    parts.append("]);\n")
    return "".join(parts)
