"""
The Engine.IO v4 packet and payload codec shared by the server and the
Python client.
"""

from __future__ import annotations

import pytest
from zope.interface.verify import verifyObject

from primus_tx.interfaces import INamedTransformer, IParser
from primus_tx.transformers import find_transformer
from primus_tx.transformers.engineio import transformer
from primus_tx.transformers.engineio._packets import (
    PacketError,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
)
from primus_tx.transformers.engineio.client import EngineIOClientTransport
from primus_tx.transformers.engineio.passthrough import passthrough


def test_text_packets_round_trip():
    for packet in [("4", "hello"), ("4", ""), ("2", None), ("2", "probe"), ("3", "probe"), ("6", None), ("1", None)]:
        assert decode_packet(encode_packet(*packet)) == packet


def test_binary_is_base64_with_b():
    assert encode_packet("4", b"\x01\x02\x03\x04") == "bAQIDBA=="
    assert decode_packet("bAQIDBA==") == ("4", b"\x01\x02\x03\x04")
    assert decode_packet("b") == ("4", b"")


def test_payloads_use_the_record_separator():
    packets = [("4", "hello"), ("4", b"\x01\x02\x03\x04"), ("2", None)]
    assert encode_payload(packets) == "4hello\x1ebAQIDBA==\x1e2"
    assert decode_payload("4hello\x1ebAQIDBA==\x1e2") == packets


@pytest.mark.parametrize("text", ["", "abc", "7x", "bnot base64!", "b\u00e9"])
def test_invalid_packets(text):
    with pytest.raises(PacketError):
        decode_packet(text)


def test_a_payload_is_all_or_nothing():
    with pytest.raises(PacketError):
        decode_payload("4ok\x1e\x1e4ok")


def test_only_messages_carry_binary():
    with pytest.raises(PacketError):
        encode_packet("2", b"x")


def test_the_transformer_is_registered_and_provides_the_interface():
    assert find_transformer("engine.io") is transformer
    assert find_transformer("Engine.IO") is transformer
    verifyObject(INamedTransformer, transformer)
    assert transformer.client() is EngineIOClientTransport
    assert "function client(primus)" in transformer.library()


def test_passthrough_parser():
    verifyObject(IParser, passthrough)
    assert passthrough.encode("x") == "x"
    assert passthrough.encode(bytearray(b"x")) == b"x"
    assert passthrough.decode(b"\x00") == b"\x00"
    with pytest.raises(TypeError):
        passthrough.encode({"a": 1})
