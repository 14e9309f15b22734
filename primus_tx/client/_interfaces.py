"""
The interface between the client socket and a transport, kept importable
from here; it lives in :mod:`primus_tx.interfaces`, beside the server's
connection interface it mirrors, so that transports import no part of the
client.
"""

from __future__ import annotations

from primus_tx.interfaces import IClientTransport, IClientTransportHandler

__all__ = ["IClientTransport", "IClientTransportHandler"]
