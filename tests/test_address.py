"""
Client addresses behind proxies, as Primus's ``forwarded-for`` (1.1.0)
works them out; the facts come from docs/protocol/primus.rst, "Client addresses
behind proxies", and from that package's behaviour (it is installed as a test
peer under tests/js).
"""

from __future__ import annotations

import pytest

from primus_tx import Address
from primus_tx._address import forwarded

PEER = ("10.0.0.2", 5555, False)


def _resolve(
    headers: dict[str, str], whitelist: tuple[str, ...] = (), peer: tuple = PEER
) -> Address:
    ip, port, secure = peer
    return forwarded(ip, port, secure, headers, whitelist)


def test_no_proxy_headers_is_the_peer() -> None:
    assert _resolve({}) == Address("10.0.0.2", 5555, False)
    assert _resolve({"host": "x"}, peer=("192.0.2.1", 1, True)) == Address("192.0.2.1", 1, True)


def test_empty_peer_ip_defaults_to_localhost() -> None:
    assert _resolve({}, peer=("", 0, False)).ip == "127.0.0.1"


def test_spec_example() -> None:
    address = _resolve(
        {"x-forwarded-for": "13.3.37.1,12.12.12.12", "x-forwarded-port": "9083,1334"}
    )
    assert address == Address("13.3.37.1", 9083, False)


def test_spaces_around_entries() -> None:
    address = _resolve(
        {"x-forwarded-for": " 13.3.37.1 , 12.12.12.12", "x-forwarded-port": " 9083 ,1"}
    )
    assert (address.ip, address.port) == ("13.3.37.1", 9083)


@pytest.mark.parametrize("proto", ["https", "1"])
def test_secure_from_forwarded_proto(proto: str) -> None:
    address = _resolve(
        {"x-forwarded-for": "1.2.3.4", "x-forwarded-proto": proto, "x-forwarded-port": "443"}
    )
    assert address == Address("1.2.3.4", 443, True)


def test_http_proto_is_not_secure() -> None:
    assert _resolve({"x-forwarded-for": "1.2.3.4", "x-forwarded-proto": "http"}).secure is False


def test_missing_forwarded_port_is_zero() -> None:
    # forwarded-for: ``+port || 0`` with the (absent) x-forwarded-port; the
    # proxy's own port says nothing about the client.
    assert _resolve({"x-forwarded-for": "1.2.3.4"}) == Address("1.2.3.4", 0, False)


def test_ipv6() -> None:
    address = _resolve({"x-forwarded-for": "2001:db8::1, 10.0.0.1", "x-forwarded-port": "8080"})
    assert (address.ip, address.port) == ("2001:db8::1", 8080)


def test_ipv4_with_port_in_the_address_list() -> None:
    # forwarded-for splits "ip:port" entries and takes the port from them
    address = _resolve({"x-forwarded-for": "1.2.3.4:4444, 10.0.0.1"})
    assert (address.ip, address.port) == ("1.2.3.4", 4444)


@pytest.mark.parametrize(
    ("name", "port_name"),
    [
        ("fastly-client-ip", None),
        ("x-forwarded-for", "x-forwarded-port"),
        ("z-forwarded-for", "z-forwarded-port"),
        ("forwarded", "forwarded-port"),
        ("x-real-ip", "x-real-port"),
    ],
)
def test_every_proxy_header(name: str, port_name: str) -> None:
    headers = {name: "198.51.100.7"}
    if port_name:
        headers[port_name] = "6000"
    address = _resolve(headers)
    assert address.ip == "198.51.100.7"
    if port_name:
        assert address.port == 6000


def test_header_priority() -> None:
    headers = {
        "x-real-ip": "5.5.5.5",
        "forwarded": "4.4.4.4",
        "z-forwarded-for": "3.3.3.3",
        "x-forwarded-for": "2.2.2.2",
        "fastly-client-ip": "1.1.1.1",
    }
    assert _resolve(headers).ip == "1.1.1.1"
    del headers["fastly-client-ip"]
    assert _resolve(headers).ip == "2.2.2.2"
    del headers["x-forwarded-for"]
    assert _resolve(headers).ip == "3.3.3.3"
    del headers["z-forwarded-for"]
    assert _resolve(headers).ip == "4.4.4.4"
    del headers["forwarded"]
    assert _resolve(headers).ip == "5.5.5.5"


@pytest.mark.parametrize(
    "value", ["unknown", "1.2.3.4, not-an-ip", "1.2.3.4;proto=https", "999.1.1.1"]
)
def test_a_list_with_anything_but_ips_is_not_trusted(value: str) -> None:
    assert _resolve({"x-forwarded-for": value}) == Address("10.0.0.2", 5555, False)


def test_an_invalid_first_header_does_not_fall_through_to_later_ones() -> None:
    # forwarded-for stops at the first proxy header present: when it is not
    # a list of IPs the peer address is used, later headers are not tried.
    headers = {"x-forwarded-for": "unknown", "x-real-ip": "6.6.6.6"}
    assert _resolve(headers) == Address("10.0.0.2", 5555, False)


def test_unparsable_port_keeps_a_number() -> None:
    address = _resolve({"x-forwarded-for": "1.2.3.4", "x-forwarded-port": "http"})
    assert isinstance(address.port, int)


def test_whitelist_trusts_listed_proxies() -> None:
    headers = {"x-forwarded-for": "1.2.3.4, 10.0.0.9", "x-forwarded-port": "1000"}
    address = _resolve(headers, whitelist=("10.0.0.9", "10.0.0.2"))
    assert (address.ip, address.port) == ("1.2.3.4", 1000)


def test_whitelist_rejects_an_unlisted_intermediate_proxy() -> None:
    headers = {"x-forwarded-for": "1.2.3.4, 6.6.6.6"}
    assert _resolve(headers, whitelist=("10.0.0.2",)) == Address("10.0.0.2", 5555, False)


def test_whitelist_rejects_headers_from_an_untrusted_peer() -> None:
    # stricter than forwarded-for (which only checks the listed proxies):
    # an untrusted peer cannot choose its address by sending the header.
    headers = {"x-forwarded-for": "1.2.3.4"}
    assert _resolve(headers, whitelist=("10.0.0.9",)) == Address("10.0.0.2", 5555, False)


def test_address_is_a_named_tuple() -> None:
    address = Address("1.2.3.4", 80, True)
    assert address.ip == "1.2.3.4"
    assert address.port == 80
    assert address.secure is True
    ip, port, secure = address
    assert (ip, port, secure) == ("1.2.3.4", 80, True)
