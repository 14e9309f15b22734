"""
The runner's arithmetic: if these are wrong every ratio in the report is.
"""

from __future__ import annotations

import math

from benchmarks import run
from benchmarks._stats import median, merge, percentile_ms, ratio, slope


def _hist(micros: list[float]) -> dict[str, int]:
    # The load generator's bucketing, in Python.
    out: dict[str, int] = {}
    for us in micros:
        bucket = 0 if us < 1 else math.floor(math.log(us) / math.log(1.01))
        out[str(bucket)] = out.get(str(bucket), 0) + 1
    return out


def test_percentiles_within_one_percent() -> None:
    """
    Percentiles from merged histograms are within a bucket (1 %) above the
    exact value, whatever generator each sample came from.
    """
    samples = [100.0 * (i + 1) for i in range(1000)]  # 0.1 ms .. 100 ms
    hist = merge([_hist(samples[::2]), _hist(samples[1::2])])
    p50 = percentile_ms(hist, 0.5)
    p99 = percentile_ms(hist, 0.99)
    assert p50 is not None and p99 is not None
    assert 50.0 <= p50 <= 50.0 * 1.0101
    assert 99.0 <= p99 <= 99.0 * 1.0101
    assert percentile_ms({}, 0.5) is None


def test_slope_and_ratio() -> None:
    """
    The memory slope is bytes per connection; degenerate inputs give None.
    """
    xs = [2000, 4000, 6000, 8000, 10000]
    ys = [50e6 + 12_000 * x for x in xs]
    assert slope(xs, ys) == 12_000
    assert slope([1], [1]) is None
    assert slope([3, 3], [1, 2]) is None
    assert ratio(9.0, 10.0) == 0.9
    assert ratio(1.0, 0.0) is None
    assert median([3.0, None, 1.0, float("nan"), 2.0]) == 2.0


def test_aggregate_uses_per_round_ratios() -> None:
    """
    Ratios are taken within a round (same machine state) and then the
    median is taken, so a slow round for both servers cancels out.
    """

    def row(rate: float) -> dict[str, float]:
        return {"conns": 50, "size": 64, "rate": rate, "per_cpu_s": rate}

    rounds = [
        {"primus-tx": [row(900.0)], "autobahn": [row(1000.0)]},
        {"primus-tx": [row(450.0)], "autobahn": [row(500.0)]},  # a noisy round
        {"primus-tx": [row(1800.0)], "autobahn": [row(2000.0)]},
    ]
    table = run.aggregate("S1", rounds)
    peer = next(r for r in table if r["server"] == "autobahn")
    mine = next(r for r in table if r["server"] == "primus-tx")
    assert mine["rate"] == 900.0
    assert peer["rate"] == 1000.0
    assert math.isclose(peer["primus-tx/this rate"], 0.9)
    assert table[0]["server"] == "primus-tx"


def test_quick_mode_is_bounded() -> None:
    """
    --quick's S1 stays well inside two minutes of measuring.
    """
    cfg = run.QUICK
    servers = len(run.SCENARIOS["S1"][1])
    configs = len(cfg["s1_conns"]) * len(cfg["s1_sizes"])
    measuring = cfg["rounds"] * servers * configs * (cfg["warmup"] + cfg["duration"] + 0.3)
    assert measuring < 90
