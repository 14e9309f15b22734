"""
Which servers each scenario runs, and the ratios against the Autobahn
ceiling.
"""

from __future__ import annotations

import math

import pytest

from benchmarks import run


def _row(rate: float) -> dict[str, float]:
    return {"conns": 50, "size": 64, "rate": rate, "per_cpu_s": rate}


def test_ratios_against_subject_and_ceiling() -> None:
    """
    Every row but Autobahn's gets this/autobahn, every row but primus-tx's
    gets primus-tx/this, each the median of per-round ratios.
    """
    rounds = [
        {"primus-tx": [_row(800.0)], "autobahn": [_row(1000.0)], "primus-tx-eio": [_row(400.0)]},
        {"primus-tx": [_row(300.0)], "autobahn": [_row(500.0)], "primus-tx-eio": [_row(200.0)]},
        {"primus-tx": [_row(1400.0)], "autobahn": [_row(2000.0)], "primus-tx-eio": [_row(900.0)]},
    ]
    table = {r["server"]: r for r in run.aggregate("S1", rounds)}
    eio = table["primus-tx-eio"]
    assert math.isclose(eio["this/autobahn rate"], 0.4)  # 0.4, 0.4, 0.45
    assert math.isclose(eio["primus-tx/this rate"], 1400.0 / 900.0)  # 2.0, 1.5, 1.556
    assert math.isclose(table["primus-tx"]["this/autobahn rate"], 0.7)  # 0.8, 0.6, 0.7
    assert "primus-tx/this rate" not in table["primus-tx"]
    assert "this/autobahn rate" not in table["autobahn"]
    assert math.isclose(table["autobahn"]["primus-tx/this per_cpu_s"], 0.7)


def test_no_ceiling_ratio_without_autobahn() -> None:
    rounds = [{"primus-tx": [_row(800.0)], "primus-tx-sockjs": [_row(400.0)]}]
    table = {r["server"]: r for r in run.aggregate("S1", rounds)}
    assert "this/autobahn rate" not in table["primus-tx-sockjs"]
    assert table["primus-tx-sockjs"]["primus-tx/this rate"] == 2.0


def test_transformer_servers_are_opt_in() -> None:
    """
    The default lists stay as they were (so --quick keeps its time budget);
    naming a transformer server adds it to S1-S4 but not to S5.
    """
    assert run.servers_for("S1", None) == ("primus-tx", "autobahn", "node-primus", "socketio")
    wanted = {"primus-tx", "primus-tx-eio", "primus-tx-sockjs", "autobahn"}
    assert run.servers_for("S1", wanted) == (
        "primus-tx",
        "autobahn",
        "primus-tx-eio",
        "primus-tx-sockjs",
    )
    assert run.servers_for("S3", {"primus-tx-sockjs-raw"}) == ("primus-tx-sockjs-raw",)
    assert run.servers_for("S5", wanted) == ("primus-tx",)


def test_unknown_server_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run.main(["--quick", "--servers", "primus-tx,primus-tx-eoi"])
    assert "primus-tx-eoi" in capsys.readouterr().err


def test_rooms_scenario_compares_with_primus_tx_rooms() -> None:
    """
    S6 runs the three rooms servers; its ratios are against primus-tx with
    the rooms plugin.
    """
    assert run.servers_for("S6", None) == ("primus-tx-rooms", "node-primus-rooms", "socketio-rooms")
    row = {"target": "one room", "sparks": 100, "last_ms": 1.0, "deliveries_per_cpu_s": 0.0}
    rounds = [
        {
            "primus-tx-rooms": [{**row, "deliveries_per_cpu_s": 300.0}],
            "socketio-rooms": [{**row, "deliveries_per_cpu_s": 100.0}],
        }
    ]
    table = {r["server"]: r for r in run.aggregate("S6", rounds)}
    assert table["socketio-rooms"]["primus-tx-rooms/this deliveries_per_cpu_s"] == 3.0
    assert "primus-tx-rooms/this deliveries_per_cpu_s" not in table["primus-tx-rooms"]


def test_ratios_against_node_primus() -> None:
    """
    The goals are ratios against Node Primus too: every other row gets
    this/node-primus, per round.
    """
    rounds = [
        {
            "primus-tx": [_row(400.0)],
            "node-primus": [_row(1000.0)],
            "primus-tx@pypy3": [_row(1100.0)],
        },
        {
            "primus-tx": [_row(300.0)],
            "node-primus": [_row(500.0)],
            "primus-tx@pypy3": [_row(600.0)],
        },
    ]
    table = {r["server"]: r for r in run.aggregate("S1", rounds)}
    assert math.isclose(table["primus-tx@pypy3"]["this/node-primus rate"], (1.1 + 1.2) / 2)
    assert math.isclose(table["primus-tx"]["this/node-primus rate"], (0.4 + 0.6) / 2)
    assert "this/node-primus rate" not in table["node-primus"]


def test_python_adds_primus_tx_under_that_interpreter() -> None:
    """
    ``--python`` registers primus-tx's echo server under that interpreter,
    named after it (or after its virtualenv), and every scenario runs it
    beside its defaults.
    """
    from benchmarks import _procs

    name = _procs.interpreter_server("/usr/bin/pypy3")
    venv = _procs.interpreter_server("/tmp/pypyvenv/bin/python", "uws")
    try:
        assert (name, venv) == ("primus-tx@pypy3", "primus-tx-uws@pypyvenv")
        assert _procs.SERVERS[venv][0][-2:] == ["--transformer", "uws"]
        command, proto = _procs.SERVERS[name]
        assert command[0] == "/usr/bin/pypy3"
        assert command[1].endswith("primus_tx_echo.py")
        assert proto == "primus"
        assert run.servers_for("S5", None, (name,)) == ("primus-tx", "node-primus", name)
        assert run.servers_for("S1", {"primus-tx"}, (name,)) == ("primus-tx", name)
    finally:
        for added in (name, venv):
            _procs.SERVERS.pop(added, None)
            _procs.PRIMUS_TX_SERVERS.discard(added)


def test_set_rejects_unknown_entries(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run.main(["--quick", "--set", "s2_stpes=[1]"])
    assert "s2_stpes" in capsys.readouterr().err
