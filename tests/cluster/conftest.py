"""
Fixtures of the cluster tests: a private redis-server per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.redis_server import RedisServer
from tests.nodepeer import _require_tool


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """
    A redis-server of this test's own, on a free port in a temporary
    directory; skipped where redis-server is missing, failing under CI=true.
    """
    server = RedisServer(_require_tool("redis-server"), _require_tool("redis-cli"), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
