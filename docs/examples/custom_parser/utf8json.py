"""
A custom primus-tx parser: JSON, sent as UTF-8 in binary WebSocket frames
(some proxies mangle text frames; binary ones pass untouched).

Published through Twisted's plugin system by
``twisted/plugins/utf8json_primus.py``, so that ``Primus(site,
parser="utf8-json")``, ``primus_tx.connect(url, parser="utf8-json")`` and
``twistd primus --parser utf8-json`` find it by name.
"""

import json
from pathlib import Path

from zope.interface import implementer

from primus_tx import ParserError
from primus_tx.interfaces import INamedParser


@implementer(INamedParser)
class UTF8JSON:
    name = "utf8-json"
    binary = True  # bytes out: binary frames (refused with SockJS)

    def encode(self, data):
        try:
            text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            return text.encode("utf-8")
        except (TypeError, ValueError, UnicodeEncodeError) as error:
            raise ParserError(f"utf8-json cannot encode a {type(data).__name__}: {error}")

    def decode(self, message):
        if isinstance(message, str):
            raise ParserError("utf8-json messages are binary")
        try:
            return json.loads(bytes(message).decode("utf-8"))
        except (ValueError, RecursionError) as error:
            raise ParserError(f"not UTF-8 JSON: {error}")

    def library(self):
        # The browser half: defines encoder(data, fn) and decoder(data, fn).
        return (Path(__file__).parent / "utf8json.js").read_text("utf-8")


parser = UTF8JSON()
