"""
The connection URL, built the way Primus's client builds it (docs/protocol/primus.rst,
"The connection URL"):
the user's scheme, userinfo, host and port, the server's pathname (never
the URL's), the user's query string with a ``_primuscb`` cache buster last.
"""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import quote, unquote, urlsplit

from primus_tx._errors import PrimusError

__all__ = ["Yeast", "assemble", "parse_query", "split_url", "stringify_query"]

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"


def _encode(number: int) -> str:
    encoded = ""
    while True:
        encoded = _ALPHABET[number % 64] + encoded
        number //= 64
        if number <= 0:
            return encoded


class Yeast:
    """
    Unique, short, time-ordered ids: the millisecond clock in base 64, with
    a ``.seed`` suffix when two ids are asked for in the same millisecond
    (the ``yeast`` module Primus uses).
    """

    def __init__(self, seconds: Callable[[], float]) -> None:
        self._seconds = seconds
        self._previous = ""
        self._seed = 0

    def __call__(self) -> str:
        now = _encode(round(self._seconds() * 1000))
        if now != self._previous:
            self._seed = 0
            self._previous = now
            return now
        seed = self._seed
        self._seed += 1
        return now + "." + _encode(seed)


def _decode_component(text: str) -> str:
    return unquote(text.replace("+", " "))


def parse_query(query: str) -> dict[str, str]:
    """
    ``querystringify.parse``: the first value of a repeated key wins.
    """
    result: dict[str, str] = {}
    for part in query.lstrip("?").split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        key = _decode_component(key)
        if key and key not in result:
            result[key] = _decode_component(value)
    return result


def _component(text: Any) -> str:
    # encodeURIComponent keeps these unescaped.
    return quote(str(text), safe="-_.!~*'()")


def stringify_query(query: dict[str, Any]) -> str:
    """
    ``querystringify.stringify``: ``key=value`` pairs joined by ``&``.
    """
    return "&".join(
        f"{_component(key)}={_component('' if value is None else value)}"
        for key, value in query.items()
    )


def split_url(url: str) -> dict[str, Any]:
    """
    The parts of the user's URL that the connection URL keeps.

    :raises PrimusError: for a scheme that is not http(s) or ws(s), or a
        missing host.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise PrimusError(f"Invalid Primus URL {url!r}: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ws", "wss"):
        raise PrimusError(f"Invalid Primus URL {url!r}: use http://, https://, ws:// or wss://")
    if not parts.hostname:
        raise PrimusError(f"Invalid Primus URL {url!r}: no host")
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    auth = ""
    if parts.username is not None:
        auth = parts.username
        if parts.password is not None:
            auth += ":" + parts.password
    return {
        "secure": scheme in ("https", "wss"),
        "auth": auth,
        "hostname": host,
        "port": port,
        "query": parts.query,
    }


def assemble(options: dict[str, Any]) -> str:
    """
    The URL from the (possibly plugin-rewritten) ``outgoing::url`` options.
    """
    scheme = options["protocol"] + ("s" if options["secure"] else "")
    auth = options["auth"] + "@" if options["auth"] else ""
    port = f":{options['port']}" if options["port"] is not None else ""
    return f"{scheme}://{auth}{options['hostname']}{port}{options['pathname']}?{options['query']}"
