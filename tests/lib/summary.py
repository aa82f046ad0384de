#!/usr/bin/python3
"""Prints one closing line, 'N passed, N failed', for a ./build.sh test run
from the outputs of its runners (cmocka for the engine, pytest for the
integration and end-to-end tests).  Exits non-zero if any test failed or if
a runner's summary is missing: a suite that did not report did not pass."""

import re
import sys


def cmocka(text):
    passed = sum(int(n) for n in re.findall(r"\[  PASSED  \] (\d+) test", text))
    failed = sum(int(n) for n in re.findall(r"\[  FAILED  \] (\d+) test", text))
    return passed, failed, "[  PASSED  ]" in text or failed > 0


def pytest(text):
    tail = [l for l in text.splitlines() if re.search(r"\d+ (passed|failed)", l)]
    if not tail:
        return 0, 0, False
    last = tail[-1]
    get = lambda word: sum(int(n) for n in re.findall(rf"(\d+) {word}", last))
    return get("passed"), get("failed") + get("error"), True


def main(unit_out, pytest_out):
    results = [cmocka(open(unit_out).read()), pytest(open(pytest_out).read())]
    passed = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    missing = [name for name, r in zip(("unit", "pytest"), results) if not r[2]]
    if missing:
        print(f"no summary from: {', '.join(missing)}")
        failed += len(missing)
    print(f"zoll: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
