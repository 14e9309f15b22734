"""
Churn: clients connect and leave, half of them politely (a close frame),
half abruptly (a TCP reset), on every transformer.  Once they are gone the
server holds what it held before: no spark, no session, no timer, no file
descriptor, no spark object left alive.

Sized for CI (a few hundred cycles); ``python -m benchmarks.hardening churn``
runs 20,000 cycles per transformer and reports RSS as well.
"""

from __future__ import annotations

import gc
import weakref

import pytest
import pytest_twisted
from hostile_helpers import hostile_server, open_fds, wait_until

from primus_tx import Spark

CYCLES = 120
BATCH = 20

_PATHS = {
    "websockets": "/primus",
    "engine.io": "/primus/?EIO=4&transport=websocket",
    "sockjs": "/primus/websocket",
}


@pytest.mark.parametrize("transformer", sorted(_PATHS))
@pytest_twisted.ensureDeferred
async def test_churn_leaves_nothing_behind(reactor, transformer):
    async with hostile_server(reactor, transformer=transformer, ping_interval=0) as h:
        h.echo = False
        server = h.primus._server
        alive: weakref.WeakSet[Spark] = weakref.WeakSet()
        h.primus.on("connection", alive.add)
        # Warm up once, so lazily made things exist before the baseline.
        first = await h.ws(_PATHS[transformer])
        first.close()
        await wait_until(reactor, lambda: h.primus.connected == 0, 2.0, "the warm-up to leave")
        gc.collect()
        fds = open_fds()
        timers = len(reactor.getDelayedCalls())
        for start in range(0, CYCLES, BATCH):
            clients = [await h.ws(_PATHS[transformer]) for _ in range(BATCH)]
            for index, client in enumerate(clients):
                if (start + index) % 2:
                    client.reset()
                else:
                    client.close()
            await wait_until(reactor, lambda: h.primus.connected == 0, 3.0, "the batch to leave")
            await wait_until(
                reactor, lambda batch=clients: all(c.lost for c in batch), 3.0, "the clients to go"
            )
        h.clients.clear()
        await wait_until(
            reactor, lambda: open_fds() <= fds and len(reactor.getDelayedCalls()) <= timers,
            5.0, "descriptors and timers back to where they were",
        )
        assert len(h.sparks) == CYCLES + 1
        assert getattr(server, "sessions", {}) == {}
        h.sparks.clear()
        h.ended.clear()
        h.data.clear()
        gc.collect()
        assert len(alive) == 0
