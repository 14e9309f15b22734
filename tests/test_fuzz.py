"""
The fuzz targets of tests/fuzz_targets.py as hypothesis property tests,
and the saved corpus (tests/fuzz_corpus/<target>/) replayed: every input
that once found a bug, or that the coverage-guided runner kept, stays a
regression test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_targets import TARGETS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CORPUS = Path(__file__).parent / "fuzz_corpus"

# Inputs that reach the interesting branches sooner than random bytes do.
_SEEDS = st.sampled_from(
    [
        b"",
        b"[" * 5000,
        b'["' + b"\\ud800" + b'"]',
        b"4hello\x1e2\x1e3probe",
        b"primus::ping::1",
        b"primus::id::",
        b'"primus::pong::1"',
        b"\x00\xff\xfe",
        b"GET /primus HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /primus/000/s1/xhr_send HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffff\r\n",
    ]
)
_INPUTS = st.one_of(
    st.binary(max_size=2048),
    _SEEDS,
    # (A Python function, not bytes.__add__: hypothesis cannot describe
    # PyPy's built-in functions.)
    st.tuples(_SEEDS, st.binary(max_size=256)).map(lambda pair: pair[0] + pair[1]),
)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target(name):
    target = TARGETS[name]
    slow = name.startswith("http") or name == "primus_control"

    @settings(
        max_examples=60 if slow else 300,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(_INPUTS)
    def run(data):
        target(data)

    run()


def _corpus():
    for directory in sorted(CORPUS.iterdir()) if CORPUS.is_dir() else ():
        for path in sorted(directory.iterdir()):
            yield pytest.param(directory.name, path, id=f"{directory.name}/{path.name}")


@pytest.mark.parametrize(("name", "path"), list(_corpus()))
def test_corpus(name, path):
    TARGETS[name](path.read_bytes())
