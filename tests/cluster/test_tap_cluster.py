"""
``twistd primus --redis``: the command line of the cluster plugin.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.python import usage

from primus_tx.tap import Options, _address_of_listen, makeService


def parse(*argv: str) -> Options:
    options = Options()
    options.parseOptions(list(argv))
    return options


def test_redis_needs_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRIMUS_CLUSTER_PASSWORD", raising=False)
    with pytest.raises(usage.UsageError, match="password of your choosing"):
        parse("--listen", "tcp:8080", "--redis", "redis://127.0.0.1:6379/0")


def test_password_from_environment_or_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PRIMUS_CLUSTER_PASSWORD", "from env")
    options = parse("--listen", "tcp:8080:interface=127.0.0.1", "--redis", "redis://r:6379/1")
    assert options["cluster"] == {
        "redis": "redis://r:6379/1", "password": "from env", "address": "http://127.0.0.1:8080",
    }  # fmt: skip
    secret = tmp_path / "secret"
    secret.write_text("from file\n")
    options = parse(
        "--listen", "tcp:8080", "--redis", "redis://r", "--cluster-password-file", str(secret),
        "--cluster-address", "http://node-1.example:8080",
    )  # fmt: skip
    assert options["cluster"]["password"] == "from file"
    assert options["cluster"]["address"] == "http://node-1.example:8080"
    primus_service = makeService(options).getServiceNamed("primus")
    assert primus_service.options["cluster"] == options["cluster"]  # type: ignore[attr-defined]
    assert "cluster" in primus_service.options["plugin"]  # type: ignore[attr-defined]


def test_bad_redis_url_and_unknown_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIMUS_CLUSTER_PASSWORD", "x")
    with pytest.raises(usage.UsageError, match="--redis"):
        parse("--listen", "tcp:8080", "--redis", "http://r:6379")
    with pytest.raises(usage.UsageError, match="--cluster-address"):
        parse("--listen", "unix:/tmp/p.sock", "--redis", "redis://r")


def test_cluster_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIMUS_CLUSTER_PASSWORD", "x")
    options = parse(
        "--listen", "tcp:8080:interface=127.0.0.1", "--redis", "redis://r",
        "--cluster-mode", "primus-cluster",
    )  # fmt: skip
    assert options["cluster"]["mode"] == "primus-cluster"
    with pytest.raises(usage.UsageError, match="--cluster-mode"):
        parse("--listen", "tcp:8080", "--redis", "redis://r", "--cluster-mode", "socket.io")


def test_address_of_listen() -> None:
    assert _address_of_listen("tcp:8080:interface=10.0.0.5") == "http://10.0.0.5:8080"
    assert _address_of_listen("ssl:port=8443:interface=10.0.0.5:privateKey=k") == (
        "https://10.0.0.5:8443"
    )
    assert _address_of_listen("tcp:0") is None
    assert _address_of_listen("unix:/run/p.sock") is None
    assert _address_of_listen("tcp:80").startswith("http://")  # type: ignore[union-attr]
