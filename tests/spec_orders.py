"""
Event orders of Primus's client as docs/protocol/primus.rst, "Client events and
their orders", records them from the real Primus 8 client; every client under
test (the official one, ours in Python, ours in the browser) must show them.
"""

from __future__ import annotations

#: After ``open``: the server ends the spark with ``reconnect=True`` and the
#: client comes back.
SERVER_ASKED_RECONNECT = [
    "readyStateChange:end",
    "close",
    "reconnect scheduled",
    "readyStateChange:opening",
    "reconnect",
    "reconnected",
    "readyStateChange:open",
    "open",
]
