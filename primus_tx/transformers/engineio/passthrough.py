"""
A parser that leaves messages alone, for using primus-tx as a plain
Engine.IO server.

With ``parser=passthrough`` and ``ping_interval=0`` nothing but the
Engine.IO protocol is on the wire: a spark's ``write("hi")`` is the
message packet ``4hi``, bytes go out as binary messages, and what clients
send reaches ``"data"`` unchanged.  (Primus's own messages still apply
when they happen: ``spark.end()`` writes ``primus::server::close`` unless
``reconnect=True``.)
"""

from __future__ import annotations

from typing import Any, Union

from zope.interface import implementer

from primus_tx.interfaces import IParser

__all__ = ["PassThroughParser", "passthrough"]


@implementer(IParser)
class PassThroughParser:
    """
    ``encode`` and ``decode`` return their input; values other than ``str``
    and ``bytes`` cannot be encoded.
    """

    name = "passthrough"
    binary = False

    def encode(self, data: Any) -> Union[str, bytes]:
        if isinstance(data, (str, bytes)):
            return data
        if isinstance(data, (bytearray, memoryview)):
            return bytes(data)
        raise TypeError(f"the passthrough parser sends str or bytes, not {type(data).__name__}")

    def decode(self, message: Union[str, bytes]) -> Any:
        return message

    def library(self) -> str:
        return (
            "function encoder(data, fn) { fn(null, data); }\n"
            "function decoder(data, fn) { fn(null, data); }\n"
        )


passthrough = PassThroughParser()
