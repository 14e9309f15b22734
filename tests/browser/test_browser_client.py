"""
The browser client served at /primus/primus.js, in real headless Chromium
against a primus-tx server (spec/primus.md §1 and §5).
"""

from __future__ import annotations

from typing import Any

OPENED = "() => window.log && window.log.includes('open')"


def connect(page: Any, options: str = "{}") -> None:
    """
    Create ``window.primus`` with these options and record its events in
    ``window.log``.
    """
    page.evaluate(
        f"() => {{ window.primus = new Primus({options}); window.log = record(window.primus); }}"
    )


def events(page: Any) -> list[str]:
    return page.evaluate("() => window.log.slice()")


def test_connect_open_then_end(server_factory: Any, page_factory: Any) -> None:
    server = server_factory()
    page = page_factory(server.url)
    connect(page)
    page.wait_for_function(OPENED)
    assert len(server.control("sparks")) == 1
    page.evaluate("() => window.primus.end()")
    assert events(page) == [
        "readyStateChange:opening",
        "readyStateChange:open",
        "open",
        "readyStateChange:end",
        "close",
        "end",
    ]
