"""
Spark ids: 21 URL-safe random characters, like Primus's ``nanoid()``.
"""

from __future__ import annotations

import os
from base64 import urlsafe_b64encode

__all__ = ["random_id"]


def random_id() -> str:
    """
    A fresh 21-character id from the alphabet ``A-Za-z0-9_-`` (126 random bits).
    """
    return urlsafe_b64encode(os.urandom(16))[:21].decode("ascii")
