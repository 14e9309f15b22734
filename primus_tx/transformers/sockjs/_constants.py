"""
The SockJS transformer's defaults, limits and fixed texts.
"""

from __future__ import annotations

import re
from typing import Any

# Characters waiting in an HTTP session's outbox past which ``spark.write``
# returns ``False``; ``"drain"`` follows once it is back under LOW_WATER
# (the marks every session transformer uses).
from primus_tx.transformers._shared import HIGH_WATER, LOW_WATER  # noqa: F401

#: The transport options and their defaults (durations in seconds).
DEFAULT_OPTIONS: dict[str, Any] = {
    "websocket": True,
    "cookie_needed": False,
    "heartbeat_delay": 25.0,
    "disconnect_delay": 5.0,
    "response_limit": 128 * 1024,
    "sockjs_url": "https://cdn.jsdelivr.net/npm/sockjs-client@1/dist/sockjs.min.js",
}


NO_CACHE = b"no-store, no-cache, no-transform, must-revalidate, max-age=0"
ONE_YEAR = 31536000
CACHE_FOREVER = b"public, max-age=31536000"

ANOTHER_CONNECTION = 'c[2010,"Another connection still open"]'

_SESSION_PATH = re.compile(rb"^/([^/.]+)/([^/.]+)/([a-z_]+)$")
_IFRAME_PATH = re.compile(rb"^/iframe[0-9a-z._-]*\.html$")
_CALLBACK = re.compile(r"^[a-zA-Z0-9_.-]+$")

_IFRAME = """<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="{url}"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe();
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>"""

_HTMLFILE_HEAD = """<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.{callback};
    c.start();
    function p(d) {{c.message(d);}};
    window.onload = function() {{c.stop();}};
  </script>"""


# -- frames ------------------------------------------------------------------
