"""Residency by where the data subject is: GeoIP on the client address after
nginx's realip (trusted proxies only), the tenant's "subjects" rules, the
application's X-Zoll-Subject-Country (narrows, never widens), a database
that fails at run time, and the suspension drill under load.  Proven by
what the EU and US mocks recorded and by the transfer records.

The test database (tests/lib/mkgeoip.pl, written per test) places
127.1/16 in DE, 127.2/16 in US, 127.3/16 in GB, 127.4/16 in CN; 127.5/16
is in it without a country and 127.0.0.1 not at all.  The gateways trust
127.0.0.1 as a proxy (set_real_ip_from) and take its X-Forwarded-For; a
client connecting from any other loopback address is no trusted proxy.
"""

import json
import re
import shutil
import subprocess
import time

import pytest

import zollenv
from conftest import chat, claude

DE, US, GB, CN, NO_COUNTRY = ("127.1.0.5", "127.2.0.5", "127.3.0.5",
                              "127.4.0.5", "127.5.0.5")

# EEA subjects only to EEA endpoints, adequacy-country subjects under an
# adequacy decision, everyone else anywhere lawful; unknown: stated
# default, here the strictest
RULES = {"eea": "eea_only", "adequacy": "adequate", "other": "any",
         "unknown": "eea_only"}

REALIP = """
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
"""


def geo_policy(env, rules=RULES, tenant="globex_any"):
    p = env.policy()
    t = next(t for t in p["tenants"] if t["id"] == tenant)
    t["subjects"] = dict(rules)
    return p


class Geo:
    """A gateway with GeoIP and realip, in front of the session's mocks."""

    def __init__(self, env, make_gateway, tmp_path, policy=None,
                 in_policy=False, **kw):
        self.env = env
        # nginx's workers (user nobody) check the file before each lookup:
        # it must be where they can reach it, unlike pytest's tmp_path
        d = env.run / "geoip" / tmp_path.name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        for p in (d, d.parent):
            p.chmod(0o755)
        self.db = zollenv.make_geoip(d / "geo.mmdb")
        self.policy_path = tmp_path / "geo-policy.json"
        self.policy = policy or geo_policy(env)
        extra = REALIP + f"""
    log_format geo '$zoll_request_id $zoll_subject_country '
                   '$zoll_subject_area $zoll_region';
    access_log {tmp_path}/geo-access.log geo;
"""
        if in_policy:
            self.policy["geoip"] = {"database": str(self.db)}
        else:
            extra += f"    zoll_geoip {self.db};\n"
        self.write(self.policy)
        self.access_log = tmp_path / "geo-access.log"
        self.gw = make_gateway(policy=self.policy_path, extra=extra, **kw)

    def write(self, policy):
        self.env.write_policy(policy, self.policy_path)

    def send(self, xff=None, tenant="globex_any", path=None, body=None,
             headers=None, source=None):
        """One request; (status, json, eu records, us records, decision)."""
        path = path or "/openai/v1/chat/completions"
        key = self.env.keys[tenant]
        hdrs = ({"x-api-key": key} if path.startswith("/anthropic/")
                else {"Authorization": f"Bearer {key}"})
        if xff:
            hdrs["X-Forwarded-For"] = xff
        hdrs.update(headers or {})
        body = body or (claude() if path.startswith("/anthropic/")
                        else chat())
        marks = (self.env.eu.mark(), self.env.us.mark(),
                 zollenv.file_size(self.gw.transfer_log))
        status, _, data = self.gw.request("POST", path, body, hdrs,
                                          source=source)
        deadline = time.monotonic() + 3
        while True:
            recs = self.gw.transfer_records(marks[2])
            d = [r for r in recs if r["event"] == "decision"]
            done = d and (d[0]["decision"] == "refused"
                          or any(r["event"] == "outcome" for r in recs))
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert len(d) == 1, recs
        return (status, json.loads(data), self.env.eu.since(marks[0]),
                self.env.us.since(marks[1]), d[0])


@pytest.fixture
def geo(env, make_gateway, tmp_path):
    return Geo(env, make_gateway, tmp_path)


def test_eea_subject_never_reaches_the_us(geo):
    for xff in (DE, "127.1.200.7"):
        status, body, eu, us, d = geo.send(xff)
        assert status == 200, body
        assert len(eu) == 1 and us == []
        assert (d["region"], d["country"], d["third_country"]) == \
            ("eu", "IE", False)
        assert d["subject"] == {"country": "DE", "area": "eea",
                                "lookup": "found", "asserted": None,
                                "residency": "eea_only"}
        assert d["residency"] == "any"       # the tenant's, unchanged
        assert "subject located in DE (eea): residency eea_only" in \
            d["reason"]

    # a provider with only a US region: refused, nothing leaves
    status, body, eu, us, d = geo.send(DE, path="/anthropic/v1/messages")
    assert status == 451 and eu == [] and us == []
    assert body["error"]["code"] == "no_lawful_route"
    assert "subject's residency is eea_only" in body["error"]["message"]
    assert d["subject"]["country"] == "DE"

    # the record names the country, never the address
    raw = geo.gw.transfer_log.read_text()
    assert DE not in raw and "127.1.200.7" not in raw


def test_subjects_outside_the_eea_go_to_the_us_with_the_basis(geo):
    # the US has an adequacy decision (the DPF): adequate, so the DPF
    status, _, eu, us, d = geo.send(US)
    assert status == 200 and eu == [] and len(us) == 1
    assert us[0]["headers"]["host"] == "us.mock.zoll.test"
    assert d["subject"]["area"] == "adequacy"
    assert d["subject"]["residency"] == "adequate"
    assert d["third_country"] is True
    lb = d["legal_basis"]
    assert (lb["id"], lb["article"]) == ("dpf_us", "GDPR Art. 45(3)")
    assert "(EU) 2023/1795" in lb["instrument"]

    # other countries: any lawful region
    status, _, eu, us, d = geo.send(CN)
    assert status == 200 and eu == [] and len(us) == 1
    assert d["subject"] == {"country": "CN", "area": "other",
                            "lookup": "found", "asserted": None,
                            "residency": "any"}
    assert d["legal_basis"]["id"] == "dpf_us"


def test_unknown_location_follows_the_stated_default(env, geo):
    # not in the database, and in it without a country: unknown, whose
    # default here is the strictest rule
    for xff in (None, NO_COUNTRY):
        status, _, eu, us, d = geo.send(xff)
        assert status == 200 and len(eu) == 1 and us == []
        assert d["subject"]["country"] is None
        assert d["subject"]["area"] == "unknown"
        assert d["subject"]["lookup"] == "not_found"
        assert d["subject"]["residency"] == "eea_only"

    # a tenant that states "any" for unknown subjects gets it
    p = geo_policy(env, dict(RULES, unknown="any"))
    geo.write(p)
    geo.gw.reload()
    status, _, eu, us, d = geo.send(None)
    assert status == 200 and eu == [] and len(us) == 1
    assert d["subject"]["residency"] == "any"


def test_asserted_country_narrows_but_never_widens(geo):
    # a subject in China the application says is in Germany: EU only
    status, _, eu, us, d = geo.send(
        CN, headers={"X-Zoll-Subject-Country": "de"})
    assert status == 200 and len(eu) == 1 and us == []
    assert d["subject"]["asserted"] == "DE"
    assert d["subject"]["residency"] == "eea_only"
    assert "asserted DE (eea)" in d["reason"]
    # the assertion is Zoll's, not the provider's
    assert "x-zoll-subject-country" not in eu[0]["headers"]

    # a subject in Germany the application says is in China: still EU
    status, _, eu, us, d = geo.send(
        DE, headers={"X-Zoll-Subject-Country": "CN"})
    assert status == 200 and len(eu) == 1 and us == []
    assert (d["subject"]["country"], d["subject"]["asserted"]) == \
        ("DE", "CN")
    assert d["subject"]["residency"] == "eea_only"

    # nor can it widen an unknown location
    status, _, eu, us, d = geo.send(
        None, headers={"X-Zoll-Subject-Country": "US"})
    assert status == 200 and len(eu) == 1 and us == []

    # what is not one country code is refused, in the provider's shape
    for bad in ("Germany", "D1", ""):
        status, body, eu, us, d = geo.send(
            US, headers={"X-Zoll-Subject-Country": bad})
        assert status == 400 and eu == [] and us == []
        assert body["error"]["code"] == "bad_request"
        assert "X-Zoll-Subject-Country" in body["error"]["message"]
        assert (d["decision"], d["code"]) == ("refused", "bad_request")


def test_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(geo):
    # a client in Germany (no trusted proxy) claims to be in the US
    status, _, eu, us, d = geo.send(US, source="127.1.0.9")
    assert status == 200 and len(eu) == 1 and us == []
    assert d["subject"]["country"] == "DE"
    assert d["client"] == "127.1.0.0/24"

    # the same header from the trusted proxy is believed
    status, _, eu, us, d = geo.send(US)
    assert status == 200 and eu == [] and len(us) == 1
    assert d["subject"]["country"] == "US"


def test_subject_variables(geo):
    status, _, _, _, d = geo.send(GB)
    assert status == 200
    assert d["subject"]["area"] == "adequacy"
    deadline = time.monotonic() + 3
    while d["request_id"] not in geo.access_log.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    line = next(li for li in geo.access_log.read_text().splitlines()
                if li.startswith(d["request_id"]))
    assert line.split()[1:] == ["GB", "adequacy", "us"]


def test_database_in_the_policy(env, make_gateway, tmp_path):
    g = Geo(env, make_gateway, tmp_path, in_policy=True)
    status, _, eu, us, d = g.send(DE)
    assert status == 200 and len(eu) == 1 and us == []
    assert d["subject"]["country"] == "DE"


def test_missing_or_unreadable_database_fails_nginx_t(env, make_gateway,
                                                       tmp_path):
    def conf_check(extra, policy=None):
        ok, out = make_gateway(policy=policy, extra=extra,
                               start=False).test_config()
        assert not ok
        assert "[emerg]" in out
        return out

    out = conf_check(f"zoll_geoip {tmp_path}/missing.mmdb;")
    assert f'zoll_geoip: cannot read "{tmp_path}/missing.mmdb"' in out

    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"\0" * 4096)
    out = conf_check(f"zoll_geoip {junk};")
    assert "cannot open the MaxMind DB" in out

    out = conf_check(f"zoll_geoip {tmp_path};")
    assert "is not a regular file" in out

    p = env.policy()
    p["geoip"] = {"database": str(tmp_path / "missing.mmdb")}
    env.write_policy(p, tmp_path / "p.json")
    out = conf_check("", policy=tmp_path / "p.json")
    assert "$.geoip.database: cannot read" in out


def test_database_failing_at_run_time_means_the_strictest_rule(
        env, make_gateway, tmp_path):
    # a tenant whose stated default for unknown subjects is "any": a
    # broken database must not get it; the strictest rule applies
    g = Geo(env, make_gateway, tmp_path,
            policy=geo_policy(env, dict(RULES, unknown="any")))
    status, _, eu, us, d = g.send(US)
    assert status == 200 and len(us) == 1

    # rewritten in place, then removed: strict either way
    good = tmp_path / "good.mmdb"
    shutil.copy(g.db, good)
    g.db.write_bytes(b"garbage" * 100)
    for step in ("rewritten", "removed"):
        status, _, eu, us, d = g.send(US)
        assert status == 200 and len(eu) == 1 and us == [], step
        assert d["subject"]["lookup"] == "error"
        assert d["subject"]["residency"] == "eea_only"
        assert "strictest rule" in d["reason"]
        status, body, eu, us, d = g.send(
            CN, path="/anthropic/v1/messages")
        assert status == 451 and eu == [] and us == []
        g.db.unlink(missing_ok=True)

    errlog = (g.gw.run / "error.log").read_text()
    assert "GeoIP database" in errlog and "strictest rule" in errlog

    # a reload with the database missing fails and changes nothing
    r = g.gw.nginx("-t", check=False)
    assert r.returncode != 0 and "zoll_geoip" in r.stderr

    # back in place and reloaded: located again
    shutil.copy(good, g.db)
    g.gw.reload()
    status, _, eu, us, d = g.send(US)
    assert status == 200 and len(us) == 1
    assert d["subject"]["lookup"] == "found"


def wrk_script(tmp_path, key, xff):
    script = tmp_path / "drill.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(chat('Drill')))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        f'wrk.headers["X-Forwarded-For"] = "{xff}"\n'
        # new connections only: a reload never cuts a kept-alive one
        # under a request
        'wrk.headers["Connection"] = "close"\n')
    return script


def test_suspension_drill_under_load(env, make_gateway, tmp_path):
    """The DPF falls while requests of a US subject stream in: a reload
    moves them to the SCCs; no request fails, requests in flight finish,
    and the records show the switch."""
    g = Geo(env, make_gateway, tmp_path, workers=2)
    before = g.gw.transfer_records()
    marks = env.eu.mark(), env.us.mark()
    wrk = subprocess.Popen(
        # long enough to outlast the reload, which compiles the rule packs
        # again (seconds, on a machine wrk keeps busy)
        ["wrk", "-t1", "-c4", "-d15s", "-s",
         str(wrk_script(tmp_path, env.keys["globex_any"], US)),
         f"https://127.0.0.1:{g.gw.https_port}/openai/v1/chat/completions"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(2)
    p = json.loads(g.policy_path.read_text())
    next(b for b in p["legal_bases"]
         if b["id"] == "dpf_us")["suspended"] = True
    g.write(p)
    g.gw.reload(timeout=30)
    out, _ = wrk.communicate(timeout=60)

    # wrk saw no error and no status but 2xx
    assert "Socket errors" not in out, out
    assert "Non-2xx" not in out, out
    done = int(re.search(r"(\d+) requests in", out).group(1))
    assert done > 20, out

    # the requests wrk left in flight end (and get their outcome) a
    # moment after wrk does
    deadline = time.monotonic() + 5
    while True:
        recs = g.gw.transfer_records()[len(before):]
        decisions = [r for r in recs if r["event"] == "decision"]
        outcomes = {r["request_id"]: r for r in recs
                    if r["event"] == "outcome"}
        if len(outcomes) >= len(decisions) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    upstream = env.eu.since(marks[0]) + env.us.since(marks[1])
    assert all(d["decision"] == "forwarded" for d in decisions)
    assert len(decisions) == len(outcomes) == len(upstream) >= done
    # every request ran to its end; the few wrk dropped when its time
    # was up are the only ones without a 200
    aborted = [o for o in outcomes.values() if o["status"] != 200]
    assert all(o["status"] == 499 for o in aborted)
    assert len(aborted) <= 4

    # the switch: the old policy sent under the DPF, the new one under the
    # SCCs, all to the US
    by_policy = {}
    for d in decisions:
        assert d["region"] == "us"
        by_policy.setdefault(d["policy"], set()).add(
            (d["legal_basis"]["id"], d["subject"]["area"]))
    assert sorted(by_policy.values(), key=str) == \
        [{("dpf_us", "adequacy")}, {("scc_m3", "other")}]
    assert decisions[-1]["legal_basis"]["id"] == "scc_m3"
    assert '"dpf_us" is suspended' in decisions[-1]["reason"]
    checkpoints = [r["reason"] for r in g.gw.transfer_records(
        checkpoints=True) if r["event"] == "checkpoint"]
    assert "reload" in checkpoints

    # the SCCs fall too: OpenAI moves to its EU region, Anthropic (US
    # only) is refused with 451 naming the suspended bases
    next(b for b in p["legal_bases"]
         if b["id"] == "scc_m3")["suspended"] = True
    g.write(p)
    g.gw.reload()
    status, _, eu, us, d = g.send(US)
    assert status == 200 and len(eu) == 1 and us == []
    status, body, eu, us, d = g.send(US, path="/anthropic/v1/messages")
    assert status == 451 and eu == [] and us == []
    msg = body["error"]["message"]
    assert '"dpf_us" is suspended' in msg and '"scc_m3" is suspended' in msg
    assert d["code"] == "no_lawful_route"


def test_zollctl_explain_by_subject_country(env, tmp_path):
    p = geo_policy(env)
    path = tmp_path / "p.json"
    env.write_policy(p, path)

    def explain(country, policy=path):
        r = subprocess.run(
            [str(zollenv.BUILD / "zollctl"), "explain", "--policy",
             str(policy), "--tenant", "globex_any", "--subprocessor",
             "openai", "--country", country, "--json"],
            capture_output=True, text=True)
        return r.returncode, r.stdout, r.stderr

    rc, out, _ = explain("DE")
    e = json.loads(out)
    assert rc == 0 and (e["region"], e["legal_basis"]["id"]) == \
        ("eu", "eea_art28")
    assert e["subject"] == {"country": "DE", "area": "eea",
                            "residency": "eea_only"}

    rc, out, _ = explain("us")
    e = json.loads(out)
    assert rc == 0 and (e["region"], e["legal_basis"]["id"]) == \
        ("us", "dpf_us")
    assert e["subject"]["area"] == "adequacy"

    next(b for b in p["legal_bases"]
         if b["id"] == "dpf_us")["suspended"] = True
    env.write_policy(p, path)
    rc, out, _ = explain("US")
    e = json.loads(out)
    assert (e["region"], e["legal_basis"]["id"]) == ("us", "scc_m3")
    assert e["subject"] == {"country": "US", "area": "other",
                            "residency": "any"}

    rc, out, err = explain("Deutschland")
    assert rc == 1 and "not an ISO 3166-1 alpha-2 code" in err
