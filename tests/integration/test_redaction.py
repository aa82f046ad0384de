"""Redaction of request bodies, proven by what the mock providers received.

Every test sends personal data through the gateway and then reads the
mocks' records of the exact bytes that arrived (body, its length and
SHA-256, the headers): the original values must not be there, their
replacements must be, and everything else must be as the client sent it.
Bodies Zoll cannot inspect are refused in the provider's error shape, with
a transfer record, and never reach a mock.

The prompts use unambiguous personal data (e-mail addresses, a valid IBAN,
an international phone number, an OpenAI-style API key), so that the tests
do not depend on the finer points of the rule packs in rules/.
"""

import gzip
import hashlib
import hmac
import json
import re
import socket
import ssl
import subprocess
import time

import pytest

import zollenv

OPENAI = "/openai/v1/chat/completions"
ANTHROPIC = "/anthropic/v1/messages"

EMAIL = "anna.schmidt@example.de"
EMAIL2 = "jonas.weber@example.org"
IBAN = "DE89 3704 0044 0532 0130 00"
PHONE = "+49 151 23456789"
SECRET = "sk-proj-Zq7Lm3Np9Rt2Vx5Bc8Df1Gh4Jk6Mn0Pq3Rs7Tu9Wy2Az5Cd8Ef"

MB = 1024 * 1024
ZOLL_MAX = 8 * MB          # zoll_max_body_size in config/zoll_proxy.conf
NGINX_MAX = 9 * MB         # client_max_body_size there


# helpers

def pseudonym(value, entity="EMAIL"):
    """What the pseudonymize profile must send for value: the first four
    bytes of HMAC-SHA256 keyed with the tenant's key file (trailing white
    space stripped) over the entity, a NUL and the value."""
    key = (zollenv.CONFIG / "demo/credentials/globex_any-pseudonym.key") \
        .read_bytes().rstrip()
    mac = hmac.new(key, entity.encode() + b"\0" + value.encode(),
                   hashlib.sha256)
    return f"[{entity}_{mac.digest()[:4].hex()}]"


def dumps(obj):
    """A body as SDKs send it: raw UTF-8, default separators."""
    return json.dumps(obj, ensure_ascii=False).encode()


def received(ex):
    """The one request a mock received for ex and its exact bytes."""
    assert len(ex.upstream) == 1, ex.upstream
    got = ex.upstream[0]
    data = got["body"].encode()
    # "body" is exact only if it was UTF-8: prove it against the hash
    assert hashlib.sha256(data).hexdigest() == got["body_sha256"]
    assert len(data) == got["body_bytes"]
    return got, data


def assert_forwarded_exactly(ex, want):
    """The mock received exactly want, with a matching Content-Length."""
    got, data = received(ex)
    assert data == want
    assert got["headers"]["content-length"] == str(len(want))
    assert "transfer-encoding" not in got["headers"]
    return got


def marks(env):
    return env.eu.mark(), env.us.mark()


def send(env, body, tenant="acme_eu", path=OPENAI, headers=None,
         method="POST"):
    """env.exchange, remembering where the mocks' logs stood before."""
    before = marks(env)
    ex = env.exchange(method, path, body, tenant=tenant, headers=headers)
    ex.marks = before
    return ex


def nothing_left(env, ex, wait=0.3):
    """Nothing reached either mock for ex, also a little later."""
    assert ex.upstream == []
    time.sleep(wait)
    assert env.eu.since(ex.marks[0]) == [] and \
        env.us.since(ex.marks[1]) == []


def assert_refused(env, ex, status, code, api="openai"):
    """A Zoll refusal: the provider's error shape, a refusal record, and
    nothing forwarded."""
    assert ex.status == status, ex.raw[:500]
    assert ex.headers["content-type"] == "application/json"
    err = ex.json
    if api == "anthropic":
        assert err["type"] == "error"
        assert set(err) == {"type", "error", "request_id"}
        assert err["error"]["type"] == "invalid_request_error"
    else:
        assert set(err) == {"error"}
        assert err["error"]["type"] == "invalid_request_error"
        assert err["error"]["param"] is None
    assert err["error"]["code"] == code
    assert err["error"]["message"]
    d = ex.record("decision")
    assert (d["decision"], d["status"], d["code"]) == \
        ("refused", status, code)
    assert not [r for r in ex.records if r["event"] == "outcome"]
    nothing_left(env, ex)
    return err["error"], d


def raw_exchange(env, head, parts=(), timeout=30):
    """One HTTP/1.1 request written by hand over TLS: head (request line
    and headers), then the body parts; stops sending when the gateway
    stops reading.  Returns (status, headers, body, eu, us, records)."""
    gw = env.gw
    m = marks(env)
    log_mark = zollenv.file_size(gw.transfer_log)
    ctx = gw.ssl_context()
    data = b""
    with socket.create_connection(("127.0.0.1", gw.https_port),
                                  timeout=timeout) as s, \
            ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
        t.sendall(head)
        for p in parts:
            try:
                t.sendall(p)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                break
        while True:
            try:
                chunk = t.recv(65536)
            except (ConnectionResetError, ssl.SSLError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
            status, headers, body = parse_response(data)
            if status and len(body) >= int(headers.get("content-length",
                                                       1 << 40)):
                break
    status, headers, body = parse_response(data)
    time.sleep(0.3)
    records = env.records_since(log_mark)
    return (status, headers, body, env.eu.since(m[0]), env.us.since(m[1]),
            records)


def parse_response(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None, {}, b""
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, body


def head_for(env, tenant, headers, path=OPENAI, ctype="application/json"):
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1",
             f"Authorization: Bearer {env.keys[tenant]}",
             *([f"Content-Type: {ctype}"] if ctype else []), *headers,
             "", ""]
    return "\r\n".join(lines).encode()


def chunked(data, size=64 * 1024):
    """data as HTTP/1.1 chunks, terminator included."""
    for i in range(0, len(data), size):
        part = data[i:i + size]
        yield b"%x\r\n%s\r\n" % (len(part), part)
    yield b"0\r\n\r\n"


def filler_body(total, prompt):
    """A chat body of exactly total bytes: a long system message of plain
    lower-case words with EMAIL at its start, middle and end, then a short
    user message prompt."""
    words = b"the quick brown fox jumps over the lazy dog "
    head = (b'{"model":"gpt-4o-mini","messages":[{"role":"system",'
            b'"content":"' + EMAIL.encode() + b" ")
    mid = b" " + EMAIL.encode() + b" "
    tail = (b" " + EMAIL.encode() + b'"},{"role":"user","content":'
            + json.dumps(prompt).encode() + b"}]}")
    room = total - len(head) - len(mid) - len(tail)
    assert room > 0
    fill = (words * (room // len(words) + 1))[:room]
    body = head + fill[:room // 2] + mid + fill[room // 2:] + tail
    assert len(body) == total
    json.loads(body)
    return body


# 1. the default profile: mask (acme_eu)

MASK_BODY = {
    "model": "gpt-4o-mini",
    "temperature": 0.25,
    "top_p": 1e-3,
    "max_tokens": 300,
    "seed": -12345,
    "stream": False,
    "stop": None,
    "messages": [
        {"role": "system",
         "content": "Du bist ein hilfreicher Assistent für Überweisungen."},
        {"role": "user",
         "content": f"Bitte schreib an {EMAIL}, dass die Zahlung auf "
                    f"{IBAN} eingegangen ist. Grüße aus Köln, 東京 🚀"},
        {"role": "assistant", "content": "Gern – soll ich noch etwas "
                                         "ergänzen? ½ € genügt."},
        {"role": "user", "content": "Nein, danke. Antworte knapp."},
    ],
}


def test_mask_replaces_email_and_iban_and_keeps_every_other_byte(env):
    body = dumps(MASK_BODY)
    want = body.replace(EMAIL.encode(), b"[EMAIL]") \
               .replace(IBAN.encode(), b"[IBAN]")
    assert want != body

    ex = send(env, body)

    assert ex.status == 200, ex.raw
    assert len(ex.eu) == 1 and ex.us == []
    got, data = received(ex)
    assert EMAIL.encode() not in data and IBAN.encode() not in data
    assert b"anna.schmidt" not in data and b"0532 0130" not in data
    assert b"[EMAIL]" in data and b"[IBAN]" in data
    # the rest is byte-identical: model, other messages, numbers, unicode
    assert data == want
    assert got["headers"]["content-length"] == str(len(want))
    assert json.loads(data)["messages"][1]["content"] == (
        "Bitte schreib an [EMAIL], dass die Zahlung auf [IBAN] "
        "eingegangen ist. Grüße aus Köln, 東京 🚀")

    # the client gets the provider's answer to the redacted prompt
    assert ex.json["choices"][0]["message"]["content"] == \
        "[mock-eu] You said: Nein, danke. Antworte knapp."

    d = ex.record("decision")
    assert d["decision"] == "forwarded"
    assert d["data_categories"] == {"EMAIL": 1, "IBAN": 1}
    assert d["supplementary_measures"] == ["masking"]
    assert d["sent_in_clear"] == []
    assert d["redactions"] == 2
    raw_log = json.dumps(ex.records)
    assert EMAIL not in raw_log and IBAN not in raw_log
    assert ex.record("outcome")["upstream_status"] == 200


def test_mask_echo_shows_what_the_provider_saw(env):
    ex = send(env, dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": f"Ruf {PHONE} an oder schreib an "
                                    f"{EMAIL}."}]}))
    assert ex.status == 200
    assert ex.json["choices"][0]["message"]["content"] == \
        "[mock-eu] You said: Ruf [PHONE] an oder schreib an [EMAIL]."
    _, data = received(ex)
    assert PHONE.encode() not in data and EMAIL.encode() not in data
    d = ex.record()
    assert d["data_categories"] == {"PHONE": 1, "EMAIL": 1}
    assert d["redactions"] == 2


def test_body_without_personal_data_is_forwarded_unchanged(env):
    body = dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": "Wie spät ist es in Köln? ☕"}]})
    ex = send(env, body)
    assert ex.status == 200
    assert_forwarded_exactly(ex, body)
    d = ex.record()
    # inspected, nothing found: {} (not null, which means "not inspected")
    assert d["data_categories"] == {}
    assert d["supplementary_measures"] == []
    assert d["redactions"] == 0


ADD_REDACTIONS_HEADER = (
    "    zoll openai;\n",
    "    zoll openai;\n"
    "    add_header X-Zoll-Redactions $zoll_redactions always;\n")


def test_zoll_redactions_variable_counts_the_replaced_spans(env,
                                                            make_gateway):
    gw = make_gateway(edit=lambda t: t.replace(*ADD_REDACTIONS_HEADER, 1))
    m = marks(env)
    status, headers, _ = gw.request(
        "POST", OPENAI, dumps(MASK_BODY),
        {"Authorization": f"Bearer {env.keys['acme_eu']}"})
    assert status == 200
    assert headers["x-zoll-redactions"] == "2"
    got = env.eu.since(m[0])
    assert len(got) == 1 and EMAIL not in got[0]["body"]

    status, headers, _ = gw.request(
        "POST", OPENAI, dumps({"model": "gpt-4o-mini", "messages": [
            {"role": "user", "content": "nichts Persönliches"}]}),
        {"Authorization": f"Bearer {env.keys['acme_eu']}"})
    assert status == 200 and headers["x-zoll-redactions"] == "0"


# 2. pseudonymize (globex_any)

def test_pseudonyms_are_keyed_hmacs_and_stable_across_requests(env):
    body = dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": f"Schreib an {EMAIL} und {EMAIL2}."}]})
    p1, p2 = pseudonym(EMAIL), pseudonym(EMAIL2)
    assert p1 != p2
    want = body.replace(EMAIL.encode(), p1.encode()) \
               .replace(EMAIL2.encode(), p2.encode())

    first = send(env, body, tenant="globex_any")
    assert first.status == 200, first.raw
    assert len(first.us) == 1 and first.eu == []
    got = assert_forwarded_exactly(first, want)
    assert re.search(r"\[EMAIL_[0-9a-f]{8}\] und \[EMAIL_[0-9a-f]{8}\]",
                     got["body"])
    assert EMAIL not in got["body"] and EMAIL2 not in got["body"]

    # the same address in another request (and another position): the
    # same pseudonym
    second = send(env, dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": f"Kunde: {EMAIL}"},
        {"role": "user", "content": "Hallo"}]}), tenant="globex_any")
    assert second.status == 200
    _, data = received(second)
    assert f"Kunde: {p1}".encode() in data and EMAIL.encode() not in data

    for ex, n in ((first, 2), (second, 1)):
        d = ex.record()
        assert d["supplementary_measures"] == ["pseudonymisation"]
        assert d["data_categories"] == {"EMAIL": n}
        assert d["redactions"] == n
        assert d["sent_in_clear"] == []


def test_secret_is_blocked_with_422_and_nothing_leaves(env):
    log = env.gw.run / "error.log"
    log_mark = zollenv.file_size(log)
    ex = send(env, dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": f"Mein Key ist {SECRET}, meine Mail "
                                    f"{EMAIL}. Warum geht das nicht?"}]}),
        tenant="globex_any")

    err, d = assert_refused(env, ex, 422, "pii_blocked")
    assert "SECRET" in err["message"]
    assert SECRET not in err["message"] and EMAIL not in err["message"]
    assert err["request_id"] == d["request_id"] == \
        ex.headers["x-zoll-request-id"]
    assert d["tenant"] == "globex_any"
    assert d["data_categories"]["SECRET"] == 1
    # neither the answer, the transfer record nor nginx's log hold a value
    for text in (ex.raw.decode(), json.dumps(ex.records),
                 log.read_bytes()[log_mark:].decode(errors="replace")):
        assert SECRET not in text and SECRET[8:30] not in text
        assert EMAIL not in text


def test_secret_is_blocked_on_the_anthropic_route_too(env):
    ex = send(env, dumps({
        "model": "claude-haiku-4-5", "max_tokens": 64,
        "system": f"Use the key {SECRET}",
        "messages": [{"role": "user", "content": "Hallo"}]}),
        tenant="globex_any", path=ANTHROPIC)
    err, _ = assert_refused(env, ex, 422, "pii_blocked", api="anthropic")
    assert "SECRET" in err["message"] and SECRET not in ex.raw.decode()


# 3. tokenize (initech_adequate)

def test_tokens_number_values_per_request(env):
    body = dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": f"Absender: {EMAIL}"},
        {"role": "user", "content": f"Leite die Mail von {EMAIL} an {EMAIL2}"
                                    f" weiter; Kopie an {EMAIL}."}]})
    want = body.replace(EMAIL.encode(), b"[EMAIL_1]") \
               .replace(EMAIL2.encode(), b"[EMAIL_2]")

    ex = send(env, body, tenant="initech_adequate")
    assert ex.status == 200, ex.raw
    assert len(ex.us) == 1
    assert_forwarded_exactly(ex, want)
    d = ex.record()
    assert d["supplementary_measures"] == ["tokenisation"]
    assert d["data_categories"] == {"EMAIL": 4}
    assert d["redactions"] == 4

    # per request: the next request numbers from 1 again
    ex = send(env, dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": f"an {EMAIL2}"}]}),
        tenant="initech_adequate")
    _, data = received(ex)
    assert b"an [EMAIL_1]" in data and EMAIL2.encode() not in data


def test_tokenize_profile_masks_secrets(env):
    ex = send(env, dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": f"Key {SECRET} von {EMAIL}"}]}),
        tenant="initech_adequate")
    assert ex.status == 200
    _, data = received(ex)
    assert b"Key [SECRET] von [EMAIL_1]" in data
    assert SECRET.encode() not in data and EMAIL.encode() not in data
    d = ex.record()
    assert d["supplementary_measures"] == ["masking", "tokenisation"]
    assert d["data_categories"] == {"SECRET": 1, "EMAIL": 1}


# 4. structural fields, tool calls, Anthropic, user/metadata

def test_structural_keys_are_sent_as_they_are(env):
    # $.model, $.messages[*].role and $.messages[*].tool_call_id are
    # structural paths of the OpenAI format: their values are not scanned
    body = dumps({"model": EMAIL, "messages": [
        {"role": EMAIL, "content": "erste Nachricht"},
        {"role": "tool", "tool_call_id": f"call_{EMAIL}",
         "content": "ok"},
        {"role": "user", "content": f"zweite an {EMAIL}"}]})
    want = body.replace(f"zweite an {EMAIL}".encode(), b"zweite an [EMAIL]")

    ex = send(env, body)
    assert ex.status == 200, ex.raw
    got = assert_forwarded_exactly(ex, want)
    sent = json.loads(got["body"])
    assert sent["model"] == EMAIL
    assert sent["messages"][0]["role"] == EMAIL
    assert sent["messages"][1]["tool_call_id"] == f"call_{EMAIL}"
    assert ex.json["model"] == EMAIL
    assert ex.record()["data_categories"] == {"EMAIL": 1}


def test_structural_key_does_not_shield_a_nested_container(env):
    # only a string or number at a structural path is skipped
    ex = send(env, dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": f"an {EMAIL}"}]}],
        "metadata": {"id": {"note": EMAIL}}}))
    assert ex.status == 200
    _, data = received(ex)
    assert EMAIL.encode() not in data
    assert json.loads(data)["metadata"] == {"id": {"note": "[EMAIL]"}}


def test_tool_call_arguments_are_redacted_and_stay_valid_json(env):
    args = json.dumps({"to": EMAIL, "subject": "Zahlung",
                       "iban": IBAN, "amount": 12.5})
    result = json.dumps({"status": "sent", "recipient": EMAIL})
    body = dumps({
        "model": "gpt-4o-mini",
        "tools": [{"type": "function", "function": {
            "name": "send_mail", "description": "Sends an e-mail",
            "parameters": {"type": "object", "properties": {
                "to": {"type": "string"}}}}}],
        "messages": [
            {"role": "user", "content": "Schick die Bestätigung."},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "send_mail", "arguments": args}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": result},
            {"role": "user", "content": "Danke"}]})

    ex = send(env, body)
    assert ex.status == 200, ex.raw
    _, data = received(ex)
    assert EMAIL.encode() not in data and IBAN.encode() not in data
    sent = json.loads(data)
    call = sent["messages"][1]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == \
        {"to": "[EMAIL]", "subject": "Zahlung", "iban": "[IBAN]",
         "amount": 12.5}
    assert json.loads(sent["messages"][2]["content"]) == \
        {"status": "sent", "recipient": "[EMAIL]"}
    # the rest of the body is what the client sent
    orig = json.loads(body)
    for k in ("model", "tools"):
        assert sent[k] == orig[k]
    assert sent["messages"][0] == orig["messages"][0]
    assert sent["messages"][3] == orig["messages"][3]
    d = ex.record()
    assert d["data_categories"] == {"EMAIL": 2, "IBAN": 1}
    assert d["redactions"] == 3


def test_anthropic_system_prompt_messages_and_metadata_are_redacted(env):
    body = dumps({
        "model": "claude-haiku-4-5", "max_tokens": 64,
        "system": f"Die Kundin ist {EMAIL}.",
        "metadata": {"user_id": EMAIL},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": f"Schreib an {EMAIL2}"}]},
            {"role": "assistant", "content": "Was soll drinstehen?"},
            {"role": "user", "content": [
                {"type": "text", "text": f"Dass {EMAIL} zurückruft."}]}]})
    p1, p2 = pseudonym(EMAIL), pseudonym(EMAIL2)
    want = body.replace(EMAIL.encode(), p1.encode()) \
               .replace(EMAIL2.encode(), p2.encode())

    ex = send(env, body, tenant="globex_any", path=ANTHROPIC)
    assert ex.status == 200, ex.raw
    assert len(ex.us) == 1 and ex.us[0]["path"] == "/v1/messages"
    assert_forwarded_exactly(ex, want)
    assert ex.json["content"][0]["text"] == \
        f"[mock-us] You said: Dass {p1} zurückruft."
    d = ex.record()
    assert d["subprocessor"]["id"] == "anthropic"
    assert d["data_categories"] == {"EMAIL": 4}
    assert d["supplementary_measures"] == ["pseudonymisation"]


def test_openai_user_and_metadata_fields_are_redacted(env):
    body = dumps({"model": "gpt-4o-mini", "user": EMAIL,
                  "metadata": {"customer": EMAIL, "callback": PHONE},
                  "messages": [{"role": "user", "content": "Hallo"}]})
    want = body.replace(EMAIL.encode(), b"[EMAIL]") \
               .replace(PHONE.encode(), b"[PHONE]")
    ex = send(env, body)
    assert ex.status == 200, ex.raw
    got = assert_forwarded_exactly(ex, want)
    sent = json.loads(got["body"])
    assert sent["user"] == "[EMAIL]"
    assert sent["metadata"] == {"customer": "[EMAIL]", "callback": "[PHONE]"}


def test_personal_data_in_an_object_key_does_not_leave(env):
    ex = send(env, dumps({"model": "gpt-4o-mini",
                          "metadata": {EMAIL: "vip"},
                          "messages": [{"role": "user", "content": "Hi"}]}))
    assert ex.status in (200, 422)
    assert all(EMAIL not in r["body"] for r in ex.upstream)


def test_object_key_is_rewritten_like_a_value(env):
    body = dumps({"model": "gpt-4o-mini", "metadata": {EMAIL: "vip"},
                  "messages": [{"role": "user", "content": "Hi"}]})
    ex = send(env, body)
    assert ex.status == 200, ex.raw
    got = assert_forwarded_exactly(ex, body.replace(EMAIL.encode(),
                                                    b"[EMAIL]"))
    assert json.loads(got["body"])["metadata"] == {"[EMAIL]": "vip"}
    assert ex.record()["data_categories"] == {"EMAIL": 1}


def test_keys_that_redaction_would_make_equal_are_refused(env):
    # two addresses as keys of one object would both become "[EMAIL]"
    ex = send(env, dumps({"model": "gpt-4o-mini",
                          "metadata": {EMAIL: "a", "b@example.org": "b"},
                          "messages": [{"role": "user", "content": "Hi"}]}))
    err, d = assert_refused(env, ex, 422, "redaction_key_collision")
    assert EMAIL not in err["message"] and EMAIL not in json.dumps(d)


def test_card_number_sent_as_a_json_number_becomes_a_string(env):
    body = (b'{"model":"gpt-4o-mini","metadata":{"card":4111111111111111,'
            b'"order":1234567},"messages":[{"role":"user","content":"Hi"}]}')
    ex = send(env, body)
    assert ex.status == 200, ex.raw
    got = assert_forwarded_exactly(
        ex, body.replace(b"4111111111111111", b'"[CREDIT_CARD]"'))
    assert json.loads(got["body"])["metadata"] == \
        {"card": "[CREDIT_CARD]", "order": 1234567}
    assert ex.record()["data_categories"] == {"CREDIT_CARD": 1}


def test_structural_key_names_in_free_form_metadata_do_not_shield(env):
    ex = send(env, dumps({"model": "gpt-4o-mini",
                          "metadata": {"id": EMAIL},
                          "messages": [{"role": "user", "content": "Hi"}]}))
    assert ex.status in (200, 422)
    assert all(EMAIL not in r["body"] for r in ex.upstream)


def test_structural_paths_are_per_format_and_position(env):
    # ids and types of tool calls are protocol where the format puts them;
    # the same names inside arguments, metadata or a tool's input are data
    sig = "EqQBCgIYAhIM" + EMAIL
    body = dumps({"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [
        {"role": "user", "content": "Hallo"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "ok", "signature": sig},
            {"type": "tool_use", "id": f"toolu_{EMAIL}", "name": "lookup",
             "input": {"id": EMAIL, "model": EMAIL}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"toolu_{EMAIL}",
             "content": [{"type": "text", "text": f"an {EMAIL}"}]}]}]})
    ex = send(env, body, tenant="globex_any", path=ANTHROPIC)
    assert ex.status == 200, ex.raw
    sent = json.loads(received(ex)[1])
    blocks = sent["messages"][1]["content"]
    assert blocks[0]["signature"] == sig
    assert blocks[1]["id"] == f"toolu_{EMAIL}"
    assert sent["messages"][2]["content"][0]["tool_use_id"] == \
        f"toolu_{EMAIL}"
    assert EMAIL not in json.dumps(blocks[1]["input"])
    assert EMAIL not in sent["messages"][2]["content"][0]["content"][0]["text"]
    assert ex.record()["data_categories"] == {"EMAIL": 3}

    # an OpenAI body: $.model is structural there, "model" in metadata not
    ex = send(env, dumps({"model": "gpt-4o-mini",
                          "metadata": {"model": EMAIL, "type": EMAIL},
                          "messages": [{"role": "user", "content": "Hi"}]}))
    assert ex.status == 200, ex.raw
    sent = json.loads(received(ex)[1])
    assert sent["metadata"] == {"model": "[EMAIL]", "type": "[EMAIL]"}


# 5. JSON escapes

@pytest.mark.parametrize("spelled", [
    r"anna.schmidt\u0040example.de",
    r"\u0061nna.schmidt@example.de",
    r"anna.schmidt@example\u002ede",
    r"\u0061\u006e\u006e\u0061\u002e\u0073\u0063\u0068\u006d\u0069\u0064"
    r"\u0074\u0040\u0065\u0078\u0061\u006d\u0070\u006c\u0065\u002e\u0064"
    r"\u0065",
])
def test_escaped_address_is_still_redacted(env, spelled):
    body = ('{"model":"gpt-4o-mini","messages":[{"role":"user",'
            '"content":"Schreib an ' + spelled + ' bitte"}]}').encode()
    assert json.loads(body)["messages"][0]["content"] == \
        f"Schreib an {EMAIL} bitte"

    ex = send(env, body)
    assert ex.status == 200, ex.raw
    got = assert_forwarded_exactly(
        ex, body.replace(spelled.encode(), b"[EMAIL]"))
    assert "anna" not in got["body"] and "\\u0040" not in got["body"]
    assert json.loads(got["body"])["messages"][0]["content"] == \
        "Schreib an [EMAIL] bitte"
    assert ex.record()["data_categories"] == {"EMAIL": 1}


def test_escapes_around_a_finding_keep_their_meaning(env):
    # a changed string is re-encoded: its text must stay the same, other
    # strings stay byte for byte as sent
    changed = (r'Zeile 1\nZeile 2: \"anna.schmidt\u0040example.de\" '
               r'\u00e9 \ud83d\ude80 \/ \\ \t')
    untouched = r'keine Daten \u00e9 \"zitiert\" \/'
    body = ('{"model":"gpt-4o-mini","messages":[{"role":"system","content":"'
            + untouched + '"},{"role":"user","content":"' + changed
            + '"}]}').encode()

    ex = send(env, body)
    assert ex.status == 200, ex.raw
    got, data = received(ex)
    assert got["headers"]["content-length"] == str(len(data))
    sent = json.loads(data)
    assert sent["messages"][1]["content"] == \
        'Zeile 1\nZeile 2: "[EMAIL]" é 🚀 / \\ \t'
    assert ('"content":"' + untouched + '"').encode() in data
    assert b"anna" not in data
    assert ex.record()["redactions"] == 1


# 6. bodies Zoll cannot inspect, and large ones

@pytest.mark.parametrize("body", [
    b'{"model": "gpt-4o-mini", "messages": [',
    b'{"model": "gpt-4o-mini"} {"messages": []}',
    b'{model: "gpt-4o-mini"}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", '
    b'"content": "bad \\x escape"}]}',
    b'{"model": "gpt-4o-mini", "n": 01}',
    b"['single quotes']",
], ids=["truncated", "trailing-data", "unquoted-key", "bad-escape",
        "leading-zero", "single-quotes"])
def test_invalid_json_is_refused_with_400(env, body):
    ex = send(env, body)
    err, d = assert_refused(env, ex, 400, "bad_request")
    assert "JSON" in err["message"]


@pytest.mark.parametrize("bad", [
    b"caf\xc3 au lait", b"\xff\xfe", b"overlong \xc0\xaf",
    b"surrogate \xed\xa0\x80", b"cut \xe2\x82",
], ids=["truncated", "ff", "overlong", "surrogate", "cut-at-end"])
def test_invalid_utf8_in_a_string_is_refused_with_400(env, bad):
    body = (b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'
            + EMAIL.encode() + b" " + bad + b'"}]}')
    ex = send(env, body)
    err, _ = assert_refused(env, ex, 400, "bad_request")
    assert "UTF-8" in err["message"]
    assert EMAIL not in ex.raw.decode()


def nested(n):
    """A chat body whose "x" holds n nested arrays: depth n + 1 with the
    top-level object."""
    return (b'{"model":"gpt-4o-mini","messages":[{"role":"user",'
            b'"content":"tief"}],"x":' + b"[" * n + b'"' + EMAIL.encode()
            + b'"' + b"]" * n + b"}")


@pytest.mark.parametrize("n", [60, 63])
def test_nesting_up_to_the_limit_passes_and_is_redacted(env, n):
    body = nested(n)
    ex = send(env, body)
    assert ex.status == 200, ex.raw
    assert_forwarded_exactly(ex, body.replace(EMAIL.encode(), b"[EMAIL]"))


@pytest.mark.parametrize("n", [64, 65, 5000])
def test_nesting_beyond_max_depth_is_refused_with_400(env, n):
    ex = send(env, nested(n))
    err, _ = assert_refused(env, ex, 400, "bad_request")
    assert "nested too deeply" in err["message"]


def test_whole_body_of_65_nested_arrays_is_refused(env):
    ex = send(env, b"[" * 65 + b"]" * 65)
    assert_refused(env, ex, 400, "bad_request")
    # 60 levels are fine for Zoll (the mock then refuses a non-object)
    ex = send(env, b"[" * 60 + b"]" * 60)
    assert ex.status == 400 and len(ex.eu) == 1
    assert ex.record()["decision"] == "forwarded"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "GZIP",
                                      "gzip, identity"])
def test_compressed_body_is_refused_with_415(env, encoding):
    body = gzip.compress(dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": f"an {EMAIL}"}]}))
    ex = send(env, body, headers={"Content-Encoding": encoding})
    err, d = assert_refused(env, ex, 415, "body_not_inspectable")
    assert "Content-Encoding" in err["message"]
    assert d["data_categories"] is None


def test_identity_content_encoding_is_inspected(env):
    ex = send(env, dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": f"an {EMAIL}"}]}),
        headers={"Content-Encoding": "identity"})
    assert ex.status == 200
    _, data = received(ex)
    assert b"an [EMAIL]" in data and EMAIL.encode() not in data


@pytest.mark.parametrize("ctype,body", [
    ("multipart/form-data; boundary=zollboundary",
     b"--zollboundary\r\nContent-Disposition: form-data; name=\"file\"; "
     b"filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n"
     + EMAIL.encode() + b"\r\n--zollboundary--\r\n"),
    ("text/plain", EMAIL.encode()),
    ("application/x-www-form-urlencoded",
     b"email=" + EMAIL.replace("@", "%40").encode()),
    ("application/octet-stream", b"\x00\x01" + EMAIL.encode()),
])
def test_non_json_body_is_refused_with_415(env, ctype, body):
    ex = send(env, body, headers={"Content-Type": ctype})
    err, _ = assert_refused(env, ex, 415, "body_not_inspectable")
    assert ctype.split(";")[0] in err["message"]
    assert EMAIL not in ex.raw.decode()


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8",
                                   "Application/JSON",
                                   "application/vnd.api+json"])
def test_json_content_types_are_inspected(env, ctype):
    ex = send(env, dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": f"an {EMAIL}"}]}),
        headers={"Content-Type": ctype})
    assert ex.status == 200, ex.raw
    _, data = received(ex)
    assert EMAIL.encode() not in data and b"[EMAIL]" in data


def test_body_without_content_type_is_inspected_as_json(env):
    # no Content-Type: the body must still be JSON Zoll can read
    body = dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": f"an {EMAIL}"}]})
    st, _, raw, eu, us, records = raw_exchange(
        env, head_for(env, "acme_eu", [f"Content-Length: {len(body)}"],
                      ctype=None), [body])
    assert st == 200, raw
    assert len(eu) == 1
    assert eu[0]["body"].encode() == body.replace(EMAIL.encode(), b"[EMAIL]")

    form = b"email=" + EMAIL.encode()
    st, _, raw, eu, us, records = raw_exchange(
        env, head_for(env, "acme_eu", [f"Content-Length: {len(form)}"],
                      ctype=None), [form])
    assert st == 400 and json.loads(raw)["error"]["code"] == "bad_request"
    assert eu == [] and us == []
    assert [r["code"] for r in records] == ["bad_request"]


def test_anthropic_route_refuses_in_its_own_error_shape(env):
    ex = send(env, b'{"model": "claude-haiku-4-5", "messages": [',
              tenant="globex_any", path=ANTHROPIC)
    assert_refused(env, ex, 400, "bad_request", api="anthropic")


def test_declared_length_above_the_limit_is_refused_before_reading(env):
    # only the headers and a little of the body: Zoll must answer from the
    # Content-Length alone
    st, headers, body, eu, us, records = raw_exchange(
        env,
        head_for(env, "acme_eu", [f"Content-Length: {ZOLL_MAX + 1}"]),
        [b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'
         + EMAIL.encode() + b" " + b"x" * 4096])
    assert st == 413, body
    err = json.loads(body)["error"]
    assert err["code"] == "body_too_large"
    assert str(ZOLL_MAX) in err["message"]
    assert eu == [] and us == []
    d = [r for r in records if r["event"] == "decision"]
    assert len(d) == 1
    assert (d[0]["decision"], d[0]["status"], d[0]["code"]) == \
        ("refused", 413, "body_too_large")


def assert_zolls_413(st, headers, raw, eu, us, records, tenant="acme_eu"):
    assert st == 413, raw[:300]
    assert b"<html>" not in raw
    err = json.loads(raw)["error"]
    assert err["code"] == "body_too_large"
    assert str(ZOLL_MAX) in err["message"]
    assert eu == [] and us == []
    d = [r for r in records if r["event"] == "decision"]
    assert len(d) == 1
    assert (d[0]["decision"], d[0]["status"], d[0]["code"],
            d[0]["tenant"]) == ("refused", 413, "body_too_large", tenant)
    assert not [r for r in records if r.get("decision") == "forwarded"]


def test_declared_length_above_nginx_limit_gets_zolls_413(env):
    # above client_max_body_size nginx refuses in its find-config phase,
    # before Zoll's handler runs; Zoll's filters turn its HTML page into
    # Zoll's error and record the refusal
    st, headers, body, eu, us, records = raw_exchange(
        env,
        head_for(env, "acme_eu", [f"Content-Length: {NGINX_MAX + 1}"]),
        [b'{"model":"gpt-4o-mini","messages":[' + b" " * 4096])
    assert_zolls_413(st, headers, body, eu, us, records)
    assert headers.get("content-type") == "application/json"


def test_declared_length_above_nginx_limit_with_bad_key_gets_zolls_413(env):
    st, headers, body, eu, us, records = raw_exchange(
        env,
        head_for(env, "acme_eu", [f"Content-Length: {NGINX_MAX + 1}"])
        .replace(env.keys["acme_eu"].encode(), b"zk_not_a_key"),
        [b"{"])
    assert_zolls_413(st, headers, body, eu, us, records, tenant=None)


def test_chunked_body_is_redacted_and_sent_with_a_content_length(env):
    body = dumps(MASK_BODY)
    want = body.replace(EMAIL.encode(), b"[EMAIL]") \
               .replace(IBAN.encode(), b"[IBAN]")
    # split inside the address: the redactor sees the whole body
    cut = body.index(EMAIL.encode()) + 5
    ex = send(env, iter([body[:cut], body[cut:]]))
    assert ex.status == 200, ex.raw
    assert_forwarded_exactly(ex, want)
    d = ex.record()
    assert d["data_categories"] == {"EMAIL": 1, "IBAN": 1}
    assert d["redactions"] == 2


def test_chunked_body_written_by_hand_is_redacted(env):
    body = dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": f"an {EMAIL}"}]})
    st, headers, raw, eu, us, records = raw_exchange(
        env, head_for(env, "acme_eu", ["Transfer-Encoding: chunked"]),
        chunked(body, size=7))
    assert st == 200, raw
    assert len(eu) == 1
    assert eu[0]["body"].encode() == body.replace(EMAIL.encode(), b"[EMAIL]")
    assert eu[0]["headers"]["content-length"] == str(eu[0]["body_bytes"])
    assert "transfer-encoding" not in eu[0]["headers"]
    d = [r for r in records if r["event"] == "decision"]
    assert len(d) == 1 and d[0]["data_categories"] == {"EMAIL": 1}


def test_chunked_body_above_zoll_limit_gets_zolls_413(env):
    # between zoll_max_body_size and client_max_body_size: nginx reads it,
    # Zoll refuses it in the provider's shape, with a record
    body = filler_body(ZOLL_MAX + MB // 2, "zu groß")
    st, headers, raw, eu, us, records = raw_exchange(
        env, head_for(env, "acme_eu", ["Transfer-Encoding: chunked"]),
        chunked(body, size=MB // 4))
    assert st == 413, raw[:300]
    assert json.loads(raw)["error"]["code"] == "body_too_large"
    assert eu == [] and us == []
    d = [r for r in records if r["event"] == "decision"]
    assert len(d) == 1 and d[0]["code"] == "body_too_large"


def test_chunked_body_above_nginx_limit_gets_zolls_413(env):
    # above client_max_body_size nginx stops reading the chunked body
    # (config/zoll_proxy.conf); Zoll answers in the provider's shape and
    # records the refusal: nothing leaves
    body = filler_body(NGINX_MAX + MB // 2, "viel zu groß")
    st, headers, raw, eu, us, records = raw_exchange(
        env, head_for(env, "acme_eu", ["Transfer-Encoding: chunked"]),
        chunked(body, size=MB // 4))
    assert_zolls_413(st, headers, raw, eu, us, records)


def test_body_at_the_limit_goes_through_a_temp_file_and_is_redacted(env):
    body = filler_body(ZOLL_MAX, f"Kurz: {EMAIL}")
    want = body.replace(EMAIL.encode(), b"[EMAIL]")
    log = env.gw.run / "error.log"
    log_mark = zollenv.file_size(log)

    ex = send(env, body)

    assert ex.status == 200, ex.raw[:500]
    # nginx spooled it to disk (it exceeds client_body_buffer_size)
    assert "buffered to a temporary file" in \
        log.read_bytes()[log_mark:].decode(errors="replace")
    got, data = received(ex)
    assert EMAIL.encode() not in data
    assert data.count(b"[EMAIL]") == 4
    assert data == want
    assert got["headers"]["content-length"] == str(len(want))
    assert ex.json["choices"][0]["message"]["content"] == \
        "[mock-eu] You said: Kurz: [EMAIL]"
    d = ex.record()
    assert d["data_categories"] == {"EMAIL": 4} and d["redactions"] == 4


def test_chunked_body_at_the_limit_is_redacted(env):
    body = filler_body(ZOLL_MAX, f"Kurz: {EMAIL}")
    ex = send(env, (body[i:i + MB] for i in range(0, len(body), MB)))
    assert ex.status == 200, ex.raw[:500]
    got, data = received(ex)
    assert EMAIL.encode() not in data
    assert data == body.replace(EMAIL.encode(), b"[EMAIL]")


# HTTP/2 (the gateway offers h2 over TLS; SDKs and curl use it)

def curl(env, body, extra=()):
    r = subprocess.run(
        ["curl", "-sS", "--http2", "--cacert", str(env.run / "ca.pem"),
         "-H", "Content-Type: application/json",
         "-H", f"Authorization: Bearer {env.keys['acme_eu']}",
         "-w", "\n%{http_version} %{http_code}", *extra,
         f"https://127.0.0.1:{env.gw.https_port}{OPENAI}"],
        input=body, capture_output=True, timeout=30)
    out, _, tail = r.stdout.rpartition(b"\n")
    return tail.decode().split(), out, r


@pytest.mark.parametrize("how", [["--data-binary", "@-"],
                                 ["-X", "POST", "-T", "-"]],
                         ids=["content-length", "no-content-length"])
def test_http2_body_is_redacted(env, how):
    body = dumps(MASK_BODY)
    m = marks(env)
    (version, code), out, r = curl(env, body, how)
    assert (version, code) == ("2", "200"), r.stderr
    time.sleep(0.2)
    eu = env.eu.since(m[0])
    assert len(eu) == 1
    assert eu[0]["body"].encode() == body.replace(EMAIL.encode(), b"[EMAIL]") \
        .replace(IBAN.encode(), b"[IBAN]")


def test_http2_body_at_the_limit_without_length_is_redacted(env):
    # HTTP/2 DATA frames with no content-length, spooled to a temp file
    body = filler_body(ZOLL_MAX, f"Kurz: {EMAIL}")
    m = marks(env)
    (version, code), out, r = curl(env, body, ["-X", "POST", "-T", "-"])
    assert (version, code) == ("2", "200"), r.stderr
    time.sleep(0.2)
    eu = env.eu.since(m[0])
    assert len(eu) == 1
    assert eu[0]["body"].encode() == body.replace(EMAIL.encode(), b"[EMAIL]")


def test_http2_body_above_the_limit_without_length_gets_zolls_413(env):
    body = filler_body(ZOLL_MAX + 1, "zu lang")
    m = marks(env)
    (version, code), out, r = curl(env, body, ["-X", "POST", "-T", "-"])
    assert (version, code) == ("2", "413"), r.stderr
    assert json.loads(out)["error"]["code"] == "body_too_large"
    time.sleep(0.2)
    assert env.eu.since(m[0]) == [] and env.us.since(m[1]) == []


def test_http2_body_above_nginx_limit_without_length_gets_zolls_413(env):
    # HTTP/2 DATA frames beyond client_max_body_size: nginx's HTTP/2 body
    # reader refuses, Zoll answers and records
    body = filler_body(NGINX_MAX + MB // 2, "viel zu lang")
    m = marks(env)
    log_mark = zollenv.file_size(env.gw.transfer_log)
    (version, code), out, r = curl(env, body, ["-X", "POST", "-T", "-"])
    assert (version, code) == ("2", "413"), r.stderr
    assert json.loads(out)["error"]["code"] == "body_too_large"
    time.sleep(0.2)
    assert env.eu.since(m[0]) == [] and env.us.since(m[1]) == []
    d = [x for x in env.records_since(log_mark) if x["event"] == "decision"]
    assert [(x["decision"], x["code"]) for x in d] == \
        [("refused", "body_too_large")]


# 7. no body

def test_get_without_body_is_forwarded_with_no_categories(env):
    ex = env.exchange("GET", "/openai/v1/models", tenant="acme_eu")
    assert ex.status == 200
    assert ex.json["data"][0]["id"] == "gpt-4o-mini"
    got, data = received(ex)
    assert got["method"] == "GET" and data == b""
    d = ex.record()
    assert d["decision"] == "forwarded"
    # not inspected: null, which is not "nothing found"
    assert d["data_categories"] is None
    assert d["supplementary_measures"] == []


# 8. configuration: nginx's limit must lie above Zoll's

def proxy_conf_with(tmp_path, old, new):
    text = (zollenv.CONFIG / "zoll_proxy.conf").read_text()
    assert old in text
    path = tmp_path / "zoll_proxy_test.conf"
    path.write_text(text.replace(old, new))
    return path


def openai_location_includes(conf):
    include = f"include {zollenv.CONFIG}/zoll_proxy.conf;"
    # only the first location (/openai/) gets the changed copy
    return lambda t: t.replace(include, f"include {conf};", 1)


@pytest.mark.parametrize("old,new", [
    ("client_max_body_size 9m;", "client_max_body_size 1m;"),
    ("client_max_body_size 9m;", "client_max_body_size 8m;"),
    ("client_max_body_size 9m;", "client_max_body_size 0;"),
    ("zoll_max_body_size 8m;", "zoll_max_body_size 10m;"),
], ids=["1m", "equal", "unlimited", "zoll-above"])
def test_client_max_body_size_not_above_zoll_limit_fails_nginx_t(
        env, make_gateway, tmp_path, old, new):
    conf = proxy_conf_with(tmp_path, old, new)
    ok, out = make_gateway(start=False,
                           edit=openai_location_includes(conf)).test_config()
    assert not ok
    assert "client_max_body_size" in out
    assert "must be larger than zoll_max_body_size" in out
    assert 'location "/openai/"' in out
    assert "is duplicate" not in out


def test_smaller_limits_in_the_right_order_pass_nginx_t(env, make_gateway,
                                                        tmp_path):
    conf = proxy_conf_with(tmp_path, "zoll_max_body_size 8m;\n"
                           "client_max_body_size 9m;",
                           "zoll_max_body_size 512k;\n"
                           "client_max_body_size 1m;")
    ok, out = make_gateway(start=False,
                           edit=openai_location_includes(conf)).test_config()
    assert ok, out
