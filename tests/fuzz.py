"""
Run one fuzz target of tests/fuzz_targets.py for a while, coverage-guided.

    python tests/fuzz.py TARGET [--seconds N] [--engine atheris|hypothesis]
    python tests/fuzz.py --list

With atheris installed (CPython only: ``pip install atheris``) libFuzzer
drives the target from the saved corpus (tests/fuzz_corpus/TARGET/) and
adds the inputs that reach new code to it; a crash is written as
``crash-*`` in the current directory.  Without it, hypothesis generates
inputs for the same time.  Either way a failing input is saved into the
corpus folder, so the suite (tests/test_fuzz.py) replays it from then on.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from fuzz_targets import TARGETS  # noqa: E402

CORPUS = HERE / "fuzz_corpus"


def _save(name: str, data: bytes) -> Path:
    folder = CORPUS / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("crash-" + hashlib.sha1(data).hexdigest()[:16])
    path.write_bytes(data)
    return path


def _atheris(name: str, seconds: int) -> int:
    import atheris

    target = TARGETS[name]

    def one(data: bytes) -> None:
        try:
            target(data)
        except BaseException:
            print(f"saved {_save(name, data)}", file=sys.stderr)
            raise

    folder = CORPUS / name
    folder.mkdir(parents=True, exist_ok=True)
    atheris.instrument_all()
    atheris.Setup([sys.argv[0], str(folder), f"-max_total_time={seconds}", "-max_len=4096"], one)
    atheris.Fuzz()
    return 0  # pragma: no cover - Fuzz() exits


def _hypothesis(name: str, seconds: int) -> int:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    target = TARGETS[name]
    found: list[bytes] = []

    @settings(max_examples=2000, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.binary(max_size=4096))
    def run(data: bytes) -> None:
        try:
            target(data)
        except BaseException:
            found.append(data)
            raise

    deadline = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < deadline:
        try:
            run()
        except BaseException:
            if found:
                print(f"saved {_save(name, found[-1])}", file=sys.stderr)
            raise
        rounds += 1
    print(f"{name}: {rounds * 2000} inputs, no failure")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", nargs="?", choices=sorted(TARGETS))
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--engine", choices=("atheris", "hypothesis"))
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list or args.target is None:
        print("\n".join(sorted(TARGETS)))
        return 0
    engine = args.engine
    if engine is None:
        try:
            import atheris  # noqa: F401
        except ImportError:
            engine = "hypothesis"
        else:
            engine = "atheris"
    if engine == "atheris":
        return _atheris(args.target, args.seconds)
    return _hypothesis(args.target, args.seconds)


if __name__ == "__main__":
    sys.exit(main())
