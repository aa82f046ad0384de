"""Hostile input: the bad-input catalogue.

One table of requests a hostile or broken client may send, each against
the real nginx with the module, each with what must happen:

- refused: the status, the JSON error `code` in the provider's shape, a
  `decision` record of the refusal with that status and code, no
  `outcome`, and nothing at either mock provider (also a little later);
- gone: the client went away mid-body, so no response can be sent; the
  refusal is still recorded and nothing left;
- nginx: nginx's own HTTP parser rejects the request head before any
  location (and so before Zoll) applies: its 400, nothing forwarded, and
  no Zoll record, since no Zoll location was chosen (nginx's access log
  has the request);
- forwarded: cases that must pass, with what the provider saw checked.

The TLS handshakes Zoll must refuse (1.0, 1.1) and upstream certificates
it must not trust are tests of their own below the table.
"""

import gzip
import json
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Optional

import pytest

import zollenv
from conftest import chat, claude
from test_redaction import raw_exchange

OPENAI = "/openai/v1/chat/completions"
ANTHROPIC = "/anthropic/v1/messages"
EMAIL = "anna.schmidt@example.de"
MB = 1024 * 1024
ZOLL_MAX = 8 * MB            # zoll_max_body_size in zoll_proxy.conf
NGINX_MAX = 9 * MB           # client_max_body_size there


@dataclass
class Result:
    status: Optional[int]
    headers: dict
    raw: bytes
    eu: list
    us: list
    records: list
    marks: tuple = ()

    @property
    def upstream(self):
        return self.eu + self.us

    def decisions(self):
        return [r for r in self.records if r["event"] == "decision"]


@dataclass
class Case:
    id: str
    send: Callable                      # env -> Result
    status: Optional[int]               # None: no response can arrive
    code: Optional[str] = None          # the JSON error code
    kind: str = "refused"               # refused, gone, nginx, forwarded
    api: str = "openai"                 # the error shape
    check: Optional[Callable] = None    # (env, Result) for forwarded
    head_only: bool = False             # a response without a body


# ways to send

def http(method="POST", path=OPENAI, body=b"", headers=None,
         tenant="acme_eu", ctype="application/json"):
    """A well-framed HTTP/1.1 request by http.client."""
    def send(env):
        hdrs = {}
        if ctype:
            hdrs["Content-Type"] = ctype
        if tenant:
            k = env.keys[tenant]
            if path.startswith("/anthropic/"):
                hdrs["x-api-key"] = k
            else:
                hdrs["Authorization"] = f"Bearer {k}"
        hdrs.update(headers or {})
        marks = env.eu.mark(), env.us.mark()
        ex = env.exchange(method, path, body, headers=hdrs)
        return Result(ex.status, ex.headers, ex.raw, ex.eu, ex.us,
                      ex.records, marks)
    return send


def raw(head, parts=(), path=OPENAI):
    """A request written by hand over TLS: head is the header lines
    after the request line (str, "{key}" for acme_eu's key); parts the
    body, sent as given (a function returning a generator may pace it)."""
    def send(env):
        text = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" \
            + head.replace("{key}", env.keys["acme_eu"]) + "\r\n"
        marks = env.eu.mark(), env.us.mark()
        st, h, body, eu, us, recs = raw_exchange(
            env, text.encode("latin-1"), parts() if callable(parts) else parts)
        return Result(st, h, body, eu, us, recs, marks)
    return send


def gone(head, parts):
    """Sends the head and part of the body, then closes the connection:
    the gateway cannot answer, but must record and forward nothing."""
    def send(env):
        gw = env.gw
        marks = env.eu.mark(), env.us.mark()
        log_mark = zollenv.file_size(gw.transfer_log)
        text = f"POST {OPENAI} HTTP/1.1\r\nHost: 127.0.0.1\r\n" \
            + head.replace("{key}", env.keys["acme_eu"]) + "\r\n"
        with socket.create_connection(("127.0.0.1", gw.https_port)) as s, \
                gw.ssl_context().wrap_socket(
                    s, server_hostname="127.0.0.1") as t:
            t.sendall(text.encode())
            for p in parts:
                t.sendall(p)
            time.sleep(0.2)
        time.sleep(0.3)
        return Result(None, {}, b"", env.eu.since(marks[0]),
                      env.us.since(marks[1]), env.records_since(log_mark),
                      marks)
    return send


def h2(body, *args):
    """HTTP/2 by curl: -T - sends the body as DATA frames without a
    content-length, --data-binary @- with one."""
    def send(env):
        marks = env.eu.mark(), env.us.mark()
        log_mark = zollenv.file_size(env.gw.transfer_log)
        r = subprocess.run(
            ["curl", "-sS", "--http2", "--cacert", str(env.run / "ca.pem"),
             "-H", "Content-Type: application/json",
             "-H", f"Authorization: Bearer {env.keys['acme_eu']}",
             "-o", "-", "-w", "\n%{http_version} %{http_code}", *args,
             f"https://127.0.0.1:{env.gw.https_port}{OPENAI}"],
            input=body, capture_output=True, timeout=60)
        out, _, tail = r.stdout.rpartition(b"\n")
        version, code = tail.decode().split()
        assert version == "2", r.stderr
        return Result(int(code), {"content-type": "application/json"}, out,
                      env.eu.since(marks[0]), env.us.since(marks[1]),
                      env.records_since(log_mark), marks)
    return send


def slowly(data, step=1, pause=0.002):
    """The body byte by byte (step bytes at a time) with a pause."""
    def parts():
        for i in range(0, len(data), step):
            time.sleep(pause)
            yield data[i:i + step]
    return parts


def chunks(data, size=4096):
    for i in range(0, len(data), size):
        part = data[i:i + size]
        yield b"%x\r\n%s\r\n" % (len(part), part)
    yield b"0\r\n\r\n"


# bodies

def jb(obj):
    return json.dumps(obj).encode()


CHAT = jb(chat(f"Hallo, ich bin {EMAIL}"))


def with_text(raw_text):
    """A chat body whose user message is raw_text, bytes as they are."""
    return b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"' \
        + raw_text + b'"}]}'


def nested(n):
    return b'{"model":"gpt-4o-mini","messages":' + b"[" * n + b"]" * n + b"}"


def big_string(total):
    head = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'
    tail = b'"}]}'
    return head + b"a" * (total - len(head) - len(tail)) + tail


def json_head(length=None, extra=""):
    lines = ["Authorization: Bearer {key}", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return "".join(line + "\r\n" for line in lines) + extra


# checks of the forwarded cases

def what_left(res):
    (got,) = res.upstream
    return got


def no_client_key(env, res):
    """The client's key is in nothing the provider received."""
    blob = json.dumps(res.upstream)
    for k in env.keys.values():
        assert k not in blob


def redacted_chat(env, res):
    got = what_left(res)
    assert EMAIL not in got["body"] and "[EMAIL]" in got["body"]
    no_client_key(env, res)
    d = res.decisions()[0]
    assert d["decision"] == "forwarded"
    assert d["data_categories"] == {"EMAIL": 1}


def path_as_recorded(env, res):
    """The provider received the path the record names."""
    got = what_left(res)
    d = res.decisions()[0]
    assert got["path"].split("?")[0] == d["path"]
    assert EMAIL not in got["body"]
    no_client_key(env, res)


def only_api_headers(env, res):
    """Headers the provider APIs do not need stayed at the gateway."""
    got = what_left(res)
    assert EMAIL not in json.dumps(got)
    assert not {"cookie", "x-user-email", "user-agent", "openai-organization",
                "x-stainless-os"} & set(got["headers"])
    redacted_chat(env, res)


def went_to_mistral(env, res):
    got = what_left(res)
    d = res.decisions()[0]
    assert d["subprocessor"]["id"] == "mistral"
    assert got["headers"]["authorization"] == \
        "Bearer demo-cred-acme_eu-mistral-not-a-real-key"
    path_as_recorded(env, res)


CASES = [
    # malformed, truncated and ambiguous JSON
    Case("malformed", http(body=b'{"model": "gpt-4o-mini", "messages": [}'),
         400, "bad_request"),
    Case("truncated", http(body=CHAT[:-7]), 400, "bad_request"),
    Case("empty-object-then-garbage", http(body=b"{} x"), 400,
         "bad_request"),
    Case("two-documents", http(body=CHAT + CHAT), 400, "bad_request"),
    Case("single-quotes", http(body=b"{'model': 'gpt-4o-mini'}"), 400,
         "bad_request"),
    Case("comment", http(body=b'{"model": "gpt-4o-mini" /* hi */}'), 400,
         "bad_request"),
    Case("nan", http(body=b'{"model": "gpt-4o-mini", "temperature": NaN}'),
         400, "bad_request"),
    Case("leading-zero", http(body=b'{"max_tokens": 0100}'), 400,
         "bad_request"),
    Case("bad-escape", http(body=with_text(b"\\x41")), 400, "bad_request"),
    Case("raw-newline-in-string", http(body=with_text(b"a\nb")), 400,
         "bad_request"),
    Case("utf8-bom", http(body=b"\xef\xbb\xbf" + CHAT), 400, "bad_request"),
    Case("utf16-body", http(body=CHAT.decode().encode("utf-16")), 400,
         "bad_request"),
    Case("duplicate-keys", http(
        body=b'{"model":"gpt-4o-mini","messages":[],"messages":[]}'),
        400, "bad_request"),
    Case("duplicate-keys-escaped", http(
        body=b'{"model":"gpt-4o-mini","\\u006dodel":"gpt-4o"}'),
        400, "bad_request"),
    Case("duplicate-keys-nested", http(
        body=b'{"messages":[{"role":"user","content":"a","content":"'
             + EMAIL.encode() + b'"}]}'), 400, "bad_request"),
    Case("nesting-65", http(body=nested(65)), 400, "bad_request"),
    Case("nesting-100000", http(body=nested(100_000)), 400, "bad_request"),
    Case("nesting-100000-unclosed", http(body=b"[" * 100_000), 400,
         "bad_request"),
    # strings: UTF-8, surrogates, NUL
    Case("invalid-utf8", http(body=with_text(b"\xff\xfe")), 400,
         "bad_request"),
    Case("overlong-slash", http(body=with_text(b"\xc0\xaf")), 400,
         "bad_request"),
    Case("overlong-3-byte", http(body=with_text(b"\xe0\x80\xaf")), 400,
         "bad_request"),
    Case("overlong-nul", http(body=with_text(b"\xc0\x80")), 400,
         "bad_request"),
    Case("utf8-encoded-surrogate", http(body=with_text(b"\xed\xa0\x80")),
         400, "bad_request"),
    Case("above-u10ffff", http(body=with_text(b"\xf4\x90\x80\x80")), 400,
         "bad_request"),
    Case("truncated-sequence", http(body=with_text(b"ab\xc3")), 400,
         "bad_request"),
    Case("lone-high-surrogate", http(body=with_text(b"\\ud800")), 400,
         "bad_request"),
    Case("lone-low-surrogate", http(body=with_text(b"\\udc00x")), 400,
         "bad_request"),
    Case("high-surrogate-then-letter", http(body=with_text(b"\\ud83dA")),
         400, "bad_request"),
    Case("reversed-surrogates", http(body=with_text(b"\\ude00\\ud83d")),
         400, "bad_request"),
    Case("nul-byte-in-string", http(body=with_text(b"a\x00b")), 400,
         "bad_request"),
    Case("nul-byte-after-body", http(body=CHAT + b"\x00"), 400,
         "bad_request"),
    Case("invalid-utf8-in-key", http(body=b'{"\xff":1}'), 400,
         "bad_request"),
    # sizes
    Case("body-above-zoll-limit", http(body=big_string(ZOLL_MAX + 1)), 413,
         "body_too_large"),
    Case("50-mb-string", raw(json_head(50 * MB),
                             [big_string(50 * MB)]), 413, "body_too_large"),
    Case("50-mb-chunked", raw(json_head(extra="Transfer-Encoding: chunked"
                                              "\r\n"),
                              lambda: chunks(big_string(50 * MB),
                                             1024 * 1024)),
         413, "body_too_large"),
    # framing
    Case("content-length-smaller", raw(json_head(len(CHAT) - 10),
                                       [CHAT]), 400, "bad_request"),
    Case("content-length-larger", gone(json_head(len(CHAT) + 100),
                                       [CHAT]), None, "bad_request",
         kind="gone"),
    Case("chunked-invalid-json", raw(json_head(
        extra="Transfer-Encoding: chunked\r\n"),
        lambda: chunks(CHAT[:-3], 16)), 400, "bad_request"),
    Case("chunked-bad-size", raw(json_head(
        extra="Transfer-Encoding: chunked\r\n"),
        [b"zz\r\n" + CHAT + b"\r\n0\r\n\r\n"]), 400, "bad_request"),
    Case("chunked-size-too-short", raw(json_head(
        extra="Transfer-Encoding: chunked\r\n"),
        [b"5\r\n" + CHAT + b"\r\n0\r\n\r\n"]), 400, "bad_request"),
    Case("chunked-cut-off", gone(json_head(
        extra="Transfer-Encoding: chunked\r\n"),
        [b"%x\r\n%s" % (len(CHAT), CHAT[:20])]), None, "bad_request",
        kind="gone"),
    Case("spooled-to-temp-file-invalid", http(
        body=big_string(512 * 1024)[:-1]), 400, "bad_request"),
    Case("slow-byte-by-byte-invalid", raw(json_head(len(CHAT) - 1),
                                          slowly(CHAT[:-1])),
         400, "bad_request"),
    # HTTP/2
    Case("h2-content-length-invalid", h2(CHAT[:-1], "--data-binary", "@-"),
         400, "bad_request"),
    Case("h2-no-content-length-invalid", h2(CHAT[:-1], "-X", "POST",
                                            "-T", "-"),
         400, "bad_request"),
    Case("h2-no-content-length-too-large", h2(big_string(ZOLL_MAX + 1),
                                              "-X", "POST", "-T", "-"),
         413, "body_too_large"),
    Case("h2-gzip", h2(gzip.compress(CHAT), "--data-binary", "@-", "-H",
                       "Content-Encoding: gzip"), 415,
         "body_not_inspectable"),
    # what cannot be inspected
    Case("gzip", http(body=gzip.compress(CHAT),
                      headers={"Content-Encoding": "gzip"}), 415,
         "body_not_inspectable"),
    Case("gzip-after-identity", http(body=CHAT, headers={
        "Content-Encoding": "identity, gzip"}), 415, "body_not_inspectable"),
    Case("multipart", http(
        body=b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\n'
             + EMAIL.encode() + b"\r\n--b--\r\n",
        ctype="multipart/form-data; boundary=b"), 415,
        "body_not_inspectable"),
    Case("text-plain", http(body=CHAT, ctype="text/plain"), 415,
         "body_not_inspectable"),
    Case("form-urlencoded", http(body=b"email=" + EMAIL.encode(),
                                 ctype="application/x-www-form-urlencoded"),
         415, "body_not_inspectable"),
    # keys and credentials
    Case("no-key", http(body=CHAT, tenant=None), 401, "invalid_api_key"),
    Case("unknown-key", http(body=CHAT, tenant=None, headers={
        "Authorization": "Bearer zk_0000000000000000000000000000"}), 401,
        "invalid_api_key"),
    Case("basic-auth", http(body=CHAT, tenant=None, headers={
        "Authorization": "Basic YWNtZTpzZWNyZXQ="}), 401, "invalid_api_key"),
    Case("empty-bearer", http(body=CHAT, tenant=None, headers={
        "Authorization": "Bearer "}), 401, "invalid_api_key"),
    Case("bearer-and-other-x-api-key", http(body=CHAT, headers={
        "x-api-key": "sk-live-smuggled"}), 401, "invalid_api_key"),
    Case("bearer-and-other-goog-key", http(body=CHAT, headers={
        "x-goog-api-key": "AIzaSmuggled"}), 401, "invalid_api_key"),
    Case("two-tenants-keys", raw(
        "Authorization: Bearer {key}\r\nx-api-key: %s\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n"
        % (zollenv.demo_keys()["globex_any"], len(CHAT)), [CHAT]), 401,
        "invalid_api_key"),
    Case("header-key-and-other-query-key", http(
        path=OPENAI + "?key=zk_other", body=CHAT), 401, "invalid_api_key"),
    Case("azure-api-key-header", http(body=CHAT, headers={
        "api-key": "sk-live-smuggled"}), 401, "invalid_api_key"),
    Case("proxy-authorization", http(body=CHAT, headers={
        "Proxy-Authorization": "Bearer sk-live-smuggled"}), 401,
        "invalid_api_key"),
    Case("lf-smuggles-api-key", raw(
        "Authorization: Bearer {key}\napi-key: sk-live-smuggled\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n"
        % len(CHAT), [CHAT]), 401, "invalid_api_key"),
    Case("lf-smuggles-x-api-key", raw(
        "Authorization: Bearer {key}\nx-api-key: sk-live-smuggled\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n"
        % len(CHAT), [CHAT]), 401, "invalid_api_key"),
    Case("anthropic-route-two-tenants-keys", http(
        path=ANTHROPIC, body=jb(claude()), headers={
            "Authorization": f"Bearer {zollenv.demo_keys()['globex_any']}"}),
        401, "invalid_api_key", api="anthropic"),
    # methods: only those the provider APIs use
    Case("head", http(method="HEAD", body=None, ctype=None), 405,
         "method_not_allowed", head_only=True),
    Case("options", http(method="OPTIONS", body=None, ctype=None), 405,
         "method_not_allowed"),
    Case("put", http(method="PUT", body=CHAT), 405, "method_not_allowed"),
    Case("patch", http(method="PATCH", body=CHAT), 405,
         "method_not_allowed"),
    Case("options-without-key", http(method="OPTIONS", body=None, ctype=None,
                                     tenant=None), 401, "invalid_api_key"),
    # paths
    Case("dotdot-into-anthropic", raw(json_head(len(CHAT)), [CHAT],
                                      path="/openai/v1/../../anthropic/v1/"
                                           "messages"),
         451, "no_lawful_route", api="anthropic"),
    # rejected by nginx's parser before any location, so before Zoll
    Case("two-authorization-headers", raw(
        "Authorization: Bearer {key}\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n"
        % len(CHAT), [CHAT]), 400, kind="nginx"),
    Case("key-with-nul", raw(
        "Authorization: Bearer {key}\x00x\r\nContent-Type: application/json"
        "\r\nContent-Length: %d\r\n" % len(CHAT), [CHAT]), 400,
        kind="nginx"),
    Case("key-with-cr", raw(
        "Authorization: Bearer {key}\rx-api-key: sk-live\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n"
        % len(CHAT), [CHAT]), 400, kind="nginx"),
    Case("folded-header", raw(
        "Authorization: Bearer\r\n {key}\r\nContent-Type: application/json"
        "\r\nContent-Length: %d\r\n" % len(CHAT), [CHAT]), 400,
        kind="nginx"),
    Case("content-length-and-chunked", raw(
        json_head(len(CHAT), "Transfer-Encoding: chunked\r\n"),
        lambda: chunks(CHAT)), 400, kind="nginx"),
    Case("two-content-lengths", raw(
        json_head(len(CHAT), "Content-Length: 5\r\n"), [CHAT]), 400,
        kind="nginx"),
    Case("dotdot-above-root", raw(json_head(len(CHAT)), [CHAT],
                                  path="/openai/../../v1/chat/completions"),
         400, kind="nginx"),
    # must pass, and what left is checked
    Case("slow-byte-by-byte-redacted", raw(json_head(len(CHAT)),
                                           slowly(CHAT)),
         200, kind="forwarded", check=redacted_chat),
    Case("chunked-redacted", raw(json_head(
        extra="Transfer-Encoding: chunked\r\n"), lambda: chunks(CHAT, 7)),
        200, kind="forwarded", check=redacted_chat),
    Case("h2-no-content-length-redacted", h2(CHAT, "-X", "POST", "-T", "-"),
         200, kind="forwarded", check=redacted_chat),
    Case("x-api-key-on-openai-route", http(body=CHAT, tenant=None, headers={
        "x-api-key": zollenv.demo_keys()["acme_eu"]}), 200,
        kind="forwarded", check=redacted_chat),
    Case("get-with-a-body-is-inspected", http(method="GET", body=CHAT), 404,
         kind="forwarded", check=redacted_chat),
    Case("encoded-slashes", raw(json_head(len(CHAT)), [CHAT],
                                path="/openai/v1%2Fchat%2Fcompletions"),
         200, kind="forwarded", check=path_as_recorded),
    Case("encoded-dotdot-into-mistral", raw(
        json_head(len(CHAT)), [CHAT],
        path="/openai/v1/%2e%2e/%2e%2e/mistral/v1/chat/completions"),
        200, kind="forwarded", check=went_to_mistral),
    Case("personal-data-in-headers-stays", http(body=CHAT, headers={
        "X-User-Email": EMAIL, "Cookie": f"session=1; user={EMAIL}",
        "User-Agent": f"app/1.0 ({EMAIL})", "OpenAI-Organization": "org-x",
        "X-Stainless-OS": "Linux"}), 200, kind="forwarded",
        check=only_api_headers),
    Case("query-key-is-stripped", http(
        path=OPENAI + "?key=" + zollenv.demo_keys()["acme_eu"] + "&x=1",
        body=CHAT, tenant=None), 200, kind="forwarded",
        check=path_as_recorded),
]


def nothing_left(env, res):
    assert res.upstream == [], res.upstream
    time.sleep(0.2)
    assert env.eu.since(res.marks[0]) == [] and \
        env.us.since(res.marks[1]) == []


def assert_error_shape(res, code, api):
    assert res.headers.get("content-type") == "application/json", res.raw
    err = json.loads(res.raw)
    if api == "anthropic":
        assert err["type"] == "error"
        assert err["error"]["code"] == code
    else:
        assert set(err) == {"error"}
        assert err["error"]["code"] == code
    assert err["error"]["message"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_catalogue(env, case):
    res = case.send(env)
    assert res.status == case.status, (res.status, res.raw[:300])

    if case.kind == "forwarded":
        (d,) = res.decisions()
        assert d["decision"] == "forwarded"
        case.check(env, res)
        return

    nothing_left(env, res)

    if case.kind == "nginx":
        assert res.decisions() == []
        assert b"400 Bad Request" in res.raw
        return

    if case.head_only:
        assert res.raw == b""
    elif case.status is not None:
        assert_error_shape(res, case.code, case.api)

    (d,) = res.decisions()
    status = case.status or 400
    assert (d["decision"], d["status"], d["code"]) == \
        ("refused", status, case.code)
    assert d["reason"]
    assert not [r for r in res.records if r["event"] == "outcome"]
    # a refusal record never carries what was sent
    assert EMAIL not in json.dumps(res.records)
    for k in env.keys.values():
        assert k not in json.dumps(res.records)


def test_the_catalogue_is_at_least_fifty_refusals():
    refusals = [c for c in CASES if c.kind in ("refused", "gone")]
    assert len(refusals) >= 50, len(refusals)


def test_405_names_the_methods_zoll_forwards(env):
    res = http(method="PUT", body=CHAT)(env)
    assert res.status == 405
    assert res.headers["allow"] == "GET, POST, DELETE"


def test_body_stalled_past_client_body_timeout_is_recorded(
        env, make_gateway):
    """A client that stops sending its body: nginx's body reader times out
    and closes the connection without a response (it does so for 408);
    Zoll records the refusal, and nothing left."""
    gw = make_gateway(extra="client_body_timeout 1s;")
    marks = env.eu.mark(), env.us.mark()
    head = (f"POST {OPENAI} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {env.keys['acme_eu']}\r\n"
            f"Content-Type: application/json\r\n"
            f"Content-Length: {len(CHAT)}\r\n\r\n").encode()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", gw.https_port)) as s, \
            gw.ssl_context().wrap_socket(s, server_hostname="127.0.0.1") \
            as t:
        t.settimeout(10)
        t.sendall(head + CHAT[:10])
        assert t.recv(65536) == b""
    assert time.monotonic() - started < 8
    (d,) = [r for r in gw.transfer_records() if r["event"] == "decision"]
    assert (d["decision"], d["status"], d["code"], d["tenant"]) == \
        ("refused", 400, "bad_request", "acme_eu")
    assert "client_body_timeout" in d["reason"]
    time.sleep(0.2)
    assert env.eu.since(marks[0]) == [] and env.us.since(marks[1]) == []


# TLS: the handshakes Zoll refuses, with openssl s_client

def s_client(env, *args):
    return subprocess.run(
        ["openssl", "s_client", "-connect",
         f"127.0.0.1:{env.gw.https_port}", "-CAfile",
         str(env.run / "ca.pem"), "-cipher", "DEFAULT:@SECLEVEL=0", *args],
        input=b"", capture_output=True, timeout=30)


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_tls_handshakes_fail_and_nothing_leaves(env, version):
    marks = env.eu.mark(), env.us.mark()
    log_mark = zollenv.file_size(env.gw.transfer_log)
    err_mark = zollenv.file_size(env.gw.run / "error.log")
    r = s_client(env, version)
    assert r.returncode != 0
    # the server answered the client's offer with a protocol_version alert
    # (the client did offer it: SECLEVEL=0)
    assert b"alert protocol version" in r.stderr, r.stderr
    assert b"Cipher is (NONE)" in r.stdout
    with open(env.gw.run / "error.log", "rb") as f:
        f.seek(err_mark)
        assert b"unsupported protocol" in f.read()
    time.sleep(0.2)
    assert env.eu.since(marks[0]) == [] and env.us.since(marks[1]) == []
    # no HTTP request, so no decision to record
    assert env.gw.transfer_records(log_mark) == []


def test_tls12_handshake_with_the_same_client_succeeds(env):
    # the control for the test above: the same s_client options, TLS 1.2
    r = s_client(env, "-tls1_2")
    assert r.returncode == 0, r.stderr
    assert b"Protocol  : TLSv1.2" in r.stdout
    assert b"Verify return code: 0 (ok)" in r.stdout


# upstream certificates Zoll must not trust

@pytest.fixture
def self_signed(env, tmp_path):
    """An EU endpoint with a self-signed certificate for the right names,
    from no CA the gateway trusts."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
         "/CN=eu.mock.zoll.test", "-addext",
         "subjectAltName=DNS:eu.mock.zoll.test,DNS:us.mock.zoll.test,"
         "IP:127.0.0.1", "-keyout", str(tmp_path / "self.key"),
         "-out", str(tmp_path / "self.pem")],
        check=True, capture_output=True)
    mock = zollenv.Mock("eu", zollenv.free_port(), tmp_path,
                        tmp_path / "self.log", cert="self")
    yield mock
    mock.stop()


@pytest.fixture
def wrong_name(env, tmp_path):
    """An EU endpoint whose certificate, from the trusted CA, names
    another host."""
    mock = zollenv.Mock("eu", zollenv.free_port(), env.run,
                        tmp_path / "wrong.log", cert="wrong")
    yield mock
    mock.stop()


@pytest.mark.parametrize("upstream,why", [
    ("self_signed", "self-signed certificate"),
    ("wrong_name", "upstream SSL certificate does not match")])
def test_untrusted_upstream_gets_nothing_and_the_record_says_502(
        env, make_gateway, request, upstream, why):
    mock = request.getfixturevalue(upstream)
    gw = make_gateway(eu_port=mock.port)
    status, headers, body = gw.request(
        "POST", OPENAI, CHAT, {"Authorization":
                               f"Bearer {env.keys['acme_eu']}"})
    assert status == 502
    time.sleep(0.2)
    assert mock.since(0) == []
    assert why in (gw.run / "error.log").read_text()
    deadline = time.monotonic() + 3
    while len(gw.transfer_records()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    d, o = gw.transfer_records()[:2]
    assert d["decision"] == "forwarded" and d["region"] == "eu"
    assert (o["event"], o["request_id"], o["status"]) == \
        ("outcome", d["request_id"], 502)
    assert o["upstream_status"] == 502


# the valgrind switch (ZOLL_VALGRIND=1) and its reader

VG_LOG = """==7== Invalid read of size 4
==7==    at 0x1: zoll_redact (zoll_redact.c:10)
==7==    by 0x2: ngx_http_zoll_inspect (ngx_http_zoll_module.c:20)
==7==  Address 0x3 is 0 bytes after a block of size 8 alloc'd
==7==    at 0x4: malloc (vg_replace_malloc.c:1)
==7==
==7== Invalid read of size 16
==7==    at 0x5: ???
==7==    by 0x6: ???
==7==  Address 0x7 is 15 bytes inside a block of size 30 alloc'd
==7==    at 0x8: malloc (vg_replace_malloc.c:1)
==7==    by 0x9: zoll_example_text (zoll_rules.c:1056)
==7==
==7== 72 bytes in 1 blocks are definitely lost in loss record 3 of 15
==7==    at 0xa: malloc (vg_replace_malloc.c:1)
==7==    by 0xb: ngx_regex_compile (in /usr/sbin/nginx)
==7==
==7== 40 bytes in 1 blocks are definitely lost in loss record 4 of 15
==7==    at 0xc: malloc (vg_replace_malloc.c:1)
==7==    by 0xd: zoll_policy_parse (zoll_policy.c:2051)
==7==
==7== ERROR SUMMARY: 4 errors from 4 contexts (suppressed: 0 from 0)
"""


def test_valgrind_reader_counts_only_errors_of_zolls_code(tmp_path):
    (tmp_path / "valgrind.7.log").write_text(VG_LOG)
    found = zollenv.valgrind_findings(tmp_path)
    assert [text.splitlines()[0] for _, text in found] == [
        "Invalid read of size 4",
        "40 bytes in 1 blocks are definitely lost in loss record 4 of 15"]
