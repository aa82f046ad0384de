"""Fail closed: no record, no transfer; a bad policy never starts."""

import json
import os
import signal
import subprocess
import time

import zollenv
from conftest import chat, request_as


def test_bad_policy_fails_nginx_t_with_the_json_path(env, make_gateway,
                                                     tmp_path):
    p = env.policy()
    # the typo that matters: "suspend" instead of "suspended"
    p["legal_bases"][3]["suspend"] = True
    bad = tmp_path / "bad-policy.json"
    env.write_policy(p, bad)

    ok, out = make_gateway(policy=bad, start=False).test_config()
    assert not ok
    assert '$.legal_bases[3]: unknown key "suspend"' in out
    assert "[emerg]" in out

    r = subprocess.run([str(zollenv.BUILD / "zollctl"), "check", str(bad)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert '$.legal_bases[3]: unknown key "suspend"' in r.stderr


def test_plaintext_endpoint_is_rejected_at_config_time(env, make_gateway,
                                                       tmp_path):
    p = env.policy()
    p["subprocessors"][0]["regions"][0]["endpoint"] = "http://us.example"
    bad = tmp_path / "http-policy.json"
    env.write_policy(p, bad)
    ok, out = make_gateway(policy=bad, start=False).test_config()
    assert not ok
    assert "$.subprocessors[0].regions[0].endpoint" in out
    assert "only https endpoints are accepted" in out


def test_zoll_without_transfer_log_does_not_start(env, make_gateway):
    gw = make_gateway(start=False)
    gw.render()
    conf = gw.conf.read_text().replace(
        f"zoll_transfer_log {gw.transfer_log};", "")
    gw.conf.write_text(conf)
    r = gw.nginx("-t", check=False)
    assert r.returncode != 0
    assert '"zoll_transfer_log" is not set' in r.stderr


def test_unknown_subprocessor_in_location_fails_nginx_t(env, make_gateway):
    ok, out = make_gateway(start=False, edit=lambda t: t.replace(
        "zoll mistral;", "zoll mistrall;")).test_config()
    assert not ok
    assert 'subprocessor "mistrall" is not in policy' in out


def test_region_without_upstream_block_fails_nginx_t(env, make_gateway,
                                                     tmp_path):
    p = env.policy()
    p["subprocessors"][0]["regions"][1]["upstream"] = "zoll_eu_typo"
    policy = tmp_path / "typo-policy.json"
    env.write_policy(p, policy)
    ok, out = make_gateway(policy=policy, start=False).test_config()
    assert not ok
    assert f'subprocessor "openai", region "eu" of policy "{policy}" ' \
           'needs an "upstream zoll_eu_typo { ... }" block' in out


def test_bad_reload_keeps_the_running_policy(env, policy):
    policy["tenants"][0]["residency"] = "anywhere"
    env.write_policy(policy)
    env.gw.render()
    want = "$.tenants[0].residency: must be one of eea_only, adequate, any"

    # "nginx -s reload" parses the configuration before signalling
    r = env.gw.nginx("-s", "reload", check=False)
    assert r.returncode != 0 and want in r.stderr

    # a bare SIGHUP (systemctl reload): the master rejects the new
    # configuration and keeps serving the old one
    os.kill(env.gw.master_pid(), signal.SIGHUP)
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      tenant="acme_eu")
    assert ex.status == 200 and len(ex.eu) == 1
    deadline = time.monotonic() + 5
    while want not in (env.gw.run / "error.log").read_text():
        assert time.monotonic() < deadline, "reload error not logged"
        time.sleep(0.05)
