"""
The middleware stack and the built-in layers, through
``PrimusResource.render`` with ``DummyRequest``s: no sockets, no reactor.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail, succeed

from primus_tx import Address, AuthorizationError, PrimusError
from tests.fakes import FakeTransformer, body, header, make_primus, make_request

DEFAULT_LAYERS = ["forwarded", "cors", "primus.js", "spec", "x-xss", "no-cache", "authorization"]

UPGRADE = {b"upgrade": b"websocket", b"connection": b"Upgrade"}


def _primus(**options: Any) -> tuple[Any, FakeTransformer]:
    transformer = FakeTransformer()
    primus, _ = make_primus(transformer=transformer, ping_interval=0, **options)
    return primus, transformer


def _render(primus: Any, uri: bytes = b"/primus", **kwargs: Any) -> Any:
    request = make_request(uri, **kwargs)
    primus.resource.render(request)
    return request


def _reached(transformer: FakeTransformer) -> tuple[int, int]:
    side = transformer.servers[0]
    return len(side.requests), len(side.upgrades)


def _names(primus: Any) -> list[str]:
    return [layer.name for layer in primus.layers]


# -- the stack -------------------------------------------------------------------


def test_default_layers_in_order() -> None:
    primus, _ = _primus()
    assert _names(primus) == DEFAULT_LAYERS
    for name in DEFAULT_LAYERS:
        assert primus.index_of_layer(name) == DEFAULT_LAYERS.index(name)
    assert primus.index_of_layer("nope") == -1


def test_default_layer_flags() -> None:
    primus, _ = _primus()
    flags = {layer.name: (layer.http, layer.upgrade, layer.enabled) for layer in primus.layers}
    assert flags == {
        "forwarded": (True, True, True),
        "cors": (True, False, True),
        "primus.js": (True, False, True),
        "spec": (True, False, True),
        "x-xss": (True, False, True),
        "no-cache": (True, False, True),
        "authorization": (True, True, True),
    }


def test_use_a_layer_by_name_appends_it() -> None:
    primus, transformer = _primus()
    seen: list[Any] = []
    assert primus.use("mine", lambda request: seen.append(request.path)) is primus
    assert _names(primus)[-1] == "mine"
    request = _render(primus, b"/primus?x=1")
    assert seen == [b"/primus"]
    assert request.responseCode == 299
    assert _reached(transformer) == (1, 0)


def test_use_with_only_a_function_takes_its_name() -> None:
    primus, _ = _primus()

    def timing(request: Any) -> None: ...

    primus.use(timing)
    assert _names(primus)[-1] == "timing"
    primus.use(lambda request: None)
    assert _names(primus)[-1].startswith("pid_")


def test_use_a_factory_with_options() -> None:
    primus, _ = _primus()
    calls: list[Any] = []

    def factory(p: Any, options: Any) -> Any:
        calls.append((p, options))

        def layer(request: Any) -> None:
            request.setHeader(b"x-factory", options["value"])

        return layer

    primus.use("made", factory, {"value": b"42"})
    assert calls == [(primus, {"value": b"42"})]
    request = _render(primus)
    assert header(request, b"x-factory") == b"42"


def test_factory_without_options_gets_an_empty_dict() -> None:
    primus, _ = _primus()
    calls: list[Any] = []

    def factory(p: Any, options: Any) -> Any:
        calls.append(options)
        return lambda request: None

    primus.use("made", factory)
    assert calls == [{}]


def test_use_at_an_index() -> None:
    primus, _ = _primus()
    primus.use("third", lambda request: None, None, 3)
    assert _names(primus)[3] == "third"
    primus.use("zero", lambda request: None, index=0)
    assert _names(primus)[0] == "zero"
    primus.use("past-the-end", lambda request: None, index=99)
    assert _names(primus)[-1] == "past-the-end"


def test_use_same_name_replaces_in_place() -> None:
    primus, _ = _primus()

    def replacement(request: Any) -> None: ...

    primus.use("spec", replacement)
    assert _names(primus) == DEFAULT_LAYERS
    assert primus.layers[3].fn is replacement
    request = _render(primus, b"/primus/spec")
    assert request.responseCode == 299  # the spec layer is gone


def test_use_rejects_non_functions() -> None:
    primus, _ = _primus()
    with pytest.raises(PrimusError):
        primus.use("bad", "not a function")
    with pytest.raises(PrimusError):
        primus.use("bad", lambda p, options: "not a layer")
    with pytest.raises(PrimusError):
        primus.use("bad", lambda p, options: lambda a, b: None)
    assert "bad" not in _names(primus)


def test_remove() -> None:
    primus, _ = _primus()
    assert primus.remove("x-xss") is primus
    assert "x-xss" not in _names(primus)
    primus.remove("never-there")
    assert len(primus.layers) == 6


def test_disable_and_enable() -> None:
    primus, _ = _primus()
    primus.disable("no-cache")
    assert header(_render(primus), b"cache-control") is None
    assert primus.layers[primus.index_of_layer("no-cache")].enabled is False
    primus.enable("no-cache")
    assert header(_render(primus), b"cache-control") is not None


def test_http_only_and_upgrade_only_layers() -> None:
    primus, transformer = _primus()
    calls: list[str] = []

    def http_only(request: Any) -> None:
        calls.append("http")

    http_only.upgrade = False  # type: ignore[attr-defined]

    def upgrade_only(request: Any) -> None:
        calls.append("upgrade")

    upgrade_only.http = False  # type: ignore[attr-defined]

    primus.use("h", http_only).use("u", upgrade_only)
    _render(primus)
    assert calls == ["http"]
    _render(primus, headers=UPGRADE)
    assert calls == ["http", "upgrade"]
    assert _reached(transformer) == (1, 1)


def test_layers_run_in_order_and_a_true_answer_stops_the_chain() -> None:
    primus, transformer = _primus()
    calls: list[str] = []

    def answering(request: Any) -> bool:
        calls.append("answering")
        request.setResponseCode(204)
        return True

    primus.use("first", lambda request: calls.append("first"))
    primus.use("answering", answering)
    primus.use("never", lambda request: calls.append("never"))
    _render(primus)
    assert calls == ["first", "answering"]
    assert _reached(transformer) == (0, 0)


def test_a_layer_that_finishes_the_request_stops_the_chain() -> None:
    primus, transformer = _primus()
    calls: list[str] = []

    def finishing(request: Any) -> None:
        request.setResponseCode(200)
        request.write(b"done")
        request.finish()

    primus.use("finishing", finishing)
    primus.use("never", lambda request: calls.append("never"))
    request = _render(primus)
    assert body(request) == b"done"
    assert request.finished == 1
    assert calls == []
    assert _reached(transformer) == (0, 0)


def test_async_layer_resumes_the_chain() -> None:
    primus, transformer = _primus()
    gate: Deferred[Any] = Deferred()
    calls: list[str] = []
    primus.use("slow", lambda request: gate)
    primus.use("after", lambda request: calls.append("after"))
    request = _render(primus)
    assert calls == []
    assert _reached(transformer) == (0, 0)
    gate.callback(None)
    assert calls == ["after"]
    assert request.responseCode == 299


def test_async_layer_answering_true_stops() -> None:
    primus, transformer = _primus()

    async def answering(request: Any) -> bool:
        await succeed(None)
        request.setResponseCode(202)
        request.finish()
        return True

    primus.use("answering", answering)
    request = _render(primus)
    assert request.responseCode == 202
    assert _reached(transformer) == (0, 0)


class Teapot(Exception):
    status = 418


def test_raising_layer_gives_a_json_error_with_its_status() -> None:
    primus, transformer = _primus()

    def brewing(request: Any) -> None:
        raise Teapot("mw failed")

    primus.use("brewing", brewing)
    request = _render(primus)
    assert request.responseCode == 418
    assert body(request) == b'{"error":"mw failed"}'
    assert header(request, b"content-type") == b"application/json"
    assert header(request, b"content-length") == b"21"
    assert header(request, b"www-authenticate") is None
    assert request.finished == 1
    assert _reached(transformer) == (0, 0)


def test_raising_layer_without_status_is_500() -> None:
    primus, _ = _primus()

    def broken(request: Any) -> None:
        raise ValueError("broken layer")

    primus.use("broken", broken)
    request = _render(primus)
    assert request.responseCode == 500
    assert json.loads(body(request)) == {"error": "broken layer"}


def test_failing_async_layer_gives_a_json_error() -> None:
    primus, transformer = _primus()
    primus.use("async-broken", lambda request: fail(Teapot("async teapot")))
    request = _render(primus)
    assert request.responseCode == 418
    assert body(request) == b'{"error":"async teapot"}'
    assert _reached(transformer) == (0, 0)


def test_upgrade_refused_by_a_layer_closes_the_connection() -> None:
    primus, transformer = _primus()

    def refuse(request: Any) -> None:
        raise Teapot("no upgrade for you")

    primus.use("refuse", refuse)
    request = _render(primus, headers=UPGRADE)
    assert request.responseCode == 418
    assert header(request, b"connection") == b"close"
    assert _reached(transformer) == (0, 0)


# -- authorization ---------------------------------------------------------------------


def test_authorize_must_be_a_function() -> None:
    primus, _ = _primus()
    with pytest.raises(PrimusError, match="Authorize only accepts functions"):
        primus.authorize("yes")  # type: ignore[arg-type]


def test_accepted_authorization_reaches_the_transformer() -> None:
    primus, transformer = _primus()
    seen: list[Any] = []
    assert primus.authorize(lambda request: seen.append(request)) is primus
    request = _render(primus, headers=UPGRADE)
    assert seen == [request]
    # the request has been prepared for the authorizer
    assert isinstance(request.forwarded, Address)
    assert request.query == {}
    assert _reached(transformer) == (0, 1)


def test_authorization_error_401_with_www_authenticate() -> None:
    primus, transformer = _primus()

    def auth(request: Any) -> None:
        raise AuthorizationError("I failed", authenticate='Basic realm="primus"')

    primus.authorize(auth)
    request = _render(primus)
    assert request.responseCode == 401
    assert body(request) == b'{"error":"I failed"}'
    assert header(request, b"content-type") == b"application/json"
    assert header(request, b"content-length") == b"20"
    assert header(request, b"www-authenticate") == b'Basic realm="primus"'
    assert _reached(transformer) == (0, 0)


def test_authorization_error_with_another_status_has_no_www_authenticate() -> None:
    primus, _ = _primus()

    def auth(request: Any) -> None:
        raise AuthorizationError("Go away", status=403, authenticate="Basic")

    primus.authorize(auth)
    request = _render(primus)
    assert request.responseCode == 403
    assert body(request) == b'{"error":"Go away"}'
    assert header(request, b"www-authenticate") is None


def test_other_exception_from_authorize_is_401_with_its_message() -> None:
    primus, _ = _primus()

    def auth(request: Any) -> None:
        raise ValueError("plain string")

    primus.authorize(auth)
    request = _render(primus)
    assert request.responseCode == 401
    assert body(request) == b'{"error":"plain string"}'


def test_async_authorization_failures() -> None:
    primus, transformer = _primus()
    gate: Deferred[Any] = Deferred()
    primus.authorize(lambda request: gate)
    request = _render(primus, headers=UPGRADE)
    assert request.responseCode is None
    gate.errback(KeyError("who"))
    assert request.responseCode == 401
    assert header(request, b"connection") == b"close"
    assert _reached(transformer) == (0, 0)


def test_coroutine_authorization() -> None:
    primus, transformer = _primus()

    async def auth(request: Any) -> None:
        await succeed(None)
        if request.query.get("token") != "secret":
            raise AuthorizationError("bad token", status=403)

    primus.authorize(auth)
    assert _render(primus, b"/primus?token=nope").responseCode == 403
    assert _render(primus, b"/primus?token=secret").responseCode == 299
    assert _reached(transformer) == (1, 0)


def test_authorization_option() -> None:
    def auth(request: Any) -> None:
        raise AuthorizationError("configured")

    primus, _ = _primus(authorization=auth)
    assert primus.auth is auth
    assert _render(primus).responseCode == 401


def test_authorization_skips_library_spec_and_preflight() -> None:
    calls: list[Any] = []

    def auth(request: Any) -> None:
        calls.append(request.path)
        raise AuthorizationError("no")

    primus, _ = _primus(authorization=auth)
    assert _render(primus, b"/primus/spec").responseCode == 200
    preflight = _render(
        primus,
        method=b"OPTIONS",
        headers={b"origin": b"http://example.com", b"access-control-request-method": b"GET"},
    )
    assert preflight.responseCode == 200
    assert calls == []


# -- CORS -------------------------------------------------------------------------------


def test_no_origin_no_cors_headers() -> None:
    primus, _ = _primus()
    request = _render(primus)
    assert header(request, b"access-control-allow-origin") is None
    assert header(request, b"vary") is None


def test_allowed_origin_is_reflected_with_credentials_and_vary() -> None:
    primus, transformer = _primus()
    request = _render(primus, headers={b"origin": b"http://example.com"})
    assert header(request, b"access-control-allow-origin") == b"http://example.com"
    assert header(request, b"access-control-allow-credentials") == b"true"
    assert header(request, b"vary") == b"Origin"
    assert header(request, b"access-control-max-age") is None
    assert _reached(transformer) == (1, 0)


def test_star_without_credentials() -> None:
    primus, _ = _primus(credentials=False)
    request = _render(primus, headers={b"origin": b"http://example.com"})
    assert header(request, b"access-control-allow-origin") == b"*"
    assert header(request, b"access-control-allow-credentials") is None
    assert header(request, b"vary") is None


def _forbidden(request: Any, origin: str, method: str) -> None:
    assert request.responseCode == 403
    assert header(request, b"content-type") == b"text/plain"
    assert (
        body(request)
        == (
            f"Invalid HTTP Access Control (CORS) request:\n  Origin: {origin}\n  Method: {method}"
        ).encode()
    )


@pytest.mark.parametrize("origin", ["example.com", "http://exa%6Dple.com"])
def test_malformed_origin_is_403(origin: str) -> None:
    primus, transformer = _primus()
    request = _render(primus, headers={b"origin": origin.encode()})
    _forbidden(request, origin, "GET")
    assert _reached(transformer) == (0, 0)


def test_null_origin_is_allowed() -> None:
    primus, _ = _primus()
    request = _render(primus, headers={b"origin": b"null"})
    assert request.responseCode == 299
    assert header(request, b"access-control-allow-origin") == b"null"


def test_unlisted_origin_is_403() -> None:
    primus, _ = _primus(origins="http://good.example, http://also.example")
    _forbidden(
        _render(primus, headers={b"origin": b"http://bad.example"}), "http://bad.example", "GET"
    )
    ok = _render(primus, headers={b"origin": b"http://Also.Example"})
    assert ok.responseCode == 299
    assert header(ok, b"access-control-allow-origin") == b"http://Also.Example"
    assert header(ok, b"vary") == b"Origin"


def test_origins_as_a_list() -> None:
    primus, _ = _primus(origins=["http://good.example"])
    assert _render(primus, headers={b"origin": b"http://good.example"}).responseCode == 299
    assert _render(primus, headers={b"origin": b"http://bad.example"}).responseCode == 403


def test_method_not_allowed_is_403() -> None:
    primus, _ = _primus(methods="GET,POST")
    request = _render(primus, method=b"DELETE", headers={b"origin": b"http://example.com"})
    _forbidden(request, "http://example.com", "DELETE")


def test_preflight() -> None:
    primus, transformer = _primus()
    request = _render(
        primus,
        method=b"OPTIONS",
        headers={
            b"origin": b"http://example.com",
            b"access-control-request-method": b"POST",
            b"access-control-request-headers": b"x-token, content-type",
        },
    )
    assert request.responseCode == 200
    assert body(request) == b""
    assert request.finished == 1
    assert header(request, b"content-length") == b"0"
    assert header(request, b"access-control-allow-origin") == b"http://example.com"
    assert header(request, b"access-control-max-age") == b"2592000"
    assert (
        header(request, b"access-control-allow-methods") == b"GET, HEAD, PUT, POST, DELETE, OPTIONS"
    )
    assert header(request, b"access-control-allow-headers") == b"x-token, content-type"
    assert header(request, b"cache-control") is None  # the chain stopped at cors
    assert _reached(transformer) == (0, 0)


def test_preflight_with_configured_headers_and_max_age() -> None:
    primus, _ = _primus(headers="x-a, x-b", max_age=60)
    request = _render(
        primus,
        method=b"OPTIONS",
        headers={
            b"origin": b"http://example.com",
            b"access-control-request-method": b"GET",
            b"access-control-request-headers": b"x-other",
        },
    )
    assert header(request, b"access-control-allow-headers") == b"x-a, x-b"
    assert header(request, b"access-control-max-age") == b"60"


def test_options_without_request_method_is_not_a_preflight() -> None:
    primus, transformer = _primus()
    request = _render(primus, method=b"OPTIONS", headers={b"origin": b"http://example.com"})
    assert request.responseCode == 299
    assert _reached(transformer) == (1, 0)


def test_exposed_headers() -> None:
    primus, _ = _primus(exposed=["x-a", "x-b"])
    request = _render(primus, headers={b"origin": b"http://example.com"})
    assert header(request, b"access-control-expose-headers") == b"x-a, x-b"


def test_cors_does_not_run_for_upgrades() -> None:
    primus, transformer = _primus()
    request = _render(primus, headers={**UPGRADE, b"origin": b"not-an-origin"})
    assert request.responseCode is None
    assert header(request, b"access-control-allow-origin") is None
    assert _reached(transformer) == (0, 1)


# -- the library and the spec --------------------------------------------------------------


def test_library_is_served() -> None:
    primus, transformer = _primus()
    request = _render(primus, b"/primus/primus.js", headers={b"origin": b"http://example.com"})
    assert request.responseCode == 200
    assert header(request, b"content-type") == b"text/javascript; charset=utf-8"
    expected = primus.library().encode("utf-8")
    assert body(request) == expected
    assert header(request, b"content-length") == str(len(expected)).encode()
    # CORS ran before, no-cache did not
    assert header(request, b"access-control-allow-origin") == b"http://example.com"
    assert header(request, b"cache-control") is None
    assert _reached(transformer) == (0, 0)


def test_spec_is_served_with_any_method_and_head_has_no_body() -> None:
    primus, _ = _primus()
    post = _render(primus, b"/primus/spec", method=b"POST")
    assert post.responseCode == 200
    assert json.loads(body(post)) == primus.spec
    assert header(post, b"cache-control") is None
    head = _render(primus, b"/primus/spec", method=b"HEAD")
    assert head.responseCode == 200
    assert body(head) == b""
    assert header(head, b"content-length") == header(post, b"content-length")


def test_spec_path_must_match_exactly() -> None:
    primus, _ = _primus()
    assert _render(primus, b"/primus/spec/more").responseCode == 299
    assert _render(primus, b"/primus/spec?x=1").responseCode == 200


def test_spec_under_a_custom_pathname() -> None:
    primus, _ = _primus(pathname="/rt")
    request = _render(primus, b"/rt/spec")
    assert json.loads(body(request))["pathname"] == "/rt"


# -- x-xss, no-cache, 426 -----------------------------------------------------------------


@pytest.mark.parametrize(
    "agent",
    [
        b"Mozilla/4.0 (compatible;MSIE 7.0; Windows NT 6.0)",
        b"Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
    ],
)
def test_x_xss_for_old_ie(agent: bytes) -> None:
    primus, _ = _primus()
    request = _render(primus, headers={b"user-agent": agent})
    assert header(request, b"x-xss-protection") == b"0"


def test_no_x_xss_for_other_browsers() -> None:
    primus, _ = _primus()
    request = _render(
        primus, headers={b"user-agent": b"Mozilla/5.0 (X11; Linux x86_64) Firefox/120"}
    )
    assert header(request, b"x-xss-protection") is None
    assert header(_render(primus), b"x-xss-protection") is None


def test_no_cache_headers() -> None:
    primus, _ = _primus()
    request = _render(primus)
    assert header(request, b"cache-control") == b"no-store, no-cache, must-revalidate, max-age=0"
    assert header(request, b"pragma") == b"no-cache"


def test_plain_get_is_426_with_no_cache_headers() -> None:
    primus, _ = make_primus(ping_interval=0)
    request = make_request(b"/primus?foo=bar")
    primus.resource.render(request)
    assert request.responseCode == 426
    assert request.responseMessage == b"Upgrade Required"
    assert body(request) == b"Upgrade Required"
    assert header(request, b"content-type") == b"text/plain"
    assert header(request, b"cache-control") == b"no-store, no-cache, must-revalidate, max-age=0"
    assert request.finished == 1


def test_request_query_and_forwarded_are_set() -> None:
    primus, _ = _primus()
    request = _render(
        primus,
        b"/primus?foo=bar&foo=baz&x=a+b",
        headers={b"x-forwarded-for": b"13.3.37.1", b"x-forwarded-proto": b"https"},
        client=("10.1.1.1", 1234),
    )
    assert request.query == {"foo": ["bar", "baz"], "x": "a b"}
    assert (request.forwarded.ip, request.forwarded.secure) == ("13.3.37.1", True)


def test_forwarded_without_proxy_headers_is_the_peer() -> None:
    primus, _ = _primus()
    request = _render(primus, client=("192.0.2.1", 4444), secure=True)
    assert request.forwarded == Address("192.0.2.1", 4444, True)


def test_origins_separated_by_spaces() -> None:
    # access-control splits origins (and methods) on /[, ]+/
    primus, _ = _primus(origins="http://a.example http://b.example", methods="GET POST")
    request = _render(primus, headers={b"origin": b"http://b.example"})
    assert request.responseCode == 299
    request = _render(primus, method=b"POST", headers={b"origin": b"http://a.example"})
    assert request.responseCode == 299


def test_stack_methods_chain() -> None:
    primus, _ = _primus()
    assert primus.disable("spec") is primus
    assert primus.enable("spec") is primus
    assert primus.remove("spec") is primus
