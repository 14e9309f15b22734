"""
WebSocket conformance run: ``python -m benchmarks.conformance``.

Starts one echo server per engine (primus-tx's ``uws`` and ``faye``
transformers, and raw Autobahn as the control; see ``echo_server.py``),
points the Autobahn testsuite's fuzzing client (``wstest -m
fuzzingclient``) at all of them in one run, and reads its report: every
case of every engine must be OK or INFORMATIONAL, in behaviour and in the
closing behaviour.  Anything FAILED, NON-STRICT or UNIMPLEMENTED fails the
run (exit status 1).

``--cases`` picks the case groups (default ``1-10``; ``--short`` is
``1-8,10``: everything but the 9.x performance cases, which send messages
up to 16 MiB).  ``wstest`` comes from ``--wstest``, ``$WSTEST``, or the
virtualenv ``benchmarks/conformance/install-wstest`` makes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

#: agent name -> (echo_server.py engine, URL path)
ENGINES: dict[str, tuple[str, str]] = {
    "primus-tx-uws": ("uws", "/primus"),
    "primus-tx-faye": ("faye", "/primus"),
    "primus-tx-websockets": ("websockets", "/primus"),
    "autobahn": ("autobahn", "/"),
}
DEFAULT_ENGINES = ("primus-tx-uws", "primus-tx-faye", "autobahn")
ACCEPTED = {"OK", "INFORMATIONAL"}


def case_patterns(spec: str) -> list[str]:
    """
    ``"1-8,10"`` -> ``["1.*", ..., "8.*", "10.*"]``; a dotted item
    (``"6.4.3"``) is taken as it is.
    """
    out: list[str] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        if "." in item:
            out.append(item)
        elif "-" in item:
            low, high = item.split("-", 1)
            out.extend(f"{n}.*" for n in range(int(low), int(high) + 1))
        else:
            out.append(f"{item}.*")
    return out


def verdicts(index: dict[str, Any]) -> dict[str, Counter[str]]:
    """
    Per agent, how many cases had each verdict (a case counts once, with
    the worse of its behaviour and its closing behaviour).
    """
    out: dict[str, Counter[str]] = {}
    for agent, cases in index.items():
        counts: Counter[str] = Counter()
        for result in cases.values():
            behaviour = result.get("behavior", "?")
            closing = result.get("behaviorClose", "OK")
            counts[behaviour if behaviour not in ACCEPTED else closing] += 1
        out[agent] = counts
    return out


def failures(index: dict[str, Any]) -> list[str]:
    """
    ``agent case behaviour/closing`` for every case that is not accepted.
    """
    out = []
    for agent, cases in sorted(index.items()):
        for case, result in sorted(cases.items()):
            behaviour = result.get("behavior", "?")
            closing = result.get("behaviorClose", "OK")
            if behaviour not in ACCEPTED or closing not in ACCEPTED:
                out.append(f"{agent} {case} {behaviour}/{closing}")
    return out


def _wstest(explicit: Optional[str]) -> str:
    if explicit:
        return explicit
    if os.environ.get("WSTEST"):
        return os.environ["WSTEST"]
    result = subprocess.run(
        [os.path.join(HERE, "install-wstest")], stdout=subprocess.PIPE, check=True, text=True
    )
    return result.stdout.strip().splitlines()[-1]


def _start(engine: str) -> tuple[subprocess.Popen[bytes], int]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (ROOT, env.get("PYTHONPATH"))))
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "echo_server.py"), "--engine", engine],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"echo server {engine} did not start: {line!r}")
    return proc, int(line.split()[1])


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conformance", description=__doc__)
    parser.add_argument("--cases", default="1-10", help="case groups, e.g. 1-10 or 1-8,10")
    parser.add_argument("--short", action="store_true", help="cases 1-8,10 (no 9.x)")
    parser.add_argument(
        "--engines",
        default=",".join(DEFAULT_ENGINES),
        help=f"comma-separated, from {', '.join(ENGINES)}",
    )
    parser.add_argument("--wstest", default=None, help="path of wstest")
    parser.add_argument("--output", default=None, help="report folder (default: a temporary one)")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        parser.error(f"unknown engines {unknown}")
    cases = case_patterns("1-8,10" if args.short else args.cases)
    wstest = _wstest(args.wstest)
    outdir = os.path.abspath(args.output or tempfile.mkdtemp(prefix="primus-tx-conformance-"))
    os.makedirs(outdir, exist_ok=True)
    procs = []
    started = time.monotonic()
    try:
        servers = []
        for agent in engines:
            engine, path = ENGINES[agent]
            proc, port = _start(engine)
            procs.append(proc)
            servers.append({"agent": agent, "url": f"ws://127.0.0.1:{port}{path}"})
        spec = {"outdir": outdir, "servers": servers, "cases": cases, "exclude-cases": []}
        spec_path = os.path.join(outdir, "fuzzingclient.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f, indent=1)
        subprocess.run(
            [wstest, "-m", "fuzzingclient", "-s", spec_path],
            cwd=outdir,
            stdout=subprocess.DEVNULL,
            check=True,
        )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
    with open(os.path.join(outdir, "index.json")) as f:
        index = json.load(f)
    seconds = time.monotonic() - started
    print(f"wstest fuzzingclient, cases {','.join(cases)}, {seconds:.0f} s; report in {outdir}")
    for agent, counts in sorted(verdicts(index).items()):
        summary = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
        print(f"  {agent}: {sum(counts.values())} cases: {summary}")
    bad = failures(index)
    for line in bad:
        print(f"  NOT OK: {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
