"""
Fuzz targets: every place where bytes from a client enter primus-tx.

Each target takes one input (``bytes``) and returns normally when the code
under test coped with it: it decoded it, or refused it with the error the
decoder documents.  Anything else (another exception, an error logged by
twisted.web, a request left without an answer) raises ``AssertionError``,
which is a bug.

They are driven three ways: hypothesis property tests in the suite
(tests/test_fuzz.py), the saved corpus replayed there (tests/fuzz_corpus/),
and the coverage-guided runner ``python tests/fuzz.py TARGET`` (atheris
when it is installed, hypothesis's own engine otherwise).
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs
from twisted.web.resource import Resource
from twisted.web.server import Site

__all__ = ["TARGETS"]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def json_parser(data: bytes) -> None:
    """
    The default parser, as a spark calls it (text), and with raw bytes.
    """
    from primus_tx.parsers.json import parser

    for message in (_text(data), data):
        try:
            parser.decode(message)
        except ValueError:
            pass  # refused, as documented (JSONDecodeError is a ValueError)


_PARSERS: list[Any] = []


def _parsers() -> list[Any]:
    if not _PARSERS:
        from twisted.plugin import getPlugins

        from primus_tx import parsers
        from primus_tx.interfaces import INamedParser

        _PARSERS.extend(parsers.find_parser(name) for name in sorted(parsers._BUILTIN))
        _PARSERS.extend(getPlugins(INamedParser))
    return _PARSERS


def every_parser(data: bytes) -> None:
    """
    Every built-in and published parser (so parsers added later are fuzzed
    too): a message that does not decode is refused with an ordinary
    exception (the parser contract: raise to report a failure), never by
    exhausting the stack or memory.
    """
    for parser in _parsers():
        message = data if parser.binary else _text(data)
        try:
            parser.decode(message)
        except (RecursionError, MemoryError, SystemError):
            raise
        except Exception:
            pass


def primus_control(data: bytes) -> None:
    """
    Any message, ``primus::`` control strings included, through a spark:
    nothing escapes ``messageReceived``.
    """
    from fakes import connect, make_primus

    primus, clock = make_primus(ping_interval=0)
    errors: list[Any] = []
    primus.on("log", lambda level, error: errors.append(error))
    spark, _ = connect(primus)
    spark.on("data", lambda data: None)
    text = _text(data)
    spark.messageReceived(text)
    spark.messageReceived("primus::" + text)
    spark.messageReceived('"primus::' + text.replace('"', "") + '"')
    spark.end()
    primus.destroy()
    clock.advance(1)
    from primus_tx._errors import ParserError

    assert all(isinstance(error, ParserError) for error in errors), errors


def engineio_packet(data: bytes) -> None:
    from primus_tx.transformers.engineio._packets import PacketError, decode_packet

    try:
        decode_packet(_text(data))
    except PacketError:
        pass


def engineio_payload(data: bytes) -> None:
    from primus_tx.transformers.engineio._packets import PacketError, decode_payload

    try:
        decode_payload(_text(data))
    except PacketError:
        pass


def sockjs_payload(data: bytes) -> None:
    from primus_tx.transformers.sockjs._frames import BrokenPayload, decode_payload

    try:
        decode_payload(data)
    except BrokenPayload:
        pass


def browserchannel_forward(data: bytes) -> None:
    """
    A BrowserChannel forward-channel body, as a form and as JSON.
    """
    from primus_tx.transformers.browserchannel._wire import BadData, parse_forward

    for kind in (None, b"application/json"):
        try:
            parse_forward(data, kind)
        except BadData:
            pass


def browserchannel_chunks(data: bytes) -> None:
    """
    What a BrowserChannel back channel delivers, as the Python client reads it.
    """
    from primus_tx.transformers.browserchannel._wire import parse_chunks

    try:
        parse_chunks(_text(data))
    except ValueError:
        pass


_TRANSFORMERS = ("websockets", "engine.io", "sockjs", "browserchannel", "faye")


def http_request(data: bytes) -> None:
    """
    Bytes from a client on a connection to a Site with Primus attached
    (the first byte picks the transformer, the second where the input is
    split into two reads): no exception escapes the channel and nothing is
    logged as a failure.
    """
    transformer = _TRANSFORMERS[data[0] % len(_TRANSFORMERS)] if data else "websockets"
    split = data[1] if len(data) > 1 else 0
    body = data[2:]
    from primus_tx import Primus

    clock = Clock()
    site = Site(Resource(), reactor=clock)
    with capturedLogs() as events:
        primus = Primus(site, reactor=clock, transformer=transformer, ping_interval=0)
        clock.advance(0)
        primus.on("connection", lambda spark: spark.on("data", spark.write))
        transport = StringTransport(peerAddress=IPv4Address("TCP", "10.0.0.1", 4000))
        protocol = site.buildProtocol(transport.getPeer())
        protocol.makeConnection(transport)
        for chunk in (body[:split], body[split:]):
            if chunk and not transport.disconnecting:
                protocol.dataReceived(chunk)
        clock.advance(1)
        protocol.connectionLost(None)
        primus.destroy()
        clock.advance(60)
    failures = [event for event in events if "log_failure" in event]
    assert not failures, [str(event["log_failure"].value) for event in failures]


def http_under_pathname(data: bytes) -> None:
    """
    :func:`http_request` with a well-formed start under the pathname, so
    the fuzzer spends its time past twisted.web's request-line parser.
    """
    prefixes = (
        b"GET /primus/?EIO=4&transport=polling",
        b"POST /primus/?EIO=4&transport=polling&sid=",
        b"POST /primus/000/s1/xhr",
        b"POST /primus/000/s1/xhr_send",
        b"GET /primus/websocket",
        b"OPTIONS /primus",
        b"POST /primus/bind?VER=8&RID=1",
        b"GET /primus/test?VER=8&MODE=init",
    )
    choice = data[0] if data else 0
    transformer = 3 if choice % len(prefixes) >= 6 else choice % 3
    http_request(
        bytes((transformer, data[1] if len(data) > 1 else 0)) + prefixes[choice % len(prefixes)] + data[2:]
    )


TARGETS: dict[str, Callable[[bytes], None]] = {
    "json_parser": json_parser,
    "every_parser": every_parser,
    "primus_control": primus_control,
    "engineio_packet": engineio_packet,
    "engineio_payload": engineio_payload,
    "sockjs_payload": sockjs_payload,
    "browserchannel_forward": browserchannel_forward,
    "browserchannel_chunks": browserchannel_chunks,
    "http_request": http_request,
    "http_under_pathname": http_under_pathname,
}
