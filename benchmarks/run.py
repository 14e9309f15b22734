"""
The benchmark runner: ``python -m benchmarks [--quick] [--scenarios S1,S2]``.

Each scenario starts every server under test and its load generator in
the same run, round after round (the server order is shuffled each round),
and reports medians over the rounds plus per-round ratios against
primus-tx and against raw Autobahn.

primus-tx's other transformers (``primus-tx-eio``, ``primus-tx-sockjs``,
``primus-tx-sockjs-raw``) and, in S1, its binary parsers
(``primus-tx-msgpack``, ``primus-tx-binary``) run only when named:
``--servers primus-tx,primus-tx-eio,primus-tx-sockjs,autobahn``, as do the
HTTP-only transports (``primus-tx-eio-polling``, ``primus-tx-bc``: S1 and S2
only).  ``--python PATH`` adds primus-tx under another interpreter
(``--python pypy3``) as a row named ``primus-tx@pypy3`` beside the others,
in every echo scenario.  Results print as a table and go to
``benchmarks/results/`` as JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import sys
import time
from typing import Any, Callable, Optional

from benchmarks._procs import (
    HERE,
    SERVERS,
    LoadGen,
    Server,
    interpreter_server,
    node_available,
    shared_redis,
)
from benchmarks._stats import median, merge, percentile_ms, ratio, slope

SUBJECT = "primus-tx"
#: The ceiling every row is also compared with (``this/autobahn``).
CEILING = "autobahn"
#: Every row is also compared with these (``this/node-primus``): the
#: goals are ratios against them.
REFERENCES = (CEILING, "node-primus")


class Progress:
    """
    One self-overwriting status line on stderr for long runs.
    """

    def __init__(self) -> None:
        self.prefix = ""
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()

    def __call__(self, text: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f}s] {self.prefix} {text}"
        if self.tty:
            sys.stderr.write("\r\x1b[K" + line[:150])
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


# -- scenarios -----------------------------------------------------------------


def s1_echo(name: str, cfg: dict[str, Any], progress: Progress) -> list[dict[str, Any]]:
    """
    S1: closed-loop echo over 50 and 500 connections, 64 B and 1 KB JSON.
    """
    rows = []
    with Server(name) as server, LoadGen(server, progress) as gen:
        gen.call(cmd="connect", n=max(cfg["s1_conns"]), timeout=120)
        for conns in cfg["s1_conns"]:
            for size in cfg["s1_sizes"]:
                progress(f"echo {conns} x {size} B")
                marks: dict[str, tuple[float, float]] = {}

                def mark(which: str, marks: dict[str, tuple[float, float]] = marks) -> None:
                    marks[which] = (server.stat.cpu(), time.monotonic())

                result = gen.call(
                    cmd="echo",
                    conns=conns,
                    size=size,
                    warmup=cfg["warmup"],
                    duration=cfg["duration"],
                    on_mark=mark,
                    timeout=cfg["duration"] + 60,
                )
                hist = merge([result.pop("hist")])
                cpu = marks["stop"][0] - marks["start"][0]
                wall = marks["stop"][1] - marks["start"][1]
                rows.append(
                    {
                        "conns": conns,
                        "size": size,
                        "rate": result["rate"],
                        "p50_ms": percentile_ms(hist, 0.5),
                        "p99_ms": percentile_ms(hist, 0.99),
                        "server_cpu": cpu / wall,
                        "per_cpu_s": result["messages"] / cpu if cpu else None,
                        "loadgen_cpu": result["loadgen_cpu"],
                        "bad": result["bad"],
                        "open": result["conns"],
                    }
                )
    return rows


def _settle(seconds: float) -> None:
    time.sleep(seconds)


def s2_memory(name: str, cfg: dict[str, Any], progress: Progress) -> list[dict[str, Any]]:
    """
    S2: RSS slope per idle connection, heartbeats running and answered.
    """
    points = []
    with Server(name, ping=cfg["s2_ping"]) as server, LoadGen(server, progress) as gen:
        rss0 = server.stat.rss()
        total = 0
        for target in cfg["s2_steps"]:
            reply = gen.call(cmd="connect", n=target - total, concurrency=200, timeout=300)
            total = reply["open"]
            gen.call(cmd="idle", seconds=cfg["s2_idle"], timeout=cfg["s2_idle"] + 30)
            points.append((total, server.stat.rss()))
            progress(f"{total} idle: RSS {points[-1][1] / 2**20:.1f} MiB")
        gen.call(cmd="close", timeout=120)
    per_conn = slope([p[0] for p in points], [p[1] for p in points])
    return [
        {
            "bytes_per_conn": per_conn,
            "points": points,
            "rss_empty": rss0,
            "open": points[-1][0] if points else 0,
        }
    ]


def s3_broadcast(name: str, cfg: dict[str, Any], progress: Progress) -> list[dict[str, Any]]:
    """
    S3: one broadcast to N sparks: time to the last arrival, server CPU per
    delivery.
    """
    rows = []
    with Server(name) as server, LoadGen(server, progress) as gen:
        total = 0
        for target in cfg["s3_steps"]:
            reply = gen.call(cmd="connect", n=target - total, concurrency=200, timeout=300)
            total = reply["open"]
            times = []
            cpu = 0.0
            delivered = 0
            for i in range(cfg["s3_repeats"]):
                before = server.stat.cpu()
                result = gen.call(
                    cmd="broadcast",
                    id=1000 * target + i,
                    trigger=True,
                    size=64,
                    wait=30,
                    timeout=60,
                )
                cpu += server.stat.cpu() - before
                delivered += result["received"]
                if result["received"] == result["expected"]:
                    times.append((int(result["last_ns"]) - int(result["sent_ns"])) / 1e6)
                _settle(0.2)
            progress(f"broadcast to {total}: {median(times)} ms")
            rows.append(
                {
                    "sparks": total,
                    "last_ms": median(times),
                    "cpu_us_per_delivery": 1e6 * cpu / delivered if delivered else None,
                    "complete": len(times),
                    "repeats": cfg["s3_repeats"],
                }
            )
        gen.call(cmd="close", timeout=120)
    return rows


def s4_churn(name: str, cfg: dict[str, Any], progress: Progress) -> list[dict[str, Any]]:
    """
    S4: connect, open, one echo, close, in ``s4_concurrency`` loops spread
    over ``s4_generators`` generator processes (one Node process nearly
    saturates against Node Primus); RSS and fds before, after one period
    and after a second.
    """
    with Server(name) as server:
        gens = [LoadGen(server, progress) for _ in range(cfg["s4_generators"])]
        try:
            _settle(0.5)
            rss_before, fds_before = server.stat.rss(), server.stat.fds()
            periods = []
            share = max(1, cfg["s4_concurrency"] // len(gens))
            for _ in range(2):
                for gen in gens:
                    gen.send(cmd="churn", concurrency=share, duration=cfg["s4_duration"])
                results = [gen.read(cfg["s4_duration"] + 60) for gen in gens]
                _settle(cfg["s4_settle"])
                periods.append(
                    (
                        sum(r["rate"] for r in results),
                        sum(r["errors"] for r in results),
                        max(r["loadgen_cpu"] for r in results),
                        server.stat.rss(),
                        server.stat.fds(),
                    )
                )
        finally:
            for gen in gens:
                gen.stop()
    (rate1, err1, lg1, rss1, fds1), (rate2, err2, lg2, rss2, fds2) = periods
    return [
        {
            "rate": median([rate1, rate2]),
            "errors": err1 + err2,
            "rss_before": rss_before,
            "rss_after_1": rss1,
            "rss_after_2": rss2,
            "rss_growth_2nd": rss2 - rss1,
            "fds_before": fds_before,
            "fds_after_1": fds1,
            "fds_after_2": fds2,
            "loadgen_cpu": max(lg1, lg2),
        }
    ]


def s5_heartbeat(name: str, cfg: dict[str, Any], progress: Progress) -> list[dict[str, Any]]:
    """
    S5: CPU of the heartbeat at N idle connections.  The sweep runs every
    ``s5_fast`` seconds against a twin server with heartbeats off; the
    difference per sweep, divided by 30 s, is the share of a core the
    default interval costs.
    """
    cpu = {}
    for ping in (0.0, cfg["s5_fast"]):
        with Server(name, ping=ping) as server, LoadGen(server, progress) as gen:
            gen.call(cmd="connect", n=cfg["s5_conns"], concurrency=200, timeout=300)
            _settle(1.0)
            before = server.stat.cpu()
            start = time.monotonic()
            gen.call(cmd="idle", seconds=cfg["s5_window"], timeout=cfg["s5_window"] + 30)
            cpu[ping] = (server.stat.cpu() - before) / (time.monotonic() - start)
            progress(f"ping {ping}s: {100 * cpu[ping]:.2f}% of a core")
            gen.call(cmd="close", timeout=120)
    per_sweep = (cpu[cfg["s5_fast"]] - cpu[0.0]) * cfg["s5_fast"]
    return [
        {
            "conns": cfg["s5_conns"],
            "idle_cpu": cpu[0.0],
            "fast_cpu": cpu[cfg["s5_fast"]],
            "cpu_ms_per_sweep": 1000 * per_sweep,
            "core_share_at_30s": per_sweep / 30.0,
        }
    ]


def s6_rooms(name: str, cfg: dict[str, Any], progress: Progress) -> list[dict[str, Any]]:
    """
    S6: ``s6_conns`` sparks in ``s6_rooms`` rooms (connection i in room
    ``r<i % rooms>``); broadcasts to one room and to every room, each one
    waited for until the last member has it.  The server's CPU over all
    the broadcasts of a kind gives deliveries per CPU second (one room's
    broadcast is too small to time alone).
    """
    rows = []
    rooms = [f"r{i}" for i in range(cfg["s6_rooms"])]
    with Server(name) as server, LoadGen(server, progress) as gen:
        total = gen.call(cmd="connect", n=cfg["s6_conns"], concurrency=200, timeout=300)["open"]
        gen.call(cmd="join", rooms=cfg["s6_rooms"], timeout=300)
        _settle(0.5)
        for target, repeats in (
            ("one room", cfg["s6_repeats_one"]),
            ("all rooms", cfg["s6_repeats_all"]),
        ):
            times = []
            delivered = 0
            complete = 0
            before = server.stat.cpu()
            for i in range(repeats):
                command: dict[str, Any] = (
                    {"room": rooms[1]} if target == "one room" else {"rooms": rooms}
                )
                result = gen.call(
                    cmd="broadcast",
                    id=7_000_000 + 1000 * len(rows) + i,
                    trigger=True,
                    size=64,
                    wait=30,
                    timeout=60,
                    **command,
                )
                delivered += result["received"]
                if result["received"] == result["expected"]:
                    complete += 1
                    times.append((int(result["last_ns"]) - int(result["sent_ns"])) / 1e6)
            cpu = server.stat.cpu() - before
            progress(f"{target}: {delivered} deliveries, {cpu:.2f} CPU s")
            rows.append(
                {
                    "target": target,
                    "sparks": total,
                    "rooms": cfg["s6_rooms"],
                    "last_ms": median(times),
                    "deliveries_per_cpu_s": delivered / cpu if cpu else None,
                    "cpu_us_per_delivery": 1e6 * cpu / delivered if delivered else None,
                    "complete": complete,
                    "repeats": repeats,
                }
            )
        gen.call(cmd="close", timeout=120)
    return rows


def s7_cluster(name: str, cfg: dict[str, Any], progress: Progress) -> list[dict[str, Any]]:
    """
    S7: three processes of one server sharing the run's Redis (primus-tx's
    cluster plugin, python-socketio's Redis manager), connections spread
    over them; one broadcast from a client of the first reaches every
    client of all three: time to the last arrival, the three servers' CPU
    per delivery.  Then the same for a room write: connection i of each
    process is in room ``r<i % s7_rooms>``, and a write to one room from
    the first process reaches its members on all three (the servers run
    with their rooms: the rooms plugin beside the cluster plugin,
    python-socketio's rooms through its Redis manager).
    """
    redis = shared_redis()
    servers = [Server(_WITH_ROOMS.get(name, name), redis=redis) for _ in range(3)]
    gens: list[LoadGen] = []
    try:
        gens = [LoadGen(server, progress) for server in servers]
        share = max(1, cfg["s7_conns"] // 3)
        for gen in gens:
            gen.call(cmd="connect", n=share, concurrency=200, timeout=300)
        _settle(1.0)
        rows = []
        for target, command in (("everyone", {}), ("one room", {"room": "r1"})):
            if command:
                for gen in gens:
                    gen.call(cmd="join", rooms=cfg["s7_rooms"], timeout=300)
                _settle(0.5)
            times = []
            cpu = 0.0
            delivered = 0
            for i in range(cfg["s7_repeats"]):
                before = sum(server.stat.cpu() for server in servers)
                ident = 7000 + 100 * len(rows) + i
                for gen in gens[1:]:
                    gen.call(
                        cmd="broadcast", id=ident, trigger=False, size=64, wait=30, timeout=60,
                        **command,
                    )  # fmt: skip
                first = gens[0].call(
                    cmd="broadcast", id=ident, trigger=True, size=64, wait=30, timeout=60,
                    **command,
                )  # fmt: skip
                results = [first] + [gen.read(60) for gen in gens[1:]]
                cpu += sum(server.stat.cpu() for server in servers) - before
                received = sum(r["received"] for r in results)
                delivered += received
                if received == sum(r["expected"] for r in results):
                    last = max(int(r["last_ns"]) for r in results)
                    times.append((last - int(first["sent_ns"])) / 1e6)
                _settle(0.2)
            progress(f"cluster {target}, {delivered} deliveries: {median(times)} ms")
            rows.append(
                {
                    "target": target,
                    "sparks": 3 * share,
                    "last_ms": median(times),
                    "cpu_us_per_delivery": 1e6 * cpu / delivered if delivered else None,
                    "complete": len(times),
                    "repeats": cfg["s7_repeats"],
                }
            )
        for gen in gens:
            gen.call(cmd="close", timeout=120)
        return rows
    finally:
        for gen in gens:
            gen.stop()
        for server in servers:
            server.stop()


#: The servers S7 starts for a name: the same with their rooms, so that
#: the room write can be measured on the cluster too.
_WITH_ROOMS = {"primus-tx": "primus-tx-rooms", "socketio": "socketio-rooms"}

SCENARIOS: dict[str, tuple[Callable[..., list[dict[str, Any]]], tuple[str, ...]]] = {
    "S1": (s1_echo, ("primus-tx", "autobahn", "node-primus", "socketio")),
    "S2": (s2_memory, ("primus-tx", "autobahn", "node-primus", "socketio")),
    "S3": (s3_broadcast, ("primus-tx", "autobahn", "node-primus", "socketio")),
    "S4": (s4_churn, ("primus-tx", "autobahn", "node-primus", "socketio")),
    "S5": (s5_heartbeat, ("primus-tx", "node-primus")),
    "S6": (s6_rooms, ("primus-tx-rooms", "node-primus-rooms", "socketio-rooms")),
    "S7": (s7_cluster, ("primus-tx", "socketio")),
}

#: The server the others are compared with, where it is not primus-tx.
SUBJECTS = {"S6": "primus-tx-rooms"}

#: primus-tx on its other transformers, same echo application.  Opt-in
#: (``--servers``), because six servers no longer fit ``--quick`` into two
#: minutes; S5 measures Primus's heartbeat, which they share.
TRANSFORMER_SERVERS = ("primus-tx-uws", "primus-tx-faye", "primus-tx-eio", "primus-tx-sockjs", "primus-tx-sockjs-raw")
#: primus-tx with its binary parsers (websockets), for S1's echo rows: their
#: ``this/primus-tx`` ratio is the rate beside the JSON parser's.
PARSER_SERVERS = ("primus-tx-msgpack", "primus-tx-binary")
#: The HTTP-only transports (Engine.IO long-polling, BrowserChannel), also
#: opt-in: echo and memory only.
HTTP_SERVERS = ("primus-tx-eio-polling", "primus-tx-bc")
OPT_IN: dict[str, tuple[str, ...]] = {s: TRANSFORMER_SERVERS for s in ("S1", "S2", "S3", "S4")}
#: What the cluster plugin costs one node: S1 with ``--servers primus-tx,primus-tx-cluster``;
#: what counting every message costs with the metrics plugin: ``primus-tx-metrics`` (the
#: target is at least 0.95 of primus-tx's rate).
OPT_IN["S1"] = (
    *TRANSFORMER_SERVERS, *PARSER_SERVERS, *HTTP_SERVERS, "primus-tx-cluster", "primus-tx-metrics"
)
OPT_IN["S2"] = TRANSFORMER_SERVERS + HTTP_SERVERS
#: The heartbeat is Primus's whatever the transport, but the engine under
#: it sends the pings: Autobahn's can be measured too.
OPT_IN["S5"] = ("primus-tx-uws", "primus-tx-faye")


def servers_for(
    scenario: str, wanted: Optional[set[str]], extra: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """
    The servers a scenario runs: its defaults, or those of its defaults and
    opt-in servers that ``--servers`` named; then ``extra`` (primus-tx's
    echo server under the interpreters ``--python`` named), which every
    echo scenario runs (not S6, whose servers are rooms servers).
    """
    defaults = SCENARIOS[scenario][1]
    if scenario in SUBJECTS:
        extra = ()
    if wanted is None:
        return defaults + extra
    return tuple(s for s in defaults + OPT_IN.get(scenario, ()) if s in wanted) + extra


QUICK: dict[str, Any] = {
    "rounds": 2,
    "warmup": 0.5,
    "duration": 1.5,
    "s1_conns": [50, 500],
    "s1_sizes": [64, 1024],
    "s2_steps": [500, 1000, 1500, 2000],
    "s2_ping": 1.0,
    "s2_idle": 1.2,
    "s3_steps": [1000],
    "s3_repeats": 3,
    "s4_concurrency": 10,
    "s4_generators": 2,
    "s4_duration": 2.0,
    "s4_settle": 0.5,
    "s5_conns": 1000,
    "s5_fast": 0.5,
    "s5_window": 2.0,
    "s6_conns": 1000,
    "s6_rooms": 100,
    "s6_repeats_one": 200,
    "s6_repeats_all": 5,
    "s7_conns": 300,
    "s7_repeats": 3,
    "s7_rooms": 10,
}

FULL: dict[str, Any] = {
    "rounds": 3,
    "warmup": 1.0,
    "duration": 4.0,
    "s1_conns": [50, 500],
    "s1_sizes": [64, 1024],
    "s2_steps": [2000, 4000, 6000, 8000, 10000],
    "s2_ping": 2.0,
    "s2_idle": 2.5,
    "s3_steps": [1000, 5000, 10000],
    "s3_repeats": 5,
    "s4_concurrency": 20,
    "s4_generators": 2,
    "s4_duration": 5.0,
    "s4_settle": 1.0,
    "s5_conns": 10000,
    "s5_fast": 1.0,
    "s5_window": 8.0,
    "s6_conns": 10000,
    "s6_rooms": 100,
    "s6_repeats_one": 400,
    "s6_repeats_all": 20,
    "s7_conns": 3000,
    "s7_repeats": 5,
    "s7_rooms": 10,
}

QUICK_SCENARIOS = ("S1",)

# -- aggregation and report ------------------------------------------------------

# scenario -> (row key fields, metrics to report, metric used for ratios)
METRICS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "S1": (
        ("conns", "size"),
        ("rate", "p50_ms", "p99_ms", "server_cpu", "per_cpu_s", "loadgen_cpu"),
        ("rate", "per_cpu_s"),
    ),
    "S2": ((), ("bytes_per_conn", "open"), ("bytes_per_conn",)),
    "S3": (("sparks",), ("last_ms", "cpu_us_per_delivery"), ("last_ms", "cpu_us_per_delivery")),
    "S4": (
        (),
        ("rate", "errors", "rss_growth_2nd", "fds_before", "fds_after_2", "loadgen_cpu"),
        ("rate",),
    ),
    "S5": (("conns",), ("cpu_ms_per_sweep", "core_share_at_30s"), ("cpu_ms_per_sweep",)),
    "S6": (
        ("target", "sparks"),
        ("last_ms", "deliveries_per_cpu_s", "cpu_us_per_delivery", "complete"),
        ("deliveries_per_cpu_s", "last_ms"),
    ),
    "S7": (
        ("target", "sparks"),
        ("last_ms", "cpu_us_per_delivery", "complete"),
        ("last_ms", "cpu_us_per_delivery"),
    ),
}


def aggregate(scenario: str, rounds: list[dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """
    Medians over rounds per (server, key), and medians of per-round ratios
    primus-tx / peer and peer / Autobahn for the ratio metrics.
    """
    keys, metrics, ratio_metrics = METRICS[scenario]
    subject = SUBJECTS.get(scenario, SUBJECT)
    table: dict[tuple[Any, ...], dict[str, Any]] = {}
    for per_server in rounds:
        for server, rows in per_server.items():
            for row in rows:
                key = (server,) + tuple(row[k] for k in keys)
                entry = table.setdefault(
                    key,
                    {
                        "server": server,
                        **{k: row[k] for k in keys},
                        "_samples": {m: [] for m in metrics},
                    },
                )
                for m in metrics:
                    entry["_samples"][m].append(row.get(m))
    for entry in table.values():
        for m, values in entry["_samples"].items():
            entry[m] = median(values)
    for key, entry in table.items():
        mine = table.get((subject,) + key[1:])
        for m in ratio_metrics:
            if mine is not None and entry["server"] != subject:
                per_round = [ratio(a, b) for a, b in zip(mine["_samples"][m], entry["_samples"][m])]
                entry[f"{subject}/this {m}"] = median(per_round)
            for reference in REFERENCES:
                other = table.get((reference,) + key[1:])
                if other is None or entry["server"] == reference:
                    continue
                per_round = [
                    ratio(a, b) for a, b in zip(entry["_samples"][m], other["_samples"][m])
                ]
                entry[f"this/{reference} {m}"] = median(per_round)
    out = []
    for entry in table.values():
        entry.pop("_samples")
        out.append(entry)
    out.sort(
        key=lambda e: tuple(e.get(k) or 0 for k in keys) + (e["server"] != subject, e["server"])
    )
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}"
    return str(value)


def print_table(scenario: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    cells = [[_fmt(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print(f"\n{scenario}")
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for r in cells:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths)))


def rst(report: dict[str, Any]) -> str:
    """
    A results file as reST tables, for docs/performance.rst.
    """
    m = report["machine"]
    out = [
        f"Run of {report['started']} ({report['mode']} mode, {report['config']['rounds']} rounds, "
        f"{report.get('seconds', '?')} s) on {m['cores']} x {m['cpu']}, "
        f"{m['implementation']} {m['python']}, {m['platform']}; load average at start "
        f"{', '.join(f'{x:.1f}' for x in m['loadavg'])}.",
        "",
    ]
    for scenario, data in report["scenarios"].items():
        rows = data["rows"]
        if not rows:
            continue
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns and k != "points")
        out += [f".. list-table:: {scenario}", "   :header-rows: 1", ""]
        for i, cells in enumerate([columns] + [[_fmt(r.get(c)) for c in columns] for r in rows]):
            for j, cell in enumerate(cells):
                out.append(("   * - " if j == 0 else "     - ") + (cell if i else f"``{cell}``"))
        out.append("")
    return "\n".join(out)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "loadavg": os.getloadavg(),
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, under 2 minutes")
    parser.add_argument(
        "--scenarios", default=None, help="comma-separated, e.g. S1,S3 (default: all; --quick: S1)"
    )
    parser.add_argument(
        "--servers",
        default=None,
        help="comma-separated servers (default: all but the opt-in "
        + ", ".join((*TRANSFORMER_SERVERS, *HTTP_SERVERS, "primus-tx-metrics"))
        + ")",
    )
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="PATH",
        help="also run primus-tx under this interpreter (e.g. pypy3 or a virtualenv's "
        "bin/python, with primus-tx's dependencies installed); repeatable",
    )
    parser.add_argument(
        "--python-transformers",
        default="websockets",
        metavar="NAMES",
        help="the WebSocket transformers each --python row runs (comma-separated, "
        "e.g. websockets,uws: one row each)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="override one configuration entry, e.g. --set 's2_steps=[2000,10000,19000]' "
        "or --set s5_conns=19000",
    )
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--duration", type=float, default=None, help="S1 seconds per measurement")
    parser.add_argument("--seed", type=int, default=None, help="server order shuffle seed")
    parser.add_argument("--output", default=None, help="JSON file (default benchmarks/results/)")
    parser.add_argument(
        "--rst", default=None, metavar="JSON", help="print a results file as reST tables and exit"
    )
    args = parser.parse_args(argv)
    if args.rst:
        with open(args.rst) as f:
            print(rst(json.load(f)))
        return 0

    cfg: dict[str, Any] = dict(QUICK if args.quick else FULL)
    if args.rounds:
        cfg["rounds"] = args.rounds
    if args.duration:
        cfg["duration"] = args.duration
    for setting in args.set:
        name, _, value = setting.partition("=")
        if name not in cfg:
            parser.error(f"--set: unknown entry {name!r}; known: {', '.join(sorted(cfg))}")
        try:
            cfg[name] = json.loads(value)
        except ValueError:
            parser.error(f"--set {name}: {value!r} is not JSON")
    if args.scenarios:
        scenarios = [s.strip().upper() for s in args.scenarios.split(",")]
    else:
        scenarios = list(QUICK_SCENARIOS if args.quick else SCENARIOS)
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; available: {', '.join(SCENARIOS)}")
    wanted = {s.strip() for s in args.servers.split(",")} if args.servers else None
    if wanted is not None and not wanted <= set(SERVERS):
        parser.error(
            f"unknown servers {sorted(wanted - set(SERVERS))}; available: {', '.join(SERVERS)}"
        )
    extra = tuple(
        interpreter_server(python, transformer.strip())
        for python in args.python
        for transformer in args.python_transformers.split(",")
        if transformer.strip()
    )
    if not node_available():
        print(
            "node (or tests/js/node_modules) is missing: the load generator needs it",
            file=sys.stderr,
        )
        return 2
    rng = random.Random(args.seed)
    progress = Progress()
    started = datetime.datetime.now(datetime.timezone.utc)
    report: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "mode": "quick" if args.quick else "full",
        "config": cfg,
        "scenarios": {},
    }
    for scenario in scenarios:
        run_one = SCENARIOS[scenario][0]
        servers = servers_for(scenario, wanted, extra)
        rounds: list[dict[str, list[dict[str, Any]]]] = []
        for number in range(cfg["rounds"]):
            order = list(servers)
            rng.shuffle(order)
            results: dict[str, list[dict[str, Any]]] = {}
            for name in order:
                progress.prefix = f"{scenario} round {number + 1}/{cfg['rounds']} {name}:"
                progress("starting")
                try:
                    results[name] = run_one(name, cfg, progress)
                except Exception as error:  # a peer failing must not lose the others
                    progress(f"FAILED: {error!r}")
                    results[name] = []
            rounds.append(results)
        progress.done()
        rows = aggregate(scenario, rounds)
        report["scenarios"][scenario] = {"rows": rows, "rounds": rounds}
        print_table(scenario, rows)
    report["seconds"] = round(time.monotonic() - progress.started, 1)
    output = args.output
    if output is None:
        results_dir = os.path.join(HERE, "results")
        os.makedirs(results_dir, exist_ok=True)
        output = os.path.join(results_dir, started.strftime("%Y%m%dT%H%M%SZ") + ".json")
    with open(output, "w") as f:
        json.dump(report, f, indent=1, default=str)
    print(f"\nJSON: {output}  ({report['seconds']} s)")
    return 0
