"""
primus-tx's benchmark suite: ``python -m benchmarks --quick``.

Every figure that matters is a ratio between servers measured in the same
run, interleaved over several rounds, because the machine is shared and
absolute numbers drift.  See ``docs/performance.rst``.
"""
