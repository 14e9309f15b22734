"""
The engine.io transformer under the hardening rules: the slow-client cap
on a polling session whose client never polls, and the transport-fidelity
fixes (the close packet, a 413 that keeps the session, a duplicate
WebSocket after an upgrade accepted then closed).
"""

from __future__ import annotations

from eio_fakes import Engine

CAP = 128 * 1024
KB = "k" * 1024


def test_polling_a_client_that_never_polls_is_ended_at_the_cap():
    e = Engine(echo=False, max_buffered=CAP)
    events: list[tuple[str, int]] = []
    e.primus.on("slow client", lambda spark, buffered, policy: events.append((policy, buffered)))
    sid, _ = e.handshake()
    spark = e.sparks[0]
    session = e.server.sessions[sid]
    for _ in range(500):
        if spark.ready_state != spark.OPEN:
            break
        spark.write(KB)
        assert session.bufferedAmount() <= CAP
    assert spark.ready_state == spark.CLOSED and [p for p, _ in events] == ["end"]
    # What waited for the client is gone; the client's next poll gets the close packet.
    assert session.bufferedAmount() == 0
    status, body, _ = e.call("GET", e.url(sid))
    assert (status, body) == (200, b"1")
    e.assert_clean()
