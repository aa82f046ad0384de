"""Fail closed: no record, no transfer; a bad policy never starts."""

import json
import os
import signal
import subprocess
import time

import pytest

import zollenv
from conftest import chat


@pytest.fixture
def gateway(env, tmp_path):
    gws = []

    def make(**kw):
        gw = zollenv.Gateway(tmp_path / f"gw{len(gws)}", env.run,
                             kw.pop("policy", env.policy_path), env.eu.port,
                             env.us.port, **kw)
        gws.append(gw)
        return gw

    yield make
    for gw in gws:
        gw.stop()


def test_unwritable_transfer_log_gives_503_and_nothing_is_forwarded(
        env, gateway):
    # /dev/full accepts the open and fails every write with ENOSPC: the
    # disk-full case at run time
    gw = gateway(transfer_log="/dev/full").start()
    marks = env.eu.mark(), env.us.mark()
    status, headers, body = gw.request(
        "POST", "/openai/v1/chat/completions", chat(),
        {"Authorization": f"Bearer {env.keys['acme_eu']}"})
    assert status == 503
    err = json.loads(body)["error"]
    assert err["code"] == "transfer_log_unwritable"
    assert env.eu.since(marks[0]) == [] and env.us.since(marks[1]) == []
    log = (gw.run / "error.log").read_text()
    assert "write to transfer log \"/dev/full\" failed" in log


def test_bad_policy_fails_nginx_t_with_the_json_path(env, gateway, tmp_path):
    p = env.policy()
    # the typo that matters: "suspend" instead of "suspended"
    p["legal_bases"][3]["suspend"] = True
    bad = tmp_path / "bad-policy.json"
    env.write_policy(p, bad)

    ok, out = gateway(policy=bad).test_config()
    assert not ok
    assert '$.legal_bases[3]: unknown key "suspend"' in out
    assert "[emerg]" in out

    r = subprocess.run([str(zollenv.BUILD / "zollctl"), "check", str(bad)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert '$.legal_bases[3]: unknown key "suspend"' in r.stderr


def test_plaintext_endpoint_is_rejected_at_config_time(env, gateway,
                                                       tmp_path):
    p = env.policy()
    p["subprocessors"][0]["regions"][0]["endpoint"] = "http://us.example"
    bad = tmp_path / "http-policy.json"
    env.write_policy(p, bad)
    ok, out = gateway(policy=bad).test_config()
    assert not ok
    assert "$.subprocessors[0].regions[0].endpoint" in out
    assert "only https endpoints are accepted" in out


def test_zoll_without_transfer_log_does_not_start(env, gateway, tmp_path):
    gw = gateway()
    gw.render()
    conf = gw.conf.read_text().replace(
        f"zoll_transfer_log {gw.transfer_log};", "")
    gw.conf.write_text(conf)
    r = gw.nginx("-t", check=False)
    assert r.returncode != 0
    assert '"zoll_transfer_log" is not set' in r.stderr


def test_unknown_subprocessor_in_location_fails_nginx_t(env, gateway):
    gw = gateway()
    gw.render()
    loc = gw.run / "locations.conf"
    loc.write_text(loc.read_text().replace("zoll mistral;",
                                           "zoll mistrall;"))
    r = gw.nginx("-t", check=False)
    assert r.returncode != 0
    assert 'subprocessor "mistrall" is not in policy' in r.stderr


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
