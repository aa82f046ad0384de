"""The engine under AddressSanitizer and UndefinedBehaviorSanitizer: its
unit tests, and each libFuzzer harness for a bounded time (about a minute
in all, $ZOLL_FUZZ_SECONDS).  Built by `make sanitize` into build/asan,
which ./build.sh test does before the tests run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import runfuzz as fuzz  # noqa: E402

SECONDS = int(os.environ.get("ZOLL_FUZZ_SECONDS", "60"))


def test_unit_tests_under_asan_and_ubsan():
    # the sanitizers abort on their first finding (-fno-sanitize-recover),
    # LeakSanitizer fails the exit status on a leak
    r = subprocess.run([str(fuzz.ASAN / "test_engine")], cwd=fuzz.ROOT,
                       capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "runtime error" not in out and "Sanitizer" not in out
    assert "[  PASSED  ]" in out and "[  FAILED  ]" not in out


@pytest.mark.parametrize("target", fuzz.targets())
def test_fuzz_harness(target, tmp_path):
    each = max(1, SECONDS // len(fuzz.targets()))
    ok, execs, tail = fuzz.run(target, each, tmp_path / target)
    print(f"fuzz_{target}: {execs} executions in {each} s")
    assert ok, tail
    assert execs > 0, tail
