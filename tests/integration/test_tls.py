"""TLS 1.2+ on the client leg: plaintext and old protocols never get a
request through."""

import json
import ssl
import subprocess
import time

import pytest

import zollenv
from conftest import chat


def test_plaintext_http_gets_426_and_nothing_is_forwarded(env):
    ex = env.exchange("POST", "/openai/v1/chat/completions", chat(),
                      tenant="acme_eu", tls=False)
    assert ex.status == 426
    assert ex.upstream == []
    assert ex.json["error"]["code"] == "tls_required"
    assert "TLS" in ex.headers["upgrade"]
    d = ex.record()
    assert (d["decision"], d["status"], d["code"]) == \
        ("refused", 426, "tls_required")
    # refused before anything else: the key was not even looked at
    assert d["tenant"] is None


def tls11_client(gw):
    ctx = gw.ssl_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def test_tls11_handshake_is_refused(env):
    marks = env.eu.mark(), env.us.mark()
    with pytest.raises(ssl.SSLError):
        env.gw.request("POST", "/openai/v1/chat/completions", chat(),
                       {"Authorization": f"Bearer {env.keys['acme_eu']}"},
                       context=tls11_client(env.gw))
    assert env.eu.since(marks[0]) == [] and env.us.since(marks[1]) == []


@pytest.fixture
def legacy_gateway(env, tmp_path):
    """A server block that (wrongly) allows TLS 1.1: the module itself must
    still refuse, whatever ssl_protocols says."""
    port = zollenv.free_port()
    extra = f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {env.run}/gateway.pem;
        ssl_certificate_key {env.run}/gateway.key;
        ssl_protocols TLSv1.1 TLSv1.2;
        ssl_ciphers DEFAULT:@SECLEVEL=0;
        include {tmp_path}/gw/locations.conf;
    }}"""
    gw = zollenv.Gateway(tmp_path / "gw", env.run, env.policy_path,
                         env.eu.port, env.us.port, extra=extra).start()
    gw.legacy_port = port
    yield gw
    gw.stop()


def test_module_refuses_tls11_even_if_the_server_allows_it(env,
                                                           legacy_gateway):
    gw = legacy_gateway
    gw.https_port = gw.legacy_port
    marks = env.eu.mark(), env.us.mark()
    status, headers, body = gw.request(
        "POST", "/openai/v1/chat/completions", chat(),
        {"Authorization": f"Bearer {env.keys['acme_eu']}"},
        context=tls11_client(gw))
    assert status == 426
    assert env.eu.since(marks[0]) == [] and env.us.since(marks[1]) == []
    (d,) = gw.transfer_records()
    assert (d["decision"], d["code"]) == ("refused", "tls_required")


@pytest.fixture
def impostor(env, tmp_path):
    """An EU endpoint whose certificate names another host."""
    mock = zollenv.Mock("eu", zollenv.free_port(), env.run,
                        tmp_path / "impostor.log", cert="wrong")
    yield mock
    mock.stop()


def gateway_before(env, tmp_path, impostor, edit_locations=None):
    gw = zollenv.Gateway(tmp_path / "gw", env.run, env.policy_path,
                         impostor.port, env.us.port)
    gw.render()
    if edit_locations:
        loc = gw.run / "locations.conf"
        loc.write_text(edit_locations(loc.read_text()))
    r = gw.nginx(check=False)
    assert r.returncode == 0, r.stderr
    zollenv.wait_port(gw.https_port)
    return gw


def decision_and_outcome(gw):
    # the outcome is written in the log phase, after the response
    deadline = time.monotonic() + 3
    while len(gw.transfer_records()) < 2:
        assert time.monotonic() < deadline, gw.transfer_records()
        time.sleep(0.02)
    return gw.transfer_records()


def test_upstream_with_a_certificate_for_another_host_gets_nothing(
        env, tmp_path, impostor):
    """proxy_ssl_verify in zoll_proxy.conf: a provider endpoint whose
    certificate does not name the policy's host is never sent the request."""
    gw = gateway_before(env, tmp_path, impostor)
    try:
        status, headers, body = gw.request(
            "POST", "/openai/v1/chat/completions", chat(),
            {"Authorization": f"Bearer {env.keys['acme_eu']}"})
        assert status == 502
        assert impostor.since(0) == []
        log = (gw.run / "error.log").read_text()
        assert "upstream SSL certificate does not match" in log
        # the decision was recorded before connecting; the outcome says
        # that the upstream leg failed
        d, o = decision_and_outcome(gw)
        assert d["decision"] == "forwarded" and d["region"] == "eu"
        assert (o["event"], o["status"], o["upstream_status"]) == \
            ("outcome", 502, 502)
        assert o["request_id"] == d["request_id"]
    finally:
        gw.stop()


def test_outcome_survives_an_internal_redirect(env, tmp_path, impostor):
    """error_page redirects internally, which clears module contexts; the
    outcome of the forwarded request must still be recorded."""
    fallback = """error_page 502 = @provider_down;
    }
    location @provider_down {
        default_type application/json;
        return 502 '{"error":{"message":"provider unreachable"}}';
    }
    location /anthropic/ {"""
    gw = gateway_before(
        env, tmp_path, impostor,
        lambda text: text.replace("}\n\nlocation /anthropic/ {",
                                  fallback, 1))
    try:
        status, headers, body = gw.request(
            "POST", "/openai/v1/chat/completions", chat(),
            {"Authorization": f"Bearer {env.keys['acme_eu']}"})
        assert status == 502
        assert json.loads(body)["error"]["message"] == "provider unreachable"
        d, o = decision_and_outcome(gw)
        assert (d["decision"], o["event"], o["upstream_status"]) == \
            ("forwarded", "outcome", 502)
        assert o["request_id"] == d["request_id"]
    finally:
        gw.stop()


def curl_h2(env, path, *args):
    r = subprocess.run(
        ["curl", "-sS", "--http2", "--cacert", str(env.run / "ca.pem"),
         "-o", "-", "-w", "\n%{http_version} %{http_code}",
         f"https://127.0.0.1:{env.gw.https_port}{path}", *args],
        capture_output=True, text=True, timeout=30)
    body, _, tail = r.stdout.rpartition("\n")
    version, code = tail.split()
    return version, int(code), body


def test_http2_requests_are_checked_like_http11(env):
    marks = env.eu.mark(), env.us.mark()
    version, code, body = curl_h2(
        env, "/openai/v1/chat/completions",
        "-H", f"Authorization: Bearer {env.keys['acme_eu']}",
        "-H", "Content-Type: application/json",
        "--data", json.dumps(chat("ueber HTTP/2")))
    assert (version, code) == ("2", 200)
    assert json.loads(body)["choices"][0]["message"]["content"] == \
        "[mock-eu] You said: ueber HTTP/2"
    (seen,) = env.eu.since(marks[0])
    assert env.keys["acme_eu"] not in json.dumps(seen)

    version, code, body = curl_h2(
        env, "/openai/v1/chat/completions",
        "-H", "Authorization: Bearer zk_wrong", "--data", "{}")
    assert (version, code) == ("2", 401)
    assert env.us.since(marks[1]) == []
