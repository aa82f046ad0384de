"""A request that Zoll refused, or that passed through Zoll, cannot reach a
provider by any other path of the nginx configuration."""

import http.client
import json
import time

from conftest import chat, claude, request_as, wait_records

# A location whose proxy_pass does not depend on $zoll_upstream: after a
# refusal the proxy must still never run.
STATIC_PROXY = """
location /static-anthropic/ {
    zoll anthropic;
    client_max_body_size 9m;    # above zoll_max_body_size, or nginx -t fails
    rewrite ^/static-anthropic(/.*)$ $1 break;
    proxy_pass https://zoll_us;
    proxy_ssl_server_name on;
    proxy_ssl_name us.mock.zoll.test;
    proxy_ssl_verify on;
    proxy_set_header Host us.mock.zoll.test;
}
"""


def quiet(mock, mark, seconds=0.5):
    """Nothing reached the mock, also a little after the response."""
    time.sleep(seconds)
    return mock.since(mark) == []


def held_request(gw, method, path, body, headers):
    """A request whose client keeps the connection open afterwards, as SDK
    clients with keep-alive do: anything nginx still does for the request
    gets the time to happen."""
    conn = http.client.HTTPSConnection("127.0.0.1", gw.https_port,
                                       context=gw.ssl_context())
    conn.request(method, path, body and json.dumps(body), headers)
    resp = conn.getresponse()
    return conn, resp.status, resp.read()


def test_refusal_never_runs_the_proxy_content_handler(env, make_gateway):
    gw = make_gateway(edit=lambda t: t + STATIC_PROXY)
    mark = env.us.mark()

    # wrong key, and a tenant with no lawful route to this provider
    for key, status in (("zk_wrong-key-7c1d", 401),
                        (env.keys["acme_eu"], 451)):
        conn, got, body = held_request(
            gw, "POST", "/static-anthropic/v1/messages", claude(),
            {"x-api-key": key, "Content-Type": "application/json"})
        try:
            assert got == status
            assert json.loads(body)["type"] == "error"
            assert quiet(env.us, mark)
        finally:
            conn.close()

    log = (gw.run / "error.log").read_text()
    assert "header already sent" not in log
    assert "invalid URL prefix" not in log


def test_refusal_of_a_head_request_sends_nothing(env, make_gateway):
    gw = make_gateway(edit=lambda t: t + STATIC_PROXY)
    mark = env.us.mark()
    conn, status, body = held_request(gw, "HEAD",
                                      "/static-anthropic/v1/messages", None,
                                      {"x-api-key": "zk_wrong"})
    try:
        assert status == 401 and body == b""
        assert quiet(env.us, mark)
    finally:
        conn.close()


def test_limit_req_keyed_on_the_tenant_limits_per_tenant(env, make_gateway):
    # limit_req runs in the preaccess phase, before Zoll's decision: the
    # tenant must already be known there
    gw = make_gateway(
        extra="limit_req_zone $zoll_tenant zone=zoll_t:1m rate=1r/m;",
        edit=lambda t: t.replace("    zoll openai;\n",
                                 "    zoll openai;\n    limit_req zone=zoll_t;\n",
                                 1))
    mark = env.eu.mark(), env.us.mark()
    assert request_as(gw, env.keys["acme_eu"])[0] == 200
    assert request_as(gw, env.keys["acme_eu"])[0] == 503
    # another tenant has its own budget
    assert request_as(gw, env.keys["globex_any"])[0] == 200
    assert len(env.eu.since(mark[0])) == 1
    assert len(env.us.since(mark[1])) == 1


MIRROR = """
location /mirror/ {
    internal;
    %s
    proxy_pass https://zoll_eu$request_uri;
    proxy_ssl_server_name on;
    proxy_ssl_name eu.mock.zoll.test;
    proxy_ssl_verify on;
    proxy_set_header Host eu.mock.zoll.test;
}
"""


def mirrored(text, zoll_off):
    text = text.replace("    zoll openai;\n",
                        "    zoll openai;\n    mirror /mirror/;\n", 1)
    return text + MIRROR % ("zoll off;" if zoll_off else "")


def test_mirror_into_a_location_without_zoll_is_refused(env, make_gateway):
    gw = make_gateway(edit=lambda t: mirrored(t, zoll_off=False))
    mark = env.eu.mark()
    status, _, _ = request_as(gw, env.keys["acme_eu"],
                              body=chat("mirror-probe-41"))
    assert status == 200
    time.sleep(0.5)
    seen = env.eu.since(mark)
    # the real request went through Zoll; its mirror copy went nowhere
    assert [r["path"] for r in seen] == ["/v1/chat/completions"]
    records = wait_records(gw, 3)
    refused = [r for r in records if r.get("code") == "unprotected_location"]
    assert len(refused) == 1 and refused[0]["status"] == 500
    assert refused[0]["path"].startswith("/mirror/")


def test_zoll_off_lets_an_operator_allow_such_a_location(env, make_gateway):
    gw = make_gateway(edit=lambda t: mirrored(t, zoll_off=True))
    mark = env.eu.mark()
    assert request_as(gw, env.keys["acme_eu"])[0] == 200
    deadline = time.monotonic() + 3
    while len(env.eu.since(mark)) < 2:
        assert time.monotonic() < deadline, env.eu.since(mark)
        time.sleep(0.05)


def test_key_variables_evaluated_early_do_not_carry_the_key(env,
                                                            make_gateway):
    gw = make_gateway(edit=lambda t: t.replace(
        "    zoll openai;\n",
        "    zoll openai;\n    set $seen $http_x_api_key$arg_key;\n"
        "    proxy_set_header X-Debug \"$http_x_api_key$arg_key\";\n", 1))
    key = env.keys["acme_eu"]
    mark = env.eu.mark()
    status, _, _ = gw.request("POST", f"/openai/v1/chat/completions?key={key}",
                              chat(), {"x-api-key": key})
    assert status == 200
    (seen,) = env.eu.since(mark)
    assert "x-debug" not in seen["headers"]
    assert key not in json.dumps(seen)


def test_refusal_carries_one_request_id_header(env):
    conn = http.client.HTTPSConnection("127.0.0.1", env.gw.https_port,
                                       context=env.gw.ssl_context())
    try:
        conn.request("POST", "/openai/v1/chat/completions", "{}",
                     {"Authorization": "Bearer zk_wrong"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        ids = [v for k, v in resp.getheaders()
               if k.lower() == "x-zoll-request-id"]
    finally:
        conn.close()
    assert resp.status == 401
    assert ids == [body["error"]["request_id"]]
