"""Tenant authentication with the key the provider SDK sends, and proof
that the client's key never reaches a provider while the tenant's own
credential does."""

import json

from conftest import chat, claude

CRED = "demo-cred-{}-{}-not-a-real-key"


def test_unknown_key_gets_401_and_nothing_is_forwarded(env):
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      key="zk_not-a-key-of-any-tenant")
    assert ex.status == 401
    assert ex.upstream == []
    err = ex.json["error"]
    assert (err["code"], err["type"]) == \
        ("invalid_api_key", "authentication_error")
    assert err["request_id"] == ex.headers["x-zoll-request-id"]
    d = ex.record()
    assert (d["decision"], d["status"], d["tenant"]) == \
        ("refused", 401, None)
    assert d["region"] is None and d["legal_basis"] is None


def test_missing_key_gets_401(env):
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat())
    assert ex.status == 401 and ex.upstream == []
    assert "no API key" in ex.json["error"]["message"]


def test_two_different_keys_are_refused(env):
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      headers={"Authorization":
                               f"Bearer {env.keys['acme_eu']}",
                               "x-api-key": env.keys["globex_any"]})
    assert ex.status == 401 and ex.upstream == []
    assert "several different API keys" in ex.json["error"]["message"]


def test_non_bearer_authorization_is_refused(env):
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      headers={"Authorization":
                               f"Basic {env.keys['acme_eu']}"})
    assert ex.status == 401 and ex.upstream == []


def test_openai_tenant_credential_replaces_the_client_key(env):
    key = env.keys["globex_any"]
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      tenant="globex_any")
    assert ex.status == 200
    (seen,) = ex.upstream
    assert seen["headers"]["authorization"] == \
        "Bearer " + CRED.format("globex_any", "openai")
    assert key not in json.dumps(seen)


def test_anthropic_tenant_credential_replaces_the_client_key(env):
    key = env.keys["globex_any"]
    ex = env.exchange("POST", "/anthropic/v1/messages", claude(),
                      tenant="globex_any",
                      headers={"anthropic-version": "2023-06-01"})
    assert ex.status == 200
    assert ex.json["content"][0]["text"] == "[mock-us] You said: Hallo Claude"
    (seen,) = ex.upstream
    assert seen["headers"]["x-api-key"] == \
        CRED.format("globex_any", "anthropic")
    assert "authorization" not in seen["headers"]
    assert seen["headers"]["anthropic-version"] == "2023-06-01"
    assert key not in json.dumps(seen)


def test_key_sent_in_every_key_header_is_stripped_from_all(env):
    key = env.keys["acme_eu"]
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      headers={"Authorization": f"Bearer {key}",
                               "x-api-key": key, "x-goog-api-key": key})
    assert ex.status == 200
    (seen,) = ex.upstream
    assert key not in json.dumps(seen)
    assert "x-api-key" not in seen["headers"]
    assert "x-goog-api-key" not in seen["headers"]


def test_client_address_is_neither_forwarded_nor_logged_raw(env):
    ex = env.exchange("POST", "/openai/v1/chat/completions",
                      chat("marker-7f3a9 bitte nicht loggen"),
                      tenant="acme_eu",
                      headers={"X-Forwarded-For": "198.51.100.23",
                               "X-Real-IP": "198.51.100.23"})
    assert ex.status == 200
    (seen,) = ex.upstream
    assert "198.51.100.23" not in json.dumps(seen)
    for r in ex.records:
        text = json.dumps(r)
        assert "127.0.0.1" not in text and "198.51.100.23" not in text
        # the transfer log proves a transfer, it does not keep payload
        assert "marker-7f3a9" not in text
    assert ex.record()["client"] == "127.0.0.0/24"


def test_query_string_key_authenticates_and_is_stripped(env):
    """Google's clients may send ?key=...; it must not reach the provider,
    while the other arguments do."""
    key = env.keys["acme_eu"]
    ex = env.exchange("POST", f"/openai/v1/chat/completions?alt=sse&key={key}"
                      "&x=1", chat())
    assert ex.status == 200
    (seen,) = ex.upstream
    assert seen["path"] == "/v1/chat/completions?alt=sse&x=1"
    assert key not in json.dumps(seen)


def test_query_string_key_is_stripped_without_a_rewrite(env, make_gateway):
    """Without "rewrite", the proxy sends the original request line unless
    the module marks it invalid: the key must still be removed."""
    gw = make_gateway(edit=lambda t: t.replace(
        "location /openai/ {\n    zoll openai;\n"
        "    rewrite ^/openai(/.*)$ $1 break;",
        "location /v1/ {\n    zoll openai;"))
    key = env.keys["acme_eu"]
    mark = env.eu.mark()
    status, _, _ = gw.request("POST", f"/v1/chat/completions?key={key}",
                              chat())
    assert status == 200
    (seen,) = env.eu.since(mark)
    assert seen["path"] == "/v1/chat/completions"
    assert key not in json.dumps(seen)


def test_url_encoded_key_argument_is_recognised_and_stripped(env):
    """The provider would decode "%6Bey" to "key": so does Zoll."""
    key = env.keys["acme_eu"]
    ex = env.exchange("POST", "/openai/v1/chat/completions?%6Bey="
                      + key.replace("_", "%5F") + "&alt=sse", chat())
    assert ex.status == 200
    (seen,) = ex.upstream
    assert seen["path"] == "/v1/chat/completions?alt=sse"
    assert key not in json.dumps(seen)
    assert key.replace("_", "%5F") not in json.dumps(seen)


def test_query_key_conflicting_with_header_key_is_refused(env):
    ex = env.exchange("POST", "/openai/v1/chat/completions?key="
                      + env.keys["globex_any"], chat(), tenant="acme_eu")
    assert ex.status == 401 and ex.upstream == []
