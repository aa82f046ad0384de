"""zollctl report, on transfer records made by real traffic.

The module's fixture sends requests of two tenants (and one without a valid
key) through the session's gateway: forwarded to the EU and to the US, with
personal data redacted, and refused for several reasons, one of them with a
hostile Content-Type that the gateway quotes in its reason.  The records
those requests produced (and only those: log offsets) go into a file of
their own, which every test reports on.

The expected numbers come twice: from what the test sent and got back
(statuses, tenants, prompts), and from an independent count over the
records in Python.  zollctl's JSON must equal both, and its text and HTML
must show the same numbers.
"""

import calendar
import collections
import html.parser
import json
import math
import os
import re
import subprocess
import tempfile
import time

import pytest

import zollenv
from conftest import chat, claude

ZOLLCTL = str(zollenv.BUILD / "zollctl")
CHROMIUM = "/usr/bin/chromium"

OPENAI = "/openai/v1/chat/completions"
ANTHROPIC = "/anthropic/v1/messages"
MISTRAL = "/mistral/v1/chat/completions"

EMAIL = "anna.schmidt@example.de"
EMAIL2 = "jonas.weber@example.org"
IBAN = "DE89 3704 0044 0532 0130 00"
PHONE = "+49 151 23456789"
SECRET = "sk-proj-Zq7Lm3Np9Rt2Vx5Bc8Df1Gh4Jk6Mn0Pq3Rs7Tu9Wy2Az5Cd8Ef"
HOSTILE = 'text/<script>alert("zoll")</script>'


def report(*args, check=True):
    r = subprocess.run([ZOLLCTL, "report", *map(str, args)],
                       capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def report_json(*args):
    return json.loads(report("--format", "json", *args).stdout)


class Traffic:
    """What the fixture sent, what it got back, and the records."""

    def __init__(self, path, records, sent, boundary):
        self.path, self.records, self.sent = path, records, sent
        # every record of the first group is before boundary (a whole
        # second, "YYYY-MM-DDTHH:MM:SSZ"), every one of the second after
        self.boundary = boundary


@pytest.fixture(scope="module")
def traffic(env, tmp_path_factory):
    start = zollenv.file_size(env.gw.transfer_log)
    sent = []

    def send(tenant, path, body, status, key=None, headers=None, group=1):
        ex = env.exchange("POST", path, body, tenant=None if key else tenant,
                          key=key, headers=headers)
        assert ex.status == status, ex.raw[:300]
        sent.append({"tenant": tenant, "path": path, "status": ex.status,
                     "group": group,
                     "request_id": ex.headers.get("x-zoll-request-id")})

    send("acme_eu", OPENAI, chat(f"Schreib an {EMAIL}, Tel. {PHONE}"), 200)
    send("acme_eu", OPENAI, chat(f"IBAN {IBAN}, Kopie an {EMAIL2}"), 200)
    send("acme_eu", MISTRAL, chat(f"Bitte antworte {EMAIL}"), 200)
    send("acme_eu", ANTHROPIC, claude(), 451)
    send("globex_any", OPENAI, chat(f"Kontakt: {EMAIL}"), 200)
    send("globex_any", ANTHROPIC, claude(f"Kontakt: {EMAIL2}"), 200)
    send("globex_any", OPENAI, chat(f"mein Schluessel {SECRET}"), 422)
    send(None, OPENAI, chat(), 401, key="zk_not_a_key_of_any_tenant")
    send("globex_any", OPENAI, "{}", 415, headers={"Content-Type": HOSTILE})

    # a whole second between the two groups, for --since and --until
    last = zollenv.read_jsonl(env.gw.transfer_log, start)[-1]["time"]
    boundary = time.strptime(last[:19], "%Y-%m-%dT%H:%M:%S")
    boundary = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                             time.gmtime(time_gm(boundary) + 1))
    while time.time() < time_gm(time.strptime(boundary,
                                              "%Y-%m-%dT%H:%M:%SZ")) + 0.3:
        time.sleep(0.05)

    send("acme_eu", OPENAI, chat(f"Noch einmal an {EMAIL}"), 200, group=2)
    send("globex_any", OPENAI, chat("Hallo, ohne Daten"), 200, group=2)

    end = zollenv.file_size(env.gw.transfer_log)
    with open(env.gw.transfer_log, "rb") as f:
        f.seek(start)
        data = f.read(end - start)

    path = tmp_path_factory.mktemp("report") / "transfer.log"
    path.write_bytes(data)
    records = [json.loads(line) for line in data.splitlines()]

    # the requests are the only traffic: one decision per request
    decisions = [r for r in records if r["event"] == "decision"]
    assert [d["request_id"] for d in decisions] == \
        [s["request_id"] for s in sent]
    for r, s in zip(decisions, sent):
        s["record"] = r
        assert (ms(r["time"]) < ms(boundary)) == (s["group"] == 1), \
            (r, boundary)

    return Traffic(path, records, sent, boundary)


def time_gm(t):
    return calendar.timegm(t)


def ms(t):
    """Milliseconds since 1970 of "YYYY-MM-DD[THH:MM:SS[.fff]Z]" (UTC)."""
    if len(t) == 10:
        t += "T00:00:00Z"
    whole = time_gm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S"))
    frac = t[19:].rstrip("Z").lstrip(".")
    return whole * 1000 + (int(frac[:3].ljust(3, "0")) if frac else 0)


# an independent count over the records, in the model's shape

def count(records, tenant=None):
    m = {"transfers": 0, "third": 0, "refusals": 0,
         "tenants": collections.Counter(), "refused_by": collections.Counter(),
         "sps": collections.Counter(), "sp_refused": collections.Counter(),
         "countries": collections.Counter(), "bases": collections.Counter(),
         "found": collections.Counter(), "redacted": collections.Counter(),
         "requests": collections.Counter(), "measures": collections.Counter(),
         "in_refused": collections.Counter(), "codes": collections.Counter(),
         "days": collections.Counter(), "events": collections.Counter()}
    for r in records:
        if tenant and r.get("tenant") != tenant:
            continue
        m["events"][r["event"]] += 1
        if r["event"] != "decision":
            continue
        sp = (r["subprocessor"]["id"], r["subprocessor"]["legal_name"])
        cats = r["data_categories"] or {}
        if r["decision"] == "refused":
            m["refusals"] += 1
            m["refused_by"][r["tenant"]] += 1
            m["sp_refused"][sp] += 1
            m["codes"][(r["status"], r["code"])] += 1
            m["in_refused"].update(cats)
            continue
        m["transfers"] += 1
        m["third"] += r["third_country"] is True
        m["tenants"][r["tenant"]] += 1
        m["sps"][sp] += 1
        m["countries"][(r["country"], r["third_country"])] += 1
        m["bases"][r["legal_basis"]["id"]] += 1
        m["found"].update(cats)
        m["requests"].update(cats.keys())
        m["redacted"].update({k: v for k, v in cats.items()
                              if k not in r["sent_in_clear"]})
        m["measures"].update(r["supplementary_measures"])
        m["days"][(r["time"][:10], r["country"])] += 1
    return m


def assert_model(doc, m):
    """zollctl's JSON model equals the count over the records."""
    t = doc["totals"]
    assert (t["transfers"], t["third_country_transfers"], t["refusals"]) == \
        (m["transfers"], m["third"], m["refusals"])
    assert t["decisions"] == m["transfers"] + m["refusals"]
    assert doc["scope"]["records_in_report"] == dict(m["events"])
    assert {e["tenant"]: e["transfers"] for e in doc["tenants"]
            if e["transfers"]} == dict(m["tenants"])
    assert {e["tenant"]: e["refusals"] for e in doc["tenants"]
            if e["refusals"]} == dict(m["refused_by"])
    assert {(e["id"], e["legal_name"]): e["transfers"]
            for e in doc["subprocessors"] if e["transfers"]} == dict(m["sps"])
    assert {(e["id"], e["legal_name"]): e["refusals"]
            for e in doc["subprocessors"] if e["refusals"]} == \
        dict(m["sp_refused"])
    assert {(e["country"], e["third_country"]): e["transfers"]
            for e in doc["countries"]} == dict(m["countries"])
    assert {e["id"]: e["transfers"] for e in doc["legal_bases"]} == \
        dict(m["bases"])
    cats = {e["category"]: e for e in doc["data_categories"]}
    for key, counter in (("found", "found"), ("redacted", "redacted"),
                         ("requests", "requests"),
                         ("found_in_refused", "in_refused")):
        assert {k: e[key] for k, e in cats.items() if e[key]} == \
            dict(m[counter]), key
    assert {e["measure"]: e["requests"]
            for e in doc["supplementary_measures"]} == dict(m["measures"])
    assert {(e["status"], e["code"]): e["refusals"]
            for e in doc["refusals"]} == dict(m["codes"])
    days = {(d["date"], c): n for d in doc["days"]
            for c, n in d["countries"].items()}
    assert days == dict(m["days"])
    assert sum(d["transfers"] for d in doc["days"]) == m["transfers"]
    assert sum(d["refusals"] for d in doc["days"]) == m["refusals"]


def by_status(sent, tenant=...):
    return collections.Counter(s["status"] for s in sent
                               if tenant is ... or s["tenant"] == tenant)


# the numbers

def test_json_counts_what_the_requests_did(traffic):
    doc = report_json(traffic.path)
    assert_model(doc, count(traffic.records))

    # and what the test itself sent and got back
    t = doc["totals"]
    assert t["transfers"] == by_status(traffic.sent)[200] == 7
    assert t["refusals"] == len(traffic.sent) - 7 == 4
    assert t["third_country_transfers"] == 3          # globex: all to the US
    tenants = {e["tenant"]: e for e in doc["tenants"]}
    assert set(tenants) == {"acme_eu", "globex_any", None}
    assert (tenants["acme_eu"]["transfers"],
            tenants["acme_eu"]["refusals"]) == (4, 1)
    assert (tenants["globex_any"]["transfers"],
            tenants["globex_any"]["refusals"]) == (3, 2)
    assert tenants[None]["refusals"] == 1              # the unknown key
    assert {(e["status"], e["code"]): e["refusals"]
            for e in doc["refusals"]} == {
        (451, "no_lawful_route"): 1, (422, "pii_blocked"): 1,
        (401, "invalid_api_key"): 1, (415, "body_not_inspectable"): 1}
    assert {e["country"]: e["transfers"] for e in doc["countries"]} == \
        {"IE": 4, "US": 3}
    assert {e["id"]: e["transfers"] for e in doc["legal_bases"]} == \
        {"eea_art28": 4, "dpf_us": 3}
    sps = {e["id"]: e for e in doc["subprocessors"]}
    assert sps["mistral"]["legal_name"] == "Mistral AI SAS"
    assert (sps["mistral"]["transfers"], sps["openai"]["transfers"],
            sps["anthropic"]["transfers"]) == (1, 5, 1)
    assert (sps["openai"]["refusals"], sps["anthropic"]["refusals"]) == \
        (3, 1)

    # the personal data the prompts carried: six e-mail addresses, one
    # IBAN and one phone number forwarded, all redacted; the blocked
    # secret was found but not sent
    cats = {e["category"]: e for e in doc["data_categories"]}
    assert {k: e["found"] for k, e in cats.items() if e["found"]} == \
        {"EMAIL": 6, "IBAN": 1, "PHONE": 1}
    assert {k: e["redacted"] for k, e in cats.items() if e["redacted"]} == \
        {"EMAIL": 6, "IBAN": 1, "PHONE": 1}
    assert cats["SECRET"]["found_in_refused"] == 1
    assert t["redactions"] == 8
    assert {e["measure"]: e["requests"]
            for e in doc["supplementary_measures"]} == \
        {"masking": 4, "pseudonymisation": 2}

    # the Art. 30 view: one flow per tenant, recipient, endpoint, country
    # and basis, with the legal basis in full
    flows = {(f["tenant"], f["subprocessor"]["id"], f["country"]): f
             for f in doc["flows"]}
    assert set(flows) == {("acme_eu", "openai", "IE"),
                          ("acme_eu", "mistral", "IE"),
                          ("globex_any", "openai", "US"),
                          ("globex_any", "anthropic", "US")}
    us = flows[("globex_any", "openai", "US")]
    assert us["legal_basis"]["article"] == "GDPR Art. 45(3)"
    assert "2023/1795" in us["legal_basis"]["instrument"]
    assert (us["transfers"], us["third_country"], us["endpoint"]) == \
        (2, True, "us.mock.zoll.test")
    assert us["data_categories"] == {"EMAIL": 1}
    assert us["supplementary_measures"] == {"pseudonymisation": 1}

    # the header
    sc = doc["scope"]
    assert sc["files"] == [str(traffic.path)]
    assert (sc["since"], sc["until"], sc["tenant"]) == (None, None, None)
    assert sc["records_read"] == {"decision": 11, "outcome": 7}
    assert sc["first_record"] == traffic.records[0]["time"]
    assert sc["last_record"] == max((r["time"] for r in traffic.records),
                                    key=ms)
    assert doc["integrity_verified"] is False
    assert doc["outcomes"]["records"] == 7
    assert doc["outcomes"]["by_status"] == {"200": 7}


def test_text_shows_the_same_numbers(traffic):
    out = report(traffic.path).stdout
    assert re.search(r"^Forwarded to a subprocessor \(transfers\)\s+7$", out,
                     re.M)
    assert re.search(r"^\.\.\. of which to a third country .*\s3$", out, re.M)
    assert re.search(r"^Refused \(nothing was sent\)\s+4$", out, re.M)
    # tenant, forwarded, third country, refused, found, redacted
    assert re.search(r"^acme_eu\s+4\s+0\s+1\s+6\s+6$", out, re.M)
    assert re.search(r"^globex_any\s+3\s+3\s+2\s+2\s+2$", out, re.M)
    assert re.search(r"^\(none: key missing or not recognised\)"
                     r"\s+0\s+0\s+1\s+0\s+0$", out, re.M)
    assert re.search(r"^IE\s+no \(EEA\)\s+4$", out, re.M)
    assert re.search(r"^US\s+yes\s+3$", out, re.M)
    assert re.search(r"^dpf_us\s+3\s+GDPR Art\. 45\(3\)", out, re.M)
    assert re.search(r"^EMAIL\s+6\s+6\s+6\s+0\s+0$", out, re.M)
    assert re.search(r"^\s*451\s+no_lawful_route\s+1\s", out, re.M)
    assert re.search(r"^Records read\s+18 \(decision 11, outcome 7\)$", out,
                     re.M)
    assert "does not" in out or "not checked by this report" in out
    assert "zollctl verify" in out
    # date, transfers, IE, US, refused (one day, unless run at midnight)
    days = {r["time"][:10] for r in traffic.records}
    if len(days) == 1:
        assert re.search(rf"^{days.pop()}\s+7\s+4\s+3\s+4$", out, re.M)


def test_several_files_count_like_one(traffic, tmp_path):
    lines = traffic.path.read_bytes().splitlines(keepends=True)
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(b"".join(lines[:7]))
    b.write_bytes(b"".join(lines[7:]))
    one = report_json(traffic.path)
    two = report_json(a, b)
    assert two["scope"]["files"] == [str(a), str(b)]
    for doc in (one, two):
        del doc["scope"]["files"], doc["generated_at"]
    assert one == two
    # and standard input
    r = subprocess.run([ZOLLCTL, "report", "--format", "json", "-"],
                       input=traffic.path.read_text(), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["totals"] == one["totals"]


def test_values_sent_in_clear_are_counted_apart_from_redactions(
        env, policy, tmp_path):
    # acme_eu's profile keeps e-mail addresses as they are
    policy["redaction"]["profiles"]["keep_email"] = {
        "default": "mask", "entities": {"EMAIL": "keep"}}
    acme = next(t for t in policy["tenants"] if t["id"] == "acme_eu")
    acme["redaction"] = "keep_email"
    env.apply_policy(policy)

    start = zollenv.file_size(env.gw.transfer_log)
    for text in (f"an {EMAIL} und {EMAIL2}, Tel. {PHONE}", f"nur {EMAIL}"):
        ex = env.exchange("POST", OPENAI, chat(text), tenant="acme_eu")
        assert ex.status == 200
        assert EMAIL in ex.upstream[0]["body"]          # really in clear
    path = tmp_path / "clear.log"
    with open(env.gw.transfer_log, "rb") as f:
        f.seek(start)
        path.write_bytes(f.read())
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["sent_in_clear"] for r in recs if r["event"] == "decision"] \
        == [["EMAIL"], ["EMAIL"]]

    doc = report_json(path)
    assert_model(doc, count(recs))
    cats = {e["category"]: e for e in doc["data_categories"]}
    assert (cats["EMAIL"]["found"], cats["EMAIL"]["sent_in_clear"],
            cats["EMAIL"]["redacted"]) == (3, 3, 0)
    assert (cats["PHONE"]["found"], cats["PHONE"]["sent_in_clear"],
            cats["PHONE"]["redacted"]) == (1, 0, 1)
    assert doc["totals"]["redactions"] == 1
    assert doc["flows"][0]["sent_in_clear"] == {"EMAIL": 3}
    assert re.search(r"^EMAIL\s+2\s+3\s+0\s+3\s+0$", report(path).stdout,
                     re.M)


# tenants

OTHERS = {
    # what acme_eu's report must not show: globex_any and the unknown key
    "acme_eu": ["globex_any", "dpf_us", "Art. 45(3)", "2023/1795",
                "pseudonymisation", "us.mock.zoll.test", "pii_blocked",
                "SECRET", "invalid_api_key", "body_not_inspectable",
                "script", "alert", "not recognised"],
    # what globex_any's must not show: acme_eu (alone on Mistral, the EU
    # and masking) and the unknown key
    "globex_any": ["acme_eu", "Mistral", "mistral", "eea_art28",
                   "Art. 28", "eu.mock.zoll.test", "masking", "IBAN",
                   "PHONE", "no_lawful_route", "invalid_api_key",
                   "not recognised"],
}


@pytest.mark.parametrize("tenant", sorted(OTHERS))
def test_a_tenants_report_shows_nothing_of_other_tenants(traffic, tenant):
    for fmt in ("text", "json", "html"):
        out = report("--tenant", tenant, "--format", fmt, traffic.path).stdout
        assert tenant in out
        for word in OTHERS[tenant]:
            assert word not in out, (fmt, word)

    doc = report_json("--tenant", tenant, traffic.path)
    assert_model(doc, count(traffic.records, tenant))
    assert [e["tenant"] for e in doc["tenants"]] == [tenant]
    assert {f["tenant"] for f in doc["flows"]} == {tenant}
    # the header counts this tenant's records only
    mine = [r for r in traffic.records if r.get("tenant") == tenant]
    assert sum(doc["scope"]["records_read"].values()) == len(mine)
    assert doc["scope"]["tenant"] == tenant
    assert doc["totals"]["transfers"] == by_status(traffic.sent,
                                                   tenant)[200]


def test_a_tenant_without_records_gets_an_empty_report(traffic):
    doc = report_json("--tenant", "initech_adequate", traffic.path)
    assert doc["scope"]["records_read"] == {}
    assert doc["tenants"] == [] and doc["flows"] == []
    assert doc["totals"]["decisions"] == 0
    out = report("--tenant", "initech_adequate", traffic.path).stdout
    assert "Nothing was forwarded in this period." in out
    for other in ("acme_eu", "globex_any"):
        assert other not in out


# periods

def test_since_and_until_split_at_the_second(traffic):
    after = report_json("--since", traffic.boundary, traffic.path)
    before = report_json("--until", traffic.boundary, traffic.path)
    cut = ms(traffic.boundary)
    late = [r for r in traffic.records if ms(r["time"]) >= cut]
    early = [r for r in traffic.records if ms(r["time"]) < cut]
    assert_model(after, count(late))
    assert_model(before, count(early))
    assert after["totals"]["transfers"] == sum(
        1 for s in traffic.sent if s["group"] == 2 and s["status"] == 200)
    assert after["totals"]["transfers"] == 2
    assert before["totals"]["transfers"] == 5
    assert after["scope"]["since"] == traffic.boundary
    assert ms(after["scope"]["first_record"]) >= cut
    assert before["scope"]["until"] == traffic.boundary
    assert ms(before["scope"]["last_record"]) < cut
    assert after["scope"]["records_read"] == \
        before["scope"]["records_read"]
    text = report("--since", traffic.boundary, traffic.path).stdout
    assert "(inclusive)" in text and re.search(
        r"^Forwarded to a subprocessor \(transfers\)\s+2$", text, re.M)


def shifted(records, times):
    """The records again, the nth decision (and its outcome) at times[n]."""
    out, when = [], {}
    decisions = [r for r in records if r["event"] == "decision"]
    for r, t in zip(decisions, times):
        when[r["request_id"]] = t
    for r in records:
        if r["request_id"] in when:
            out.append(dict(r, time=when[r["request_id"]]))
    return out


def test_dates_since_inclusive_until_exclusive(traffic, tmp_path):
    times = ["2026-03-01T23:59:59.999Z", "2026-03-02T00:00:00.000Z",
             "2026-03-02T12:00:00.000Z", "2026-03-02T23:59:59.999Z",
             "2026-03-03T00:00:00.000Z", "2026-03-05T08:00:00.000Z"]
    recs = shifted(traffic.records, times)
    path = tmp_path / "days.log"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))

    doc = report_json("--since", "2026-03-02", "--until", "2026-03-03", path)
    inside = [r for r in recs
              if ms("2026-03-02") <= ms(r["time"]) < ms("2026-03-03")]
    assert_model(doc, count(inside))
    assert doc["totals"]["decisions"] == 3
    assert {d["date"] for d in doc["days"]} == {"2026-03-02"}
    assert doc["scope"]["since"] == "2026-03-02T00:00:00Z"
    assert doc["scope"]["until"] == "2026-03-03T00:00:00Z"

    # a bound to the second; and per day over the whole file
    doc = report_json("--until", "2026-03-01T23:59:59Z", path)
    assert doc["totals"]["decisions"] == 0
    doc = report_json(path)
    assert_model(doc, count(recs))
    assert [d["date"] for d in doc["days"]] == \
        ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-05"]


@pytest.mark.parametrize("bad", ["2026-3-1", "2026-02-30", "yesterday",
                                 "2026-03-01T12:00:00", "2026-03-01 12:00"])
def test_a_bad_date_is_a_usage_error(traffic, bad):
    r = report("--since", bad, traffic.path, check=False)
    assert r.returncode == 2 and "YYYY-MM-DD" in r.stderr and not r.stdout


# unreadable input

def test_a_malformed_line_is_named_and_no_report_is_written(traffic,
                                                            tmp_path):
    lines = traffic.path.read_text().splitlines(keepends=True)
    good, bad = tmp_path / "good.log", tmp_path / "bad.log"
    good.write_text("".join(lines))
    bad.write_text("".join(lines[:3]) + '{"v":1,"event":"decision",\n'
                   + "".join(lines[3:6]) + "[1,2]\n" + "".join(lines[6:]))
    for fmt in ("text", "json", "html"):
        r = report("--format", fmt, good, bad, check=False)
        assert r.returncode == 1
        assert r.stdout == ""
        assert f"{bad}:4: not valid JSON" in r.stderr
        assert f"{bad}:8: not a transfer record" in r.stderr
        assert str(good) not in r.stderr
        assert "no report written" in r.stderr

    # a line cut off by a crash: named too
    cut = tmp_path / "cut.log"
    cut.write_text("".join(lines[:2]) + lines[2][:40])
    r = report(cut, check=False)
    assert r.returncode == 1 and f"{cut}:3:" in r.stderr
    assert "no newline" in r.stderr

    r = report(tmp_path / "missing.log", check=False)
    assert r.returncode == 1 and "missing.log" in r.stderr


def test_chain_fields_checkpoints_and_new_events_are_tolerated(traffic,
                                                               tmp_path):
    out, prev = [], "0" * 64
    for i, r in enumerate(traffic.records):
        r = dict(r, seq=i + 1, prev=prev, hash=f"{i:064x}")
        prev = r["hash"]
        out.append(r)
    t = traffic.records[3]["time"]
    out.insert(4, {"v": 1, "event": "checkpoint", "time": t,
                   "reason": "interval", "key": "k1", "sig": "c2ln",
                   "seq": 99, "prev": prev, "hash": "f" * 64})
    out.insert(6, {"v": 1, "event": "rotation", "time": t,
                   "tenant": None, "whatever": {"nested": [1, 2]}})
    path = tmp_path / "chained.log"
    path.write_text("".join(json.dumps(r) + "\n" for r in out))

    doc = report_json(path)
    assert_model(doc, count(out))
    assert doc["scope"]["records_read"] == \
        {"checkpoint": 1, "decision": 11, "outcome": 7, "rotation": 1}
    assert doc["totals"] == report_json(traffic.path)["totals"]
    # a checkpoint belongs to no tenant
    doc = report_json("--tenant", "acme_eu", path)
    assert "checkpoint" not in doc["scope"]["records_read"]


# HTML

class Page(html.parser.HTMLParser):
    """Tags, attributes and text of an HTML page."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text = [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained_and_escapes_the_log(traffic, tmp_path):
    page = report("--format", "html", traffic.path).stdout
    hostile = traffic.sent[8]["record"]["reason"]
    assert "<script>" in hostile            # the gateway quoted the header

    low = page.lower()
    for bad in ("<script", "<link", "<img", "<iframe", "<object", "<embed",
                "@import", "url(", "@font-face", "javascript:"):
        assert bad not in low, bad
    p = Page(page)
    for name, value in p.attrs:
        assert not name.startswith("on"), name
        assert not re.search(r"https?:|//", value or ""), (name, value)
    assert set(p.tags) >= {"html", "head", "title", "style", "body", "svg",
                           "table"}
    assert "script" not in p.tags

    # the hostile reason is text: escaped in the source, intact when read
    esc = (hostile.replace("&", "&amp;").replace("<", "&lt;")
           .replace(">", "&gt;").replace('"', "&quot;")
           .replace("'", "&#39;"))
    assert esc in page
    assert hostile in "".join(p.text)

    # hostile names wherever a log string lands: tables, chart legends,
    # bar tooltips, axis labels, the page title
    evil = "<script>alert(1)</script>&\"'"
    recs = []
    for r in traffic.records:
        r = json.loads(json.dumps(r))
        if r.get("tenant") == "acme_eu":
            r["tenant"] = evil
        if r.get("country") == "IE":
            r["country"] = "I<u>E"
        if (r.get("legal_basis") or {}).get("id") == "eea_art28":
            r["legal_basis"]["id"] = "<i>basis"
        if "EMAIL" in (r.get("data_categories") or {}):
            r["data_categories"]["<svg onload=x>"] = \
                r["data_categories"].pop("EMAIL")
        if r.get("reason"):
            r["reason"] += " \x1b[31mred\x07"
        recs.append(r)
    path = tmp_path / "evil.log"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    for args in ((), ("--tenant", evil)):
        page = report("--format", "html", *args, path).stdout
        assert "<script" not in page.lower() and "<u>" not in page
        assert "<i>" not in page and "<svg onload" not in page
        p = Page(page)
        assert not {"script", "u", "i"} & set(p.tags)
        text = "".join(p.text)
        for name in (evil, "I<u>E", "<i>basis", "<svg onload=x>"):
            assert name in text, name        # shown, as text
        assert "\x1b" not in page and "\x07" not in page
    out = report(path).stdout
    assert evil in out                       # text is plain text...
    assert "\x1b" not in out and "\x07" not in out   # ...without controls

    # a hostile tenant filter is escaped too
    page = report("--tenant", "<script>x</script>", "--format", "html",
                  traffic.path).stdout
    assert "<script" not in page.lower()
    assert "&lt;script&gt;x&lt;/script&gt;" in page


# Chromium: the page really renders

def chromium(*args, timeout=60):
    assert os.access(CHROMIUM, os.X_OK), \
        "Debian's chromium is missing: ./build.sh installs it"
    with tempfile.TemporaryDirectory(prefix="zoll-chromium-") as profile:
        try:
            r = subprocess.run(
                [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                 "--no-first-run", "--disable-extensions",
                 "--hide-scrollbars", "--force-device-scale-factor=1",
                 f"--user-data-dir={profile}", *args],
                capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"chromium did not finish within {timeout} s")
    assert r.returncode == 0, f"chromium failed:\n{r.stderr[-2000:]}"
    return r


class Dom(html.parser.HTMLParser):
    """The charts and tables of Chromium's DOM dump."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.svgs, self.tables = {}, {}
        self.svg = self.table = None
        self.in_title = self.in_th = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.svg = self.svgs.setdefault(a.get("id"), {"bars": [],
                                                          "texts": []})
        elif tag == "rect" and self.svg is not None:
            self.svg["bars"].append([float(a.get("width", 0)),
                                     float(a.get("height", 0)), ""])
        elif tag == "title" and self.svg is not None:
            self.in_title = True
        elif tag == "table":
            self.table = self.tables.setdefault(a.get("id"), [])
        elif tag == "th" and self.table is not None and \
                a.get("scope") == "row":
            self.in_th = True
            self.table.append("")

    def handle_endtag(self, tag):
        if tag == "svg":
            self.svg = None
        elif tag == "table":
            self.table = None
        elif tag == "title":
            self.in_title = False
        elif tag == "th":
            self.in_th = False

    def handle_data(self, data):
        if self.in_title and self.svg is not None and self.svg["bars"]:
            self.svg["bars"][-1][2] += data
        elif self.svg is not None:
            self.svg["texts"].append(data)
        if self.in_th:
            self.table[-1] += data

    def bars(self, svg):
        """Rectangles with a tooltip (legend squares have none)."""
        return [b for b in self.svgs[svg]["bars"] if b[2]]


def test_chromium_renders_the_charts_and_tables(traffic, tmp_path):
    doc = report_json(traffic.path)
    page = tmp_path / "report.html"
    page.write_text(report("--format", "html", traffic.path).stdout)
    started = time.monotonic()

    dom = Dom(chromium("--dump-dom", page.as_uri()).stdout)
    assert {"chart-by-country", "chart-by-legal-basis",
            "chart-redactions"} <= set(dom.svgs), dom.svgs.keys()

    # one bar segment per day and country (one day here: IE and US), per
    # day and basis, per redacted category; every one with a size
    for svg, want in (("chart-by-country", {"IE", "US"}),
                      ("chart-by-legal-basis", {"eea_art28", "dpf_us"}),
                      ("chart-redactions", {"EMAIL", "IBAN", "PHONE"})):
        bars = dom.bars(svg)
        assert bars and all(w > 0 and h > 0 for w, h, _ in bars), bars
        names = {re.search(r"(?:, )?([A-Za-z_0-9]+): \d", t).group(1)
                 for _, _, t in bars}
        assert names == want, (svg, bars)
        assert want <= set(dom.svgs[svg]["texts"])      # the legend/labels
    days = sorted({d["date"] for d in doc["days"]})
    heights = collections.Counter()
    for _, h, t in dom.bars("chart-by-country"):
        heights[t.split(": ")[0].split(", ")[1]] += h
    # IE carried 4 transfers, US 3: the bars are in proportion
    assert math.isclose(heights["IE"] / heights["US"], 4 / 3, rel_tol=0.02)

    assert dom.tables["table-tenants"] == ["acme_eu", "globex_any",
                                           "(none: key missing or not "
                                           "recognised)"]
    assert dom.tables["table-countries"] == ["IE", "US"]
    assert dom.tables["table-days-country"] == days
    assert set(dom.tables["table-categories"]) == \
        {e["category"] for e in doc["data_categories"]}
    assert len(dom.tables["table-flows"]) == len(doc["flows"]) == 4

    # and it is drawn: the two series colours fill the first bars
    shot = tmp_path / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1200,2000",
             page.as_uri())
    assert shot.exists() and shot.stat().st_size > 10000
    from PIL import Image
    with Image.open(shot) as im:
        assert im.size == (1200, 2000)
        colours = collections.Counter(im.convert("RGB").getdata())
    assert len(colours) > 50, "the screenshot is nearly blank"
    blue, orange = (0x00, 0x72, 0xb2), (0xe6, 0x9f, 0x00)
    assert colours[blue] > 2000 and colours[orange] > 1000, \
        (colours[blue], colours[orange])
    assert time.monotonic() - started < 30
