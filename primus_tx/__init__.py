"""
primus-tx: Primus, the universal real-time layer, on Twisted.

The public API is four modules, each with an explicit ``__all__``: this one
(the server, sparks, errors, ``connect`` and ``create_server``),
:mod:`primus_tx.interfaces` (what transformers, parsers and plugins
implement), :mod:`primus_tx.client` (the Python client) and
:mod:`primus_tx.testing` (fakes for testing applications).  Everything else
is private and may change between releases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from primus_tx._address import Address
from primus_tx._create import create_server
from primus_tx._errors import AuthorizationError, ParserError, PrimusError
from primus_tx._transforms import Packet
from primus_tx._version import __version__
from primus_tx.server import PRIMUS_VERSION, Primus
from primus_tx.spark import Spark

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

__all__ = [
    "PRIMUS_VERSION",
    "Address",
    "AuthorizationError",
    "Packet",
    "ParserError",
    "Primus",
    "PrimusError",
    "Spark",
    "__version__",
    "connect",
    "create_server",
]


def connect(url: str, **options: Any) -> Deferred[Any]:
    """
    Open a Python client connection to a Primus server; the Deferred fires
    with the open :class:`primus_tx.client.Socket`.  See :doc:`/client`.
    """
    from primus_tx.client import connect as _connect

    return _connect(url, **options)
