"""
Primus's middleware: the stack, and the built-in layers in the order a
server installs them.

=================  ====  =======  ===========================================
layer              http  upgrade  what it does
=================  ====  =======  ===========================================
``forwarded``      yes   yes      ``request.forwarded``: the client's address
``cors``           yes   no       access control; answers pre-flights
``primus.js``      yes   no       serves the browser library
``spec``           yes   no       serves the spec document
``x-xss``          yes   no       ``X-XSS-Protection: 0`` for old IE
``no-cache``       yes   no       no caching of real-time responses
``authorization``  yes   yes      runs ``primus.authorize()``'s function
=================  ====  =======  ===========================================
"""

from __future__ import annotations

from primus_tx.middleware._stack import Layer, MiddlewareStack, respond_with_error
from primus_tx.middleware.authorization import authorization
from primus_tx.middleware.cors import cors
from primus_tx.middleware.forwarded import forwarded
from primus_tx.middleware.library import library
from primus_tx.middleware.no_cache import no_cache
from primus_tx.middleware.spec import spec
from primus_tx.middleware.x_xss import x_xss

__all__ = ["DEFAULT_LAYERS", "Layer", "MiddlewareStack", "respond_with_error"]

DEFAULT_LAYERS = (
    ("forwarded", forwarded),
    ("cors", cors),
    ("primus.js", library),
    ("spec", spec),
    ("x-xss", x_xss),
    ("no-cache", no_cache),
    ("authorization", authorization),
)
