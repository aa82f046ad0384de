"""Routing by residency mode and legal basis, proven by what the EU and US
mock providers recorded and by the transfer records."""

from conftest import chat, claude


def test_eea_only_tenant_reaches_only_the_eu_endpoint(env):
    ex = env.exchange("POST", "/openai/v1/chat/completions",
                      chat("Wo ist mein Paket?"), tenant="acme_eu")

    assert ex.status == 200
    assert ex.json["choices"][0]["message"]["content"] == \
        "[mock-eu] You said: Wo ist mein Paket?"
    assert len(ex.eu) == 1 and ex.us == []
    assert ex.eu[0]["path"] == "/v1/chat/completions"
    assert ex.eu[0]["headers"]["host"] == "eu.mock.zoll.test"

    d = ex.record("decision")
    assert d["decision"] == "forwarded"
    assert d["tenant"] == "acme_eu" and d["residency"] == "eea_only"
    assert d["subprocessor"] == {"id": "openai",
                                 "legal_name": "OpenAI, L.L.C."}
    assert (d["region"], d["country"], d["third_country"]) == \
        ("eu", "IE", False)
    assert d["endpoint"] == "eu.mock.zoll.test"
    assert d["legal_basis"]["id"] == "eea_art28"
    assert d["request_id"] == ex.headers["x-zoll-request-id"]

    o = ex.record("outcome")
    assert o["request_id"] == d["request_id"]
    assert (o["status"], o["upstream_status"]) == (200, 200)
    assert o["response_bytes"] > 0 and o["duration_ms"] >= 0


def test_any_tenant_goes_to_the_preferred_us_endpoint_with_its_basis(env):
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      tenant="globex_any")

    assert ex.status == 200
    assert ex.eu == [] and len(ex.us) == 1
    d = ex.record()
    assert (d["region"], d["country"], d["third_country"]) == \
        ("us", "US", True)
    assert d["legal_basis"]["id"] == "dpf_us"
    assert "(EU) 2023/1795" in d["legal_basis"]["instrument"]
    assert d["legal_basis"]["article"] == "GDPR Art. 45(3)"


def test_suspending_a_basis_moves_transfers_to_scc_then_eu_then_451(
        env, policy):
    bases = {b["id"]: b for b in policy["legal_bases"]}

    # the DPF falls: the same request goes on under the SCCs
    bases["dpf_us"]["suspended"] = True
    env.apply_policy(policy)
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      tenant="globex_any")
    assert ex.status == 200 and len(ex.us) == 1 and ex.eu == []
    d = ex.record()
    assert d["third_country"] is True
    lb = d["legal_basis"]
    assert lb["id"] == "scc_m3"
    assert lb["article"] == "GDPR Art. 46(2)(c)"
    assert lb["instrument"] == ("Standard Contractual Clauses, Commission "
                                "Implementing Decision (EU) 2021/914")
    assert lb["module"].startswith("Module Three")
    assert '"dpf_us" is suspended' in d["reason"]

    # the SCCs fall too: OpenAI has an EU region, so it moves there
    bases["scc_m3"]["suspended"] = True
    env.apply_policy(policy)
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      tenant="globex_any")
    assert ex.status == 200 and ex.us == [] and len(ex.eu) == 1
    assert ex.json["choices"][0]["message"]["content"].startswith(
        "[mock-eu]")
    assert ex.record()["region"] == "eu"
    assert ex.record()["third_country"] is False

    # Anthropic has no EU region: no lawful route, nothing leaves
    ex = env.exchange("POST", "/anthropic/v1/messages", claude(),
                      tenant="globex_any")
    assert ex.status == 451
    assert ex.upstream == []
    err = ex.json
    assert err["type"] == "error" and err["error"]["code"] == \
        "no_lawful_route"
    assert '"dpf_us" is suspended' in err["error"]["message"]
    assert '"scc_m3" is suspended' in err["error"]["message"]
    d = ex.record()
    assert (d["decision"], d["status"], d["code"]) == \
        ("refused", 451, "no_lawful_route")
    assert not [r for r in ex.records if r["event"] == "outcome"]


def test_adequate_tenant_uses_adequacy_but_not_sccs(env, policy):
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      tenant="initech_adequate")
    assert ex.status == 200 and len(ex.us) == 1
    assert ex.record()["legal_basis"]["id"] == "dpf_us"

    # without the DPF the US is no adequate country: SCCs do not count
    next(b for b in policy["legal_bases"]
         if b["id"] == "dpf_us")["suspended"] = True
    env.apply_policy(policy)
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      tenant="initech_adequate")
    assert ex.status == 200 and ex.us == [] and len(ex.eu) == 1
    assert ex.record()["region"] == "eu"


def test_eea_only_tenant_gets_451_for_a_us_only_provider(env):
    ex = env.exchange("POST", "/anthropic/v1/messages", claude(),
                      tenant="acme_eu")
    assert ex.status == 451
    assert ex.upstream == []
    assert ex.json["error"]["code"] == "no_lawful_route"
    assert "eea_only" in ex.json["error"]["message"]
    assert ex.headers["content-type"] == "application/json"


def test_objected_subprocessor_is_refused_with_403(env):
    ex = env.exchange("POST", "/anthropic/v1/messages", claude(),
                      tenant="initech_adequate")
    assert ex.status == 403
    assert ex.upstream == []
    assert ex.json["error"]["code"] == "subprocessor_objected"
    assert ex.json["error"]["type"] == "permission_error"
    d = ex.record()
    assert (d["decision"], d["status"], d["tenant"]) == \
        ("refused", 403, "initech_adequate")


def test_subprocessor_not_enabled_is_refused_with_403(env):
    ex = env.exchange("POST", "/mistral/v1/chat/completions", chat(),
                      tenant="globex_any")
    assert ex.status == 403
    assert ex.upstream == []
    assert ex.json["error"]["code"] == "subprocessor_not_enabled"


def test_tenant_region_list_restricts_and_orders(env, policy):
    globex = next(t for t in policy["tenants"] if t["id"] == "globex_any")
    openai = next(g for g in globex["subprocessors"] if g["id"] == "openai")
    openai["regions"] = ["eu", "us"]
    env.apply_policy(policy)

    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      tenant="globex_any")
    assert ex.status == 200 and len(ex.eu) == 1 and ex.us == []


def test_streaming_response_passes_through(env):
    ex = env.exchange("POST", "/openai/v1/chat/completions",
                      chat("Stream bitte", stream=True), tenant="acme_eu")
    assert ex.status == 200
    assert ex.headers["content-type"].startswith("text/event-stream")
    text = ex.raw.decode()
    assert text.rstrip().endswith("data: [DONE]")
    assert ex.record("outcome")["status"] == 200
