"""Fixtures for the integration and end-to-end tests.

One gateway per test session: the real Debian nginx loading our module, the
demo configuration, a test CA, and EU/US mock providers on loopback.  Each
test looks only at what was recorded after it started (log offsets), so a
test proves exactly what its own requests did and did not send upstream.
"""

import copy
import json
import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "lib"))

import zollenv  # noqa: E402

RUN = zollenv.BUILD / "test-run"


class Exchange:
    """One request through the gateway and everything it caused."""

    def __init__(self, status, headers, body, eu, us, records):
        self.status, self.headers, self.raw = status, headers, body
        self.eu, self.us, self.records = eu, us, records

    @property
    def json(self):
        return json.loads(self.raw)

    @property
    def upstream(self):
        return self.eu + self.us

    def record(self, event="decision"):
        found = [r for r in self.records if r["event"] == event]
        assert len(found) == 1, f"expected one {event} record: {found}"
        return found[0]


class Env:
    def __init__(self, run_dir):
        self.run = run_dir
        zollenv.make_certs(run_dir)
        self.keys = zollenv.demo_keys()
        self.eu = zollenv.Mock("eu", zollenv.free_port(), run_dir,
                               run_dir / "upstream-eu.log")
        self.us = zollenv.Mock("us", zollenv.free_port(), run_dir,
                               run_dir / "upstream-us.log")
        self.base_policy = self.demo_policy()
        self.policy_path = run_dir / "policy.json"
        self.write_policy(self.base_policy)
        self.gw = zollenv.Gateway(run_dir / "nginx", run_dir,
                                  self.policy_path, self.eu.port,
                                  self.us.port, mock_controls=True).start()

    @staticmethod
    def demo_policy():
        return zollenv.demo_policy()

    def policy(self):
        return copy.deepcopy(self.base_policy)

    def write_policy(self, policy, path=None):
        Path(path or self.policy_path).write_text(json.dumps(policy,
                                                             indent=1))

    def apply_policy(self, policy):
        self.write_policy(policy)
        self.gw.reload()

    def exchange(self, method, path, body=None, tenant=None, key=None,
                 headers=None, **kw):
        hdrs = dict(headers or {})
        if tenant or key:
            key = key or self.keys[tenant]
            if path.startswith("/anthropic/"):
                hdrs.setdefault("x-api-key", key)
            else:
                hdrs.setdefault("Authorization", f"Bearer {key}")
        marks = (self.eu.mark(), self.us.mark(),
                 zollenv.file_size(self.gw.transfer_log))
        status, rh, data = self.gw.request(method, path, body, hdrs, **kw)
        records = self.records_since(marks[2])
        return Exchange(status, rh, data, self.eu.since(marks[0]),
                        self.us.since(marks[1]), records)

    def records_since(self, offset):
        """Records since offset; waits for the outcome of a forwarded
        request, which nginx writes in its log phase just after the
        response went out."""
        deadline = time.monotonic() + 3
        while True:
            recs = self.gw.transfer_records(offset)
            events = {r["event"]: r for r in recs}
            d = events.get("decision")
            if d and (d["decision"] == "refused" or "outcome" in events):
                return recs
            if time.monotonic() > deadline:
                return recs
            time.sleep(0.02)

    def stop(self):
        self.gw.stop()
        self.eu.stop()
        self.us.stop()


@pytest.fixture(scope="session")
def env():
    # a fresh run: a transfer log left by an older build is not ours to
    # continue
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True, exist_ok=True)
    e = Env(RUN)
    yield e
    e.stop()
    assert_valgrind_clean(RUN)


@pytest.fixture
def policy(env):
    """A copy of the demo policy to edit and apply; the demo policy is
    restored afterwards."""
    p = env.policy()
    yield p
    if json.loads(env.policy_path.read_text()) != env.base_policy:
        env.apply_policy(env.base_policy)


@pytest.fixture
def make_gateway(env, tmp_path):
    """Further gateways in front of the session's mocks, for tests that
    need another configuration; stopped after the test."""
    made = []

    def make(policy=None, eu_port=None, start=True, **kw):
        kw.setdefault("mock_controls", True)
        gw = zollenv.Gateway(tmp_path / f"gw{len(made)}", env.run,
                             policy or env.policy_path,
                             eu_port or env.eu.port, env.us.port, **kw)
        made.append(gw)
        return gw.start() if start else gw

    yield make
    for gw in made:
        gw.stop()
        assert_valgrind_clean(gw.run)


def assert_valgrind_clean(run_dir):
    """Under ZOLL_VALGRIND=1: no memcheck error in Zoll's code."""
    if zollenv.VALGRIND:
        found = zollenv.valgrind_findings(run_dir)
        assert not found, "\n\n".join(f"{log}:\n{text}"
                                        for log, text in found)


def request_as(gw, tenant_key, path="/openai/v1/chat/completions",
               body=None, headers=None):
    hdrs = {"Authorization": f"Bearer {tenant_key}"}
    hdrs.update(headers or {})
    return gw.request("POST", path, body or chat(), hdrs)


def wait_records(gw, n):
    """The first n records of gw's transfer log; an outcome is written in
    the log phase, just after the response."""
    deadline = time.monotonic() + 3
    while len(gw.transfer_records()) < n:
        assert time.monotonic() < deadline, gw.transfer_records()
        time.sleep(0.02)
    return gw.transfer_records()[:n]


def chat(text="Hallo, wie geht es?", **extra):
    body = {"model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": text}]}
    body.update(extra)
    return body


def claude(text="Hallo Claude", **extra):
    body = {"model": "claude-haiku-4-5", "max_tokens": 64,
            "messages": [{"role": "user", "content": text}]}
    body.update(extra)
    return body
