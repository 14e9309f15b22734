"""
The plugin tests use the server fakes (tests/fakes.py) and the client
fakes (tests/client/client_fakes.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

_CLIENT = str(Path(__file__).resolve().parent.parent / "client")
if _CLIENT not in sys.path:
    sys.path.insert(0, _CLIENT)
