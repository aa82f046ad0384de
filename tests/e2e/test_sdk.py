"""Runs the official SDK clients (sdk.test.mjs, node's test runner) against
the gateway, then checks with the mocks' records what reached which
provider."""

import json
import os
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_node(env, script, **extra):
    envvars = dict(os.environ,
                   ZOLL_URL=f"https://127.0.0.1:{env.gw.https_port}",
                   NODE_EXTRA_CA_CERTS=str(env.run / "ca.pem"), **extra)
    for tenant, key in env.keys.items():
        envvars[f"ZOLL_KEY_{tenant.upper()}"] = key

    r = subprocess.run(["node", "--test", "--test-reporter=spec",
                        str(HERE / script)], cwd=HERE, env=envvars,
                       capture_output=True, text=True, timeout=120)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr


def test_official_sdks_through_the_gateway(env):
    marks = env.eu.mark(), env.us.mark()
    run_node(env, "sdk.test.mjs")

    eu, us = env.eu.since(marks[0]), env.us.since(marks[1])
    seen = lambda recs, marker: [x for x in recs if marker in x["body"]]
    # each request reached the provider its tenant's policy allows, once
    assert len(seen(eu, "e2e-openai-plain")) == 1
    assert not seen(us, "e2e-openai-plain")
    assert len(seen(us, "e2e-openai-stream")) == 1
    assert len(seen(us, "e2e-anthropic-plain")) == 1
    assert len(seen(us, "e2e-anthropic-stream")) == 1
    # refused requests reached nobody
    for marker in ("e2e-refused", "e2e-anthropic-451"):
        assert not seen(eu + us, marker)
    # the SDKs' keys never left the gateway
    upstream = json.dumps(eu + us)
    for key in env.keys.values():
        assert key not in upstream


def test_sdks_get_tokens_restored(env, policy):
    """restore.test.mjs: the applications see the original values; here:
    the providers only ever saw tokens."""
    for t in policy["tenants"]:
        if t["id"] == "globex_any":
            t["redaction"] = "tokenize"
    env.apply_policy(policy)

    marks = env.eu.mark(), env.us.mark()
    run_node(env, "restore.test.mjs", ZOLL_TENANT="globex_any")

    upstream = env.eu.since(marks[0]) + env.us.since(marks[1])
    sent = [x["body"] for x in upstream if "e2e-restore-" in x["body"]]
    # two openai plain, two streamed, two anthropic
    assert len(sent) == 6, sent
    for body in sent:
        assert "[EMAIL_1]" in body and "[EMAIL_2]" in body \
            and "[IBAN_1]" in body
        for value in ("lea.fischer@example.de", "tom.berg@example.org",
                      "DE89 3704 0044 0532 0130 00"):
            assert value not in body
