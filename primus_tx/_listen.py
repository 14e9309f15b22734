"""
The listen backlog of the servers primus-tx starts itself
(``create_server``, ``twistd primus``).

Twisted's endpoints listen with a backlog of 50: a burst of clients (a
server restart with thousands reconnecting at once) overflows it and the
kernel drops or resets connections that Node, whose default is 511, would
have queued.  Descriptions of the endpoint types that take ``backlog=`` get
511 unless they say otherwise; the kernel still caps it at
``net.core.somaxconn``.
"""

from __future__ import annotations

import re

__all__ = ["DEFAULT_BACKLOG", "with_backlog"]

#: Node's default listen backlog.
DEFAULT_BACKLOG = 511

# Endpoint types whose parsers accept ``backlog=``.
_TAKES_BACKLOG = frozenset(("tcp", "tcp6", "ssl", "unix"))
_HAS_BACKLOG = re.compile(r"(?:^|(?<!\\):)backlog=")


def with_backlog(description: str, backlog: int = DEFAULT_BACKLOG) -> str:
    """
    ``description`` with ``:backlog=<backlog>`` added when its endpoint type
    takes a backlog and it names none (an explicit ``backlog=`` wins;
    other endpoint types, such as ``systemd:``, are returned unchanged).
    """
    kind = description.split(":", 1)[0].strip().lower()
    if kind.isdigit():  # the old bare-port form means TCP
        kind = "tcp"
    if kind not in _TAKES_BACKLOG or _HAS_BACKLOG.search(description):
        return description
    return f"{description}:backlog={backlog}"
