# -*- test-case-name: tests.engineio.test_engineio_packets -*-
"""
Engine.IO v4 packets and polling payloads, shared by the server and the
Python client.

A packet is ``(type, data)``: ``type`` one of the digits below, ``data``
``None``, ``str`` or (message packets only) ``bytes``.  Over polling every
packet is text and binary messages travel as ``b<base64>``; payloads join
packets with the record separator ``\\x1e`` (v4 dropped v3's length
prefixes, so the separator must never appear inside text data).
"""

from __future__ import annotations

import binascii
from base64 import b64decode, b64encode
from typing import Optional, Union

__all__ = [
    "CLOSE",
    "MESSAGE",
    "NOOP",
    "OPEN",
    "PING",
    "PONG",
    "SEPARATOR",
    "UPGRADE",
    "PacketError",
    "decode_packet",
    "decode_payload",
    "encode_packet",
    "encode_payload",
]

OPEN = "0"
CLOSE = "1"
PING = "2"
PONG = "3"
MESSAGE = "4"
UPGRADE = "5"
NOOP = "6"

_TYPES = frozenset((OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP))

SEPARATOR = "\x1e"

Data = Optional[Union[str, bytes]]
Packet = tuple[str, Data]


class PacketError(ValueError):
    """
    Text that is not an Engine.IO v4 packet or payload; the peer that sent
    it is closed with a "parse error", as the reference implementation does.
    """


def encode_packet(kind: str, data: Data = None) -> str:
    """
    The text form of one packet (polling, or a WebSocket text frame);
    binary message data becomes ``b<base64>``.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        if kind != MESSAGE:
            raise PacketError("only message packets carry binary data")
        return "b" + b64encode(bytes(data)).decode("ascii")
    return kind if data is None else kind + data


def decode_packet(text: str) -> Packet:
    """
    One packet from its text form.

    :raises PacketError: for an empty string, an unknown type or bad base64.
    """
    if not text:
        raise PacketError("empty packet")
    kind = text[0]
    if kind == "b":
        try:
            return MESSAGE, b64decode(text[1:].encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise PacketError("invalid base64 in a binary packet") from None
    if kind not in _TYPES:
        raise PacketError(f"unknown packet type {kind!r}")
    return kind, text[1:] if len(text) > 1 or kind == MESSAGE else None


def encode_payload(packets: list[Packet]) -> str:
    """
    Packets joined for one polling request or response.
    """
    return SEPARATOR.join(encode_packet(kind, data) for kind, data in packets)


def decode_payload(text: str) -> list[Packet]:
    """
    Every packet of a polling body, all or nothing.

    :raises PacketError: when any packet is invalid.
    """
    return [decode_packet(part) for part in text.split(SEPARATOR)]
