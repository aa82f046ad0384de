"""TLS 1.2+ on the client leg: plaintext and old protocols never get a
request through."""

import json
import ssl
import subprocess
import time

import pytest

import zollenv
from conftest import chat, request_as, wait_records


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


def test_module_refuses_tls11_even_if_the_server_allows_it(env,
                                                           make_gateway,
                                                           tmp_path):
    """A server block that (wrongly) allows TLS 1.1: the module itself must
    still refuse, whatever ssl_protocols says."""
    port = zollenv.free_port()
    gw = make_gateway(extra=f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {env.run}/gateway.pem;
        ssl_certificate_key {env.run}/gateway.key;
        ssl_protocols TLSv1.1 TLSv1.2;
        ssl_ciphers DEFAULT:@SECLEVEL=0;
        include {tmp_path}/gw0/locations.conf;
    }}""")
    gw.https_port = port
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


def test_upstream_with_a_certificate_for_another_host_gets_nothing(
        env, make_gateway, impostor):
    """proxy_ssl_verify in zoll_proxy.conf: a provider endpoint whose
    certificate does not name the policy's host is never sent the request."""
    gw = make_gateway(eu_port=impostor.port)
    status, headers, body = request_as(gw, env.keys["acme_eu"])
    assert status == 502
    assert impostor.since(0) == []
    log = (gw.run / "error.log").read_text()
    assert "upstream SSL certificate does not match" in log
    # the decision was recorded before connecting; the outcome says that
    # the upstream leg failed
    d, o = wait_records(gw, 2)
    assert d["decision"] == "forwarded" and d["region"] == "eu"
    assert (o["event"], o["status"], o["upstream_status"]) == \
        ("outcome", 502, 502)
    assert o["request_id"] == d["request_id"]


def test_outcome_survives_an_internal_redirect(env, make_gateway, impostor):
    """error_page redirects internally, which clears module contexts; the
    outcome of the forwarded request must still be recorded."""
    fallback = """error_page 502 = @provider_down;
    }
    location @provider_down {
        default_type application/json;
        return 502 '{"error":{"message":"provider unreachable"}}';
    }
    location /anthropic/ {"""
    gw = make_gateway(eu_port=impostor.port, edit=lambda text: text.replace(
        "}\n\nlocation /anthropic/ {", fallback, 1))
    status, headers, body = request_as(gw, env.keys["acme_eu"])
    assert status == 502
    assert json.loads(body)["error"]["message"] == "provider unreachable"
    d, o = wait_records(gw, 2)
    assert (d["decision"], o["event"], o["upstream_status"]) == \
        ("forwarded", "outcome", 502)
    assert o["request_id"] == d["request_id"]


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
