"""
Small statistics for the runner: medians, latency histograms from the load
generator (1 % log buckets in microseconds, mergeable across generators),
and a least-squares slope for the memory scenario.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import Iterable, Mapping, Optional, Sequence

_LOG_STEP = math.log(1.01)


def median(values: Iterable[Optional[float]]) -> Optional[float]:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(kept) if kept else None


def merge(histograms: Iterable[Mapping[str, int]]) -> Counter[int]:
    total: Counter[int] = Counter()
    for hist in histograms:
        for bucket, count in hist.items():
            total[int(bucket)] += int(count)
    return total


def percentile_ms(hist: Mapping[int, int], fraction: float) -> Optional[float]:
    """
    The latency below which ``fraction`` of the samples fall, in ms (the
    upper edge of its bucket, so at most 1 % high).
    """
    total = sum(hist.values())
    if not total:
        return None
    rank = fraction * total
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen >= rank:
            return math.exp((bucket + 1) * _LOG_STEP) / 1000.0
    return None


def slope(xs: Sequence[float], ys: Sequence[float]) -> Optional[float]:
    """
    Least-squares slope of ``ys`` over ``xs``.
    """
    if len(xs) < 2:
        return None
    mx = sum(xs) / len(xs)
    my = sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if not var:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or not b:
        return None
    return a / b
