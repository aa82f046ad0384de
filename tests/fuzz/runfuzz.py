#!/usr/bin/python3
"""Runs the libFuzzer harnesses (build/asan/fuzz_<target>, made by
`make sanitize`) for a bounded time, split evenly between them.

    tests/fuzz/runfuzz.py SECONDS [--corpus DIR] [TARGET...]

Each harness starts from its seeds (tests/fuzz/seeds/<target>/); new inputs
go to DIR/<target> (default: a fresh temporary directory, so a short run
depends on nothing left behind), crashes to build/fuzz/crashes/.  Prints one
line per harness with its executions and exits non-zero if any harness
found a crash, a leak, undefined behaviour or a timeout.  Used by
tests/fuzz/test_fuzz.py (about a minute in ./build.sh test) and by
`./build.sh fuzz SECONDS` (a longer run with a corpus kept in build/fuzz).
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASAN = ROOT / "build/asan"
SEEDS = ROOT / "tests/fuzz/seeds"
CRASHES = ROOT / "build/fuzz/crashes"


def targets():
    return sorted(p.stem[len("fuzz_"):]
                  for p in (ROOT / "tests/fuzz").glob("fuzz_*.c"))


def run(target, seconds, corpus):
    """(ok, executions, tail of the output) of one harness run."""
    corpus.mkdir(parents=True, exist_ok=True)
    CRASHES.mkdir(parents=True, exist_ok=True)
    cmd = [str(ASAN / f"fuzz_{target}"), str(corpus), str(SEEDS / target),
           f"-max_total_time={seconds}", "-timeout=25",
           "-rss_limit_mb=2560", "-print_final_stats=1",
           f"-artifact_prefix={CRASHES}/{target}-"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                       timeout=seconds + 300)
    out = r.stdout + r.stderr
    m = re.search(r"stat::number_of_executed_units: (\d+)", out)
    return r.returncode == 0, int(m.group(1)) if m else 0, out[-4000:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("seconds", type=int)
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("target", nargs="*")
    a = ap.parse_args()
    names = a.target or targets()
    each = max(1, a.seconds // len(names))
    failed = 0
    with tempfile.TemporaryDirectory(prefix="zoll-fuzz-") as tmp:
        for t in names:
            ok, execs, tail = run(t, each, (a.corpus or Path(tmp)) / t)
            print(f"fuzz_{t}: {execs} executions in {each} s: "
                  + ("ok" if ok else "FAILED"), flush=True)
            if not ok:
                failed += 1
                print(tail, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
