"""zollctl: the same engine as the gateway, on the command line."""

import json
import re
import subprocess

import zollenv
from conftest import chat

ZOLLCTL = str(zollenv.BUILD / "zollctl")


def zollctl(*args, stdin=None):
    return subprocess.run([ZOLLCTL, *map(str, args)], input=stdin,
                          capture_output=True, text=True)


def test_check_accepts_the_shipped_policies():
    for p in ("policy.json", "demo/policy.json"):
        r = zollctl("check", zollenv.CONFIG / p)
        assert r.returncode == 0, r.stderr
        assert re.search(r": ok \(sha256:[0-9a-f]{64}\)$", r.stdout.strip())


def test_explain_json_matches_what_the_gateway_does(env):
    r = zollctl("explain", "--policy", env.policy_path, "--tenant",
                "globex_any", "--subprocessor", "openai", "--json")
    assert r.returncode == 0
    e = json.loads(r.stdout)
    assert (e["allowed"], e["status"], e["region"], e["country"]) == \
        (True, 200, "us", "US")
    assert e["third_country"] is True
    assert e["legal_basis"]["id"] == "dpf_us"
    assert "third country" in e["reason"]

    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      tenant="globex_any")
    d = ex.record()
    assert (d["region"], d["country"], d["legal_basis"]["id"]) == \
        (e["region"], e["country"], e["legal_basis"]["id"])


def test_explain_refusal_exits_3_with_the_reason(env):
    r = zollctl("explain", "--policy", env.policy_path, "--tenant",
                "acme_eu", "--subprocessor", "anthropic", "--json")
    assert r.returncode == 3
    e = json.loads(r.stdout)
    assert (e["allowed"], e["status"], e["code"]) == \
        (False, 451, "no_lawful_route")
    assert e["region"] is None and e["legal_basis"] is None
    assert "eea_only" in e["reason"]

    text = zollctl("explain", "--policy", env.policy_path, "--tenant",
                   "acme_eu", "--subprocessor", "anthropic")
    assert "refused, HTTP 451 no_lawful_route" in text.stdout


def test_explain_names_unknown_tenant(env):
    r = zollctl("explain", "--policy", env.policy_path, "--tenant", "nobody",
                "--subprocessor", "openai")
    assert r.returncode == 1 and 'no tenant "nobody"' in r.stderr


def test_a_new_key_works_once_its_hash_is_in_the_policy(env, policy):
    out = zollctl("key", "new").stdout
    key = re.search(r"key:\s+(zk_[A-Za-z0-9_-]{43})\n", out).group(1)
    digest = re.search(r"hash:\s+(sha256:[0-9a-f]{64})\n", out).group(1)
    assert zollctl("key", "hash", stdin=key + "\n").stdout.strip() == digest
    assert key != re.search(r"key:\s+(\S+)", zollctl("key", "new").stdout)[1]

    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(), key=key)
    assert ex.status == 401

    policy["tenants"][0]["keys"].append(digest)
    env.apply_policy(policy)
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(), key=key)
    assert ex.status == 200 and ex.record()["tenant"] == "acme_eu"
