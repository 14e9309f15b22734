"""
Transports ("transformers"): built-in ones by name, third-party ones as
objects providing :class:`~primus_tx.interfaces.ITransformer` or published
through Twisted's plugin system.
"""

from __future__ import annotations

from typing import Any

from primus_tx._lookup import find_named
from primus_tx.interfaces import INamedTransformer, ITransformer

__all__ = ["find_transformer"]

_BUILTIN = {
    "websockets": "primus_tx.transformers.websockets:transformer",
    "engine.io": "primus_tx.transformers.engineio:transformer",
    "sockjs": "primus_tx.transformers.sockjs:transformer",
    "browserchannel": "primus_tx.transformers.browserchannel:transformer",
    "uws": "primus_tx.transformers.websockets.names:uws",
    "faye": "primus_tx.transformers.websockets.names:faye",
}


def find_transformer(transformer: Any) -> ITransformer:
    """
    The transformer named ``transformer`` (case-insensitive), or
    ``transformer`` itself when it provides :class:`ITransformer`.

    :raises PrimusError: for an unknown name or an object that is not a
        transformer.
    """
    return find_named(
        transformer, "transformer", ITransformer, INamedTransformer, _BUILTIN
    )
