"""Reversible tokens restored in responses (the tokenize operator).

The mock providers quote the user's text back, so a reply holds exactly
the tokens the provider saw.  Each test proves from the mocks' records that
the provider saw tokens and never the values, and from what the client got
that the values are back: in plain JSON, in tool call arguments, and in
event streams cut into deltas of a few characters, into TCP writes of a
few bytes (also inside JSON escapes), slowly, and gzipped for the client.
"""

import concurrent.futures
import gzip
import http.client
import json
import time

import pytest

import zollenv

OPENAI = "/openai/v1/chat/completions"
ANTHROPIC = "/anthropic/v1/messages"

EMAIL = "anna.schmidt@example.de"
EMAIL2 = "jonas.weber@example.org"
IBAN = "DE89 3704 0044 0532 0130 00"

TEXT = (f"Schreib an {EMAIL} und [{EMAIL2}], Kopie an {EMAIL}; "
        f"IBAN {IBAN}. Nicht ausgegeben: [EMAIL_9] und [EMAIL_1")
# what the provider must see instead (the IBAN is one token too)
SENT = ("Schreib an [EMAIL_1] und [[EMAIL_2]], Kopie an [EMAIL_1]; "
        "IBAN [IBAN_1]. Nicht ausgegeben: [EMAIL_9] und [EMAIL_1")
ORIGINALS = (EMAIL, EMAIL2, IBAN)


def reply(text, mock="us"):
    return f"[mock-{mock}] You said: {text}"


@pytest.fixture
def anthropic_tokens(env, policy):
    """globex_any, which may use Anthropic, with the tokenize profile."""
    for t in policy["tenants"]:
        if t["id"] == "globex_any":
            t["redaction"] = "tokenize"
    env.apply_policy(policy)
    return "globex_any"


@pytest.fixture
def gemini(env, make_gateway, tmp_path):
    """A gateway with a Gemini subprocessor (EU mock) at /gemini/, enabled
    for initech_adequate; the demo has none."""
    p = env.policy()
    p["subprocessors"].append({
        "id": "google", "legal_name": "Google Ireland Limited (synthetic)",
        "address": "Gordon House, Barrow Street, Dublin 4, Ireland",
        "purpose": "AI language models (Gemini)", "api": "gemini",
        "regions": [{"id": "eu", "endpoint": "https://eu.mock.zoll.test",
                     "upstream": "zoll_eu", "country": "IE",
                     "legal_bases": ["eea_art28"]}]})
    tenant = next(t for t in p["tenants"] if t["id"] == "initech_adequate")
    tenant["subprocessors"].append(
        {"id": "google",
         "credential_file": tenant["subprocessors"][0]["credential_file"]})
    env.write_policy(p, tmp_path / "policy.json")
    location = ("location /gemini/ {\n    zoll google;\n"
                "    rewrite ^/gemini(/.*)$ $1 break;\n"
                f"    include {zollenv.CONFIG}/zoll_proxy.conf;\n"
                "    proxy_set_header x-goog-api-key $zoll_credential;\n}\n")
    return make_gateway(policy=tmp_path / "policy.json",
                        edit=lambda loc: location + loc)


def provider_saw(ex, sent=SENT):
    """The provider got the tokens, never a value."""
    assert len(ex.upstream) == 1, ex.upstream
    got = ex.upstream[0]
    body = got["body"]
    assert json.dumps(sent, ensure_ascii=False)[1:-1] in body
    for v in ORIGINALS:
        assert v not in body
    assert "accept-encoding" not in got["headers"]
    return got


def outcome_tokens(ex):
    return ex.record("outcome")["reversible_tokens"]


def events(raw):
    """SSE events as (event name or None, data) after checking framing."""
    text = raw.decode()
    assert text.endswith("\n\n"), text[-200:]
    out = []
    for block in text[:-2].split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            else:
                assert line.startswith(":") or line.startswith("id:"), line
        assert len(data) == 1, block
        out.append((name, data[0]))
    return out


def openai_text(raw):
    evs = events(raw)
    assert evs[-1][1] == "[DONE]"
    chunks = [json.loads(d) for _, d in evs[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or ""
                   for c in chunks if c["choices"])
    args = "".join(tc["function"].get("arguments", "")
                   for c in chunks if c["choices"]
                   for tc in c["choices"][0]["delta"].get("tool_calls", []))
    return text, args


def anthropic_text(raw):
    blocks = {}
    for name, data in events(raw):
        ev = json.loads(data)
        assert ev["type"] == name
        if name == "content_block_delta":
            d = ev["delta"]
            blocks[ev["index"]] = blocks.get(ev["index"], "") + \
                d.get("text", d.get("partial_json", ""))
    return blocks


def chat(text=TEXT, **extra):
    return {"model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": text}], **extra}


def claude(text=TEXT, **extra):
    return {"model": "claude-haiku-4-5", "max_tokens": 64,
            "messages": [{"role": "user", "content": text}], **extra}


TOOLS = [{"type": "function", "function": {
    "name": "send_mail", "parameters": {"type": "object"}}}]
CLAUDE_TOOLS = [{"name": "send_mail", "input_schema": {"type": "object"}}]


# plain JSON

def test_openai_json_restored(env):
    ex = env.exchange("POST", OPENAI, chat(), tenant="initech_adequate")
    assert ex.status == 200, ex.raw
    provider_saw(ex)
    assert ex.json["choices"][0]["message"]["content"] == reply(TEXT)
    # Content-Length was dropped: the body is chunked, and whole
    assert "content-length" not in ex.headers
    assert outcome_tokens(ex) == {"issued": 3, "restored": 4}


def test_openai_tool_call_arguments_restored(env):
    ex = env.exchange("POST", OPENAI, chat(tools=TOOLS),
                      tenant="initech_adequate")
    assert ex.status == 200, ex.raw
    provider_saw(ex)
    call = ex.json["choices"][0]["message"]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"text": TEXT}


def test_anthropic_json_and_tool_use_restored(env, anthropic_tokens):
    ex = env.exchange("POST", ANTHROPIC, claude(tools=CLAUDE_TOOLS),
                      tenant=anthropic_tokens)
    assert ex.status == 200, ex.raw
    got = provider_saw(ex)
    text, tool = ex.json["content"]
    assert text["text"] == reply(TEXT, got["mock"])
    assert tool["input"] == {"text": TEXT}
    assert outcome_tokens(ex) == {"issued": 3, "restored": 8}


def test_responses_api_restored(env):
    body = {"model": "gpt-4o-mini", "input": TEXT}
    ex = env.exchange("POST", "/openai/v1/responses", body,
                      tenant="initech_adequate")
    assert ex.status == 200, ex.raw
    provider_saw(ex)
    assert ex.json["output"][0]["content"][0]["text"] == reply(TEXT)


def gemini_request(gw, method, body, **headers):
    key = zollenv.demo_keys()["initech_adequate"]
    return gw.request("POST", f"/gemini/v1beta/models/gemini-2.0-flash:"
                      f"{method}", json.dumps(body),
                      {"x-goog-api-key": key, **headers})


def test_gemini_restored(env, gemini):
    """generateContent (with a function call) and
    streamGenerateContent?alt=sse (CRLF framing) get the values back."""
    body = {"contents": [{"role": "user", "parts": [{"text": TEXT}]}],
            "tools": [{"functionDeclarations": [{"name": "send_mail"}]}]}
    mark = env.eu.mark()
    st, _, raw = gemini_request(gemini, "generateContent", body)
    assert st == 200, raw
    parts = json.loads(raw)["candidates"][0]["content"]["parts"]
    assert parts[0]["text"] == reply(TEXT, "eu")
    assert parts[1]["functionCall"]["args"] == {"text": TEXT}

    del body["tools"]
    st, hdrs, raw = gemini_request(
        gemini, "streamGenerateContent?alt=sse", body, **{"x-mock-delta": "3"})
    assert st == 200, raw
    assert hdrs["content-type"].startswith("text/event-stream")
    assert raw.endswith(b"\r\n\r\n") and b"\n\n" not in \
        raw.replace(b"\r\n", b"")
    text = "".join(p.get("text", "") for block in raw.split(b"\r\n\r\n")
                   if block
                   for p in json.loads(block[len(b"data: "):])[
                       "candidates"][0]["content"]["parts"])
    assert text == reply(TEXT, "eu")

    sent = env.eu.since(mark)
    assert len(sent) == 2
    for got in sent:
        assert "accept-encoding" not in got["headers"]
        for v in ORIGINALS:
            assert v not in got["body"]


# event streams, cut awkwardly

@pytest.mark.parametrize("delta,chop,escape", [
    (8, 0, False),     # the mock's usual deltas
    (3, 0, False),     # every token split across two or more events
    (1, 0, True),      # one character per event, "_" written as \u005f
    (5, 3, True),      # events written 3 bytes at a time, escapes cut
    (2, 1, False),     # one byte per TCP write
])
def test_openai_stream_restored(env, delta, chop, escape):
    hdrs = {"x-mock-delta": str(delta), "x-mock-chop": str(chop),
            "x-mock-escape": "1" if escape else "0"}
    ex = env.exchange("POST", OPENAI, chat(stream=True), headers=hdrs,
                      tenant="initech_adequate")
    assert ex.status == 200, ex.raw
    assert ex.headers["content-type"].startswith("text/event-stream")
    provider_saw(ex)
    text, _ = openai_text(ex.raw)
    assert text == reply(TEXT)
    assert outcome_tokens(ex) == {"issued": 3, "restored": 4}


def test_openai_stream_tool_call_restored(env):
    ex = env.exchange("POST", OPENAI, chat(stream=True, tools=TOOLS),
                      headers={"x-mock-delta": "4", "x-mock-chop": "7"},
                      tenant="initech_adequate")
    assert ex.status == 200, ex.raw
    provider_saw(ex)
    _, args = openai_text(ex.raw)
    assert json.loads(args) == {"text": TEXT}


@pytest.mark.parametrize("delta,chop", [(8, 0), (3, 5), (1, 2)])
def test_anthropic_stream_restored(env, anthropic_tokens, delta, chop):
    ex = env.exchange("POST", ANTHROPIC,
                      claude(stream=True, tools=CLAUDE_TOOLS),
                      headers={"x-mock-delta": str(delta),
                               "x-mock-chop": str(chop)},
                      tenant=anthropic_tokens)
    assert ex.status == 200, ex.raw
    got = provider_saw(ex)
    blocks = anthropic_text(ex.raw)
    assert blocks[0] == reply(TEXT, got["mock"])
    assert json.loads(blocks[1]) == {"text": TEXT}
    assert outcome_tokens(ex) == {"issued": 3, "restored": 8}


def test_gzip_for_the_client(env):
    for body in (chat(), chat(stream=True)):
        ex = env.exchange("POST", OPENAI, body, tenant="initech_adequate",
                          headers={"Accept-Encoding": "gzip",
                                   "x-mock-delta": "3"})
        assert ex.status == 200, ex.raw
        # the client's Accept-Encoding never reaches the provider
        provider_saw(ex)
        assert ex.headers.get("content-encoding") == "gzip"
        raw = gzip.decompress(ex.raw)
        if body.get("stream"):
            assert openai_text(raw)[0] == reply(TEXT)
        else:
            assert json.loads(raw)["choices"][0]["message"]["content"] \
                == reply(TEXT)


def test_accept_encoding_is_never_forwarded(env, make_gateway):
    """Also where the proxy configuration forgets to clear it, the
    client's Accept-Encoding does not reach the provider: the module
    drops it."""
    proxy = (zollenv.CONFIG / "zoll_proxy.conf").read_text()
    assert 'proxy_set_header Accept-Encoding "";' in proxy
    proxy = proxy.replace('proxy_set_header Accept-Encoding "";', "")
    include = f"include {zollenv.CONFIG}/zoll_proxy.conf;"
    gw = make_gateway(edit=lambda loc: loc.replace(include, proxy))
    assert include not in gw.run.joinpath("locations.conf").read_text()

    mark = env.us.mark()
    st, hdrs, raw = gw.request(
        "POST", OPENAI, json.dumps(chat()),
        {"Authorization": f"Bearer {env.keys['initech_adequate']}",
         "Accept-Encoding": "gzip, br"})
    assert st == 200, raw
    got = env.us.since(mark)
    assert len(got) == 1 and "accept-encoding" not in got[0]["headers"]
    assert hdrs["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(raw))["choices"][0]["message"][
        "content"] == reply(TEXT)


def test_compressed_answer_is_refused(env):
    """A provider that compresses anyway: its answer cannot be restored,
    so the client gets Zoll's 502 in the provider's shape, never the
    answer with tokens in it."""
    ex = env.exchange("POST", OPENAI, chat(), tenant="initech_adequate",
                      headers={"x-mock-gzip": "1"})
    provider_saw(ex)
    assert ex.status == 502, ex.raw
    assert ex.headers.get("content-encoding") is None
    err = ex.json["error"]
    assert err["code"] == "response_not_restorable"
    assert err["type"] == "api_error"
    o = ex.record("outcome")
    assert o["status"] == 502 and o["upstream_status"] == 200
    assert o["reversible_tokens"] == {"issued": 3, "restored": 0}

    # without tokens there is nothing to restore: passed on as it came
    ex = env.exchange("POST", OPENAI, chat("Hallo"),
                      tenant="initech_adequate", headers={"x-mock-gzip": "1"})
    assert ex.status == 200
    assert ex.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(ex.raw))["choices"][0]["message"][
        "content"] == reply("Hallo")


def test_stream_is_not_held(env):
    """With a slow provider, restored events reach the client as they are
    written, long before the stream ends."""
    conn = http.client.HTTPSConnection("127.0.0.1", env.gw.https_port,
                                       context=env.gw.ssl_context(),
                                       timeout=30)
    body = json.dumps(chat(stream=True))
    conn.request("POST", OPENAI, body=body, headers={
        "Authorization": f"Bearer {env.keys['initech_adequate']}",
        "Content-Type": "application/json",
        "x-mock-delta": "4", "x-mock-delay-ms": "40"})
    start = time.monotonic()
    resp = conn.getresponse()
    arrivals = []
    buf = b""
    while True:
        line = resp.readline()
        if not line:
            break
        buf += line
        if line.startswith(b"data: "):
            arrivals.append(time.monotonic() - start)
    conn.close()
    assert openai_text(buf)[0] == reply(TEXT)
    # about 40 events 40 ms apart: the first arrive while the mock still
    # writes, and arrivals spread over the stream
    assert len(arrivals) > 20
    assert arrivals[0] < arrivals[-1] / 4, arrivals
    assert arrivals[len(arrivals) // 2] < arrivals[-1] * 0.75, arrivals


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_slow_client_does_not_fill_memory(env):
    """A client that stops reading while the provider streams fast: nginx
    stops reading from the provider (restored output waiting for the
    client is bounded) instead of keeping the whole stream in memory."""
    text = TEXT * 2500                  # ~40,000 events of 8 characters
    conn = http.client.HTTPSConnection("127.0.0.1", env.gw.https_port,
                                       context=env.gw.ssl_context(),
                                       timeout=60)
    conn.request("POST", OPENAI, body=json.dumps(chat(text, stream=True)),
                 headers={"Authorization":
                          f"Bearer {env.keys['initech_adequate']}",
                          "Content-Type": "application/json"})
    resp = conn.getresponse()
    workers = env.gw.workers()
    before = sum(rss_kb(p) for p in workers)
    time.sleep(2)
    stalled = sum(rss_kb(p) for p in workers)
    raw = resp.read()
    conn.close()
    assert openai_text(raw)[0] == reply(text)
    # unbounded, this stream costs the worker well over 100 MB
    assert stalled - before < 20 * 1024, (before, stalled)


# isolation

def test_no_token_of_another_request_or_tenant(env, anthropic_tokens):
    """Concurrent requests of two tokenizing tenants, each with its own
    addresses: every reply holds its own values and no one else's."""
    def one(i):
        tenant = "initech_adequate" if i % 2 else anthropic_tokens
        mine = f"person{i}@example.de"
        text = f"Bitte an {mine} und [EMAIL_2]"
        body = chat(text, stream=bool(i % 3))
        st, _, raw = env.gw.request(
            "POST", OPENAI, json.dumps(body),
            {"Authorization": f"Bearer {env.keys[tenant]}",
             "x-mock-delta": "3"})
        assert st == 200, raw
        got = openai_text(raw)[0] if body["stream"] else \
            json.loads(raw)["choices"][0]["message"]["content"]
        return i, text, got

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(40)))

    for i, text, got in results:
        # "[EMAIL_2]" was never issued to any of these requests
        assert got.endswith(f"You said: {text}"), (i, got)
        others = [f"person{j}@example.de" for j in range(40) if j != i]
        assert not any(o in got for o in others), (i, got)


def test_invented_token_passes_through(env):
    """A reply with tokens no request of this one issued: unchanged."""
    text = "Kein PII hier: [EMAIL_1], [IBAN_1], [PERSON_1]"
    ex = env.exchange("POST", OPENAI, chat(text), tenant="initech_adequate")
    assert ex.status == 200
    assert ex.json["choices"][0]["message"]["content"] == reply(text)
    assert outcome_tokens(ex) is None


def test_other_profiles_are_not_restored(env):
    """Masks are not tokens: a masking tenant's reply keeps them."""
    ex = env.exchange("POST", OPENAI, chat(f"an {EMAIL}", stream=True),
                      tenant="acme_eu")
    assert ex.status == 200
    assert openai_text(ex.raw)[0] == reply("an [EMAIL]", "eu")
    assert outcome_tokens(ex) is None
