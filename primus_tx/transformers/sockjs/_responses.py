"""
The HTTP answers the SockJS routes share: caching, CORS, errors.
"""

from __future__ import annotations

from typing import Any

from twisted.web.http import datetimeToString

from primus_tx._http import PrimusRequest, answer, is_gone
from primus_tx.transformers.sockjs._constants import CACHE_FOREVER, NO_CACHE, ONE_YEAR


def _finish(request: PrimusRequest) -> None:
    if not is_gone(request) and not request.finished:
        request.finish()


def _no_cache(request: PrimusRequest) -> None:
    headers = request.responseHeaders
    headers.setRawHeaders(b"cache-control", [NO_CACHE])
    for name in (b"expires", b"last-modified", b"pragma"):
        headers.removeHeader(name)


def _cache_forever(request: PrimusRequest, reactor: Any) -> None:
    headers = request.responseHeaders
    headers.setRawHeaders(b"cache-control", [CACHE_FOREVER])
    headers.setRawHeaders(b"expires", [datetimeToString(int(reactor.seconds()) + ONE_YEAR)])
    headers.removeHeader(b"pragma")


def _cors(request: PrimusRequest) -> None:
    origin = request.getHeader(b"origin")
    if origin:
        request.setHeader(b"access-control-allow-origin", origin)
        request.setHeader(b"access-control-allow-credentials", b"true")
    else:
        request.setHeader(b"access-control-allow-origin", b"*")
        request.responseHeaders.removeHeader(b"access-control-allow-credentials")
    request.setHeader(b"vary", b"Origin")
    asked = request.getHeader(b"access-control-request-headers")
    if asked:
        request.setHeader(b"access-control-allow-headers", asked)
    else:
        request.responseHeaders.removeHeader(b"access-control-allow-headers")



def _not_found(request: PrimusRequest) -> None:
    _no_cache(request)
    answer(request, 404, b"404 Error: Page not found\n", b"text/plain; charset=UTF-8")


def _not_allowed(request: PrimusRequest, allow: bytes) -> None:
    request.responseHeaders.removeHeader(b"content-type")
    request.setHeader(b"allow", allow)
    answer(request, 405)


def _server_error(request: PrimusRequest, text: str) -> None:
    _no_cache(request)
    answer(request, 500, text.encode("utf-8"), b"text/plain; charset=UTF-8")


# -- receivers: the HTTP responses that carry frames to the client ------------------
