"""
Message encodings ("parsers"): built-in ones by name, third-party ones as
objects providing :class:`~primus_tx.interfaces.IParser` or published through
Twisted's plugin system.
"""

from __future__ import annotations

from typing import Any

from primus_tx._errors import PrimusError
from primus_tx._lookup import find_named
from primus_tx.interfaces import INamedParser, IParser
from primus_tx.parsers._values import JSRegExp

__all__ = ["JSRegExp", "check_pairing", "find_parser"]

_BUILTIN = {
    "binary": "primus_tx.parsers.binary:parser",
    "ejson": "primus_tx.parsers.ejson:parser",
    "json": "primus_tx.parsers.json:parser",
    "msgpack": "primus_tx.parsers.msgpack:parser",
}


def find_parser(parser: Any) -> IParser:
    """
    The parser named ``parser`` (case-insensitive), or ``parser`` itself when
    it provides :class:`IParser`.

    :raises PrimusError: for an unknown name or an object that is not a parser.
    """
    return find_named(parser, "parser", IParser, INamedParser, _BUILTIN)


def check_pairing(transformer: Any, parser: IParser) -> None:
    """
    Refuse a binary parser with a transformer that only carries text (one
    whose ``text_only`` attribute is true, such as SockJS): every message
    would fail on the wire, so the server or client is never built.

    :raises PrimusError: naming both and saying why.
    """
    if getattr(parser, "binary", False) and getattr(transformer, "text_only", False):
        raise PrimusError(
            f"The {getattr(parser, 'name', 'custom')!r} parser writes binary messages, and the "
            f"{getattr(transformer, 'name', 'custom')!r} transformer carries text only: "
            "choose a text parser (json, ejson) or another transformer (websockets, engine.io)"
        )
