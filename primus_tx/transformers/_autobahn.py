"""
Autobahn settings that every WebSocket primus-tx makes with Autobahn, a
server's or a client's, shares.
"""

from __future__ import annotations

__all__ = ["CLOSE_HANDSHAKE_TIMEOUT"]

#: Seconds Autobahn waits for the peer's close frame before it aborts the
#: connection.  Autobahn schedules this timer through txaio's batched
#: timers, which round the due time *down* to a whole second: a timeout of
#: 1 fires anywhere from at once to one second later.  Aborting sends a TCP
#: reset, and a peer that has not yet read the last messages loses them
#: with it (``end(data)``'s data, for one).  Two seconds here means at
#: least one in practice, the lean engine's exact
#: :data:`~primus_tx.transformers.websockets.lean.CLOSE_TIMEOUT`.
CLOSE_HANDSHAKE_TIMEOUT = 2
