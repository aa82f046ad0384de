#!/usr/bin/python3
"""Mock LLM provider (OpenAI, Anthropic and Gemini API shapes) served over TLS, for Zoll tests.

Every request that reaches the mock is appended as one JSON line to --log, so
tests can prove exactly what the gateway did, or did not, forward to the
provider. Replies echo the last user message ("[mock-eu] You said: ...") so a
client sees what the provider saw. Python 3.11 standard library only.

Streams can be made awkward with request headers (the gateway forwards
them): x-mock-delta (characters per text delta), x-mock-chop (write every
event in pieces of this many bytes, each flushed on its own), x-mock-delay-ms
(pause before each write), x-mock-escape (write "_" as "\\u005f" in event
JSON); x-mock-gzip gzips a JSON answer whatever the request accepts.  A
request with "tools" is answered with a tool call whose arguments quote the
user's text.

Usage: upstream.py --name eu --port 9441 --cert upstream.pem --key upstream.key
                   --log upstream-eu.log [--host 127.0.0.1]
"""
import argparse
import datetime
import gzip
import hashlib
import http.server
import json
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

HANDSHAKE_TIMEOUT = 10  # seconds; a client that never finishes TLS only holds its own thread
IDLE_TIMEOUT = 120      # keep-alive idle limit, above nginx's default upstream keepalive_timeout (60s)
DELTA_SIZE = 8          # characters per streamed text delta

# (method, path) -> MockHandler method (api_ prefix: the stdlib already has e.g. .responses)
ROUTES = {
    ("POST", "/v1/chat/completions"): "api_chat_completions",
    ("POST", "/v1/messages"): "api_anthropic_messages",
    ("POST", "/v1/responses"): "api_responses",
    ("GET", "/v1/models"): "api_models",
}
# POST /v1beta/models/<model>:<method>
GEMINI_ROUTES = {
    "generateContent": "api_gemini",
    "streamGenerateContent": "api_gemini_stream",
}


# ---------------------------------------------------------------- helpers

def text_of(content):
    """Text of a message content: a plain string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content
                         if isinstance(p, dict) and p.get("type") in ("text", "input_text"))
    return ""


def last_user_text(items):
    """Text of the last item with role "user" in a messages/input list."""
    for item in reversed(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get("role") == "user":
            return text_of(item.get("content"))
    return ""


def count_tokens(text):
    return max(1, len(text) // 4)  # rough, but stable and plausible


def pieces(text, size=DELTA_SIZE):
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def to_json(obj):
    return json.dumps(obj, ensure_ascii=False)  # raw UTF-8, like real providers send


def new_id(prefix):
    return prefix + uuid.uuid4().hex[:24]


def error_body(message, kind="invalid_request_error"):
    return {"error": {"message": message, "type": kind}}


def header_dict(headers):
    """Lower-cased header names; repeated headers joined with ", "."""
    out = {}
    for name, value in (headers.items() if headers is not None else []):
        name = name.lower()
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


class RequestLog:
    """Append-only JSON-lines file shared by all handler threads."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        # Create it now: a bad --log path should fail at startup, not on every request.
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        open(path, "a", encoding="utf-8").close()

    def write(self, entry):
        line = to_json(entry) + "\n"
        # Re-open per line: each write is flushed, and tests may truncate the file.
        with self.lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line)


# ---------------------------------------------------------------- handler

class MockHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response has Content-Length or is chunked
    server_version = "zoll-mock"
    timeout = IDLE_TIMEOUT

    def setup(self):
        # TLS handshake happens here, in the connection's own thread, never in the accept loop.
        self.request.settimeout(HANDSHAKE_TIMEOUT)
        self.request.do_handshake()
        super().setup()

    def __getattr__(self, name):
        # Answer every method (do_GET, do_PUT, do_FOO ...) so every request gets recorded.
        if name.startswith("do_"):
            return self.serve
        raise AttributeError(name)

    def log_message(self, format, *args):
        pass  # tests read the JSON log; stderr stays for real errors

    def end_headers(self):
        self.send_header("x-mock-upstream", self.server.mock_name)
        super().end_headers()

    def handle_one_request(self):
        # Forget the previous keep-alive request, so a rejected one isn't logged with stale fields.
        self.command = self.path = self.headers = None
        super().handle_one_request()

    def send_error(self, code, message=None, explain=None):
        # Only the stdlib calls this, for requests it could not parse: record them too.
        self.record(b"", error=f"{code} {message or ''}".strip())
        super().send_error(code, message, explain)

    # -- request side

    def record(self, body, **extra):
        self.server.request_log.write({
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "mock": self.server.mock_name,
            "method": self.command or None,
            "path": self.path,
            "headers": header_dict(self.headers),
            "body": body.decode("utf-8", errors="replace"),
            # the exact bytes, which "body" shows lossily if they are not UTF-8
            "body_bytes": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            **extra,
        })

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise ValueError("invalid Content-Length")
        return self.rfile.read(int(length))

    def read_chunked(self):
        parts = []
        while True:
            try:
                size = int(self.rfile.readline(1024).split(b";")[0], 16)  # drop chunk extensions
            except ValueError:
                raise ValueError("malformed chunked body") from None
            if size == 0:
                break
            parts.append(self.rfile.read(size))
            if self.rfile.readline(1024).strip():
                raise ValueError("malformed chunked body")
        while self.rfile.readline(1024).strip():
            pass  # trailer fields, up to the blank line
        return b"".join(parts)

    def serve(self):
        try:
            body = self.read_body()
        except ValueError as exc:
            self.record(b"", error=str(exc))
            self.close_connection = True  # framing is lost; don't reuse the connection
            return self.send_json(400, error_body(str(exc)))
        self.record(body)

        path = urlsplit(self.path).path
        route = ROUTES.get((self.command, path))
        if self.command == "POST" and path.startswith("/v1beta/models/"):
            route = GEMINI_ROUTES.get(path.rpartition(":")[2])
        if route is None:
            return self.send_json(404, error_body(f"no route for {self.command} {path}", "not_found_error"))
        req = {}
        if self.command == "POST":
            try:
                req = json.loads(body)
            except ValueError:
                req = None
            if not isinstance(req, dict):
                return self.send_json(400, error_body("invalid JSON"))
        getattr(self, route)(req)

    # -- response side

    def send_json(self, status, obj):
        data = to_json(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if self.headers and self.headers.get("x-mock-gzip") == "1":
            data = gzip.compress(data)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def start_stream(self):
        # HTTP/1.0 has no chunked encoding: there the body ends when the connection closes.
        self.chunked = self.request_version != "HTTP/1.0"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if self.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def knobs(self):
        h = self.headers
        return (int(h.get("x-mock-delta") or DELTA_SIZE), int(h.get("x-mock-chop") or 0),
                float(h.get("x-mock-delay-ms") or 0) / 1000, h.get("x-mock-escape") == "1")

    def send_event(self, data, event=None, nl="\n"):
        _, chop, delay, escape = self.knobs()
        if escape:
            data = data.replace("_", "\\u005f")  # "_" only occurs in strings
        text = (f"event: {event}{nl}" if event else "") + f"data: {data}{nl}{nl}"
        raw = text.encode()
        for i in range(0, len(raw), chop or len(raw)):
            piece = raw[i:i + (chop or len(raw))]
            if delay:
                time.sleep(delay)
            if self.chunked:
                piece = b"%x\r\n%s\r\n" % (len(piece), piece)
            self.wfile.write(piece)  # unbuffered: each piece leaves immediately

    def end_stream(self):
        if self.chunked:
            self.wfile.write(b"0\r\n\r\n")

    def reply_for(self, user_text):
        return f"[mock-{self.server.mock_name}] You said: {user_text}"

    # -- endpoints

    def api_models(self, _req):
        self.send_json(200, {"object": "list", "data": [
            {"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "mock"}]})

    def api_chat_completions(self, req):
        user_text = last_user_text(req.get("messages"))
        reply = self.reply_for(user_text)
        usage = {"prompt_tokens": count_tokens(user_text), "completion_tokens": count_tokens(reply)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        base = {"id": new_id("chatcmpl-mock"), "created": int(time.time()),
                "model": req.get("model", "mock-model")}

        tool = req.get("tools") and {"id": new_id("call_"), "type": "function", "function": {
            "name": "send_mail", "arguments": to_json({"text": user_text})}}

        if req.get("stream") is not True:
            message = {"role": "assistant", "content": reply, "refusal": None}
            if tool:
                message = {"role": "assistant", "content": None, "refusal": None,
                           "tool_calls": [tool]}
            return self.send_json(200, {**base, "object": "chat.completion", "choices": [{
                "index": 0, "message": message, "logprobs": None,
                "finish_reason": "tool_calls" if tool else "stop"}], "usage": usage})

        def chunk(delta, finish_reason=None):
            return to_json({**base, "object": "chat.completion.chunk", "choices": [{
                "index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]})

        size = self.knobs()[0]
        self.start_stream()
        self.send_event(chunk({"role": "assistant", "content": ""}))
        if tool:
            args = tool["function"]["arguments"]
            self.send_event(chunk({"tool_calls": [{"index": 0, "id": tool["id"], "type": "function",
                                                   "function": {"name": "send_mail", "arguments": ""}}]}))
            for piece in pieces(args, size):
                self.send_event(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            for piece in pieces(reply, size):
                self.send_event(chunk({"content": piece}))
        self.send_event(chunk({}, "tool_calls" if tool else "stop"))
        if (req.get("stream_options") or {}).get("include_usage") is True:
            self.send_event(to_json({**base, "object": "chat.completion.chunk",
                                     "choices": [], "usage": usage}))
        self.send_event("[DONE]")
        self.end_stream()

    def api_anthropic_messages(self, req):
        user_text = last_user_text(req.get("messages"))
        reply = self.reply_for(user_text)
        input_tokens, output_tokens = count_tokens(user_text), count_tokens(reply)
        message = {"id": new_id("msg_mock"), "type": "message", "role": "assistant",
                   "model": req.get("model", "mock-model")}

        tool = req.get("tools") and {"type": "tool_use", "id": new_id("toolu_"),
                                     "name": "send_mail", "input": {"text": user_text}}
        stop_reason = "tool_use" if tool else "end_turn"

        if req.get("stream") is not True:
            content = [{"type": "text", "text": reply}] + ([tool] if tool else [])
            return self.send_json(200, {**message, "content": content,
                                        "stop_reason": stop_reason, "stop_sequence": None,
                                        "usage": {"input_tokens": input_tokens,
                                                  "output_tokens": output_tokens}})

        def event(kind, **fields):
            self.send_event(to_json({"type": kind, **fields}), event=kind)

        self.start_stream()
        event("message_start", message={**message, "content": [], "stop_reason": None,
                                        "stop_sequence": None,
                                        "usage": {"input_tokens": input_tokens, "output_tokens": 1}})
        size = self.knobs()[0]
        event("content_block_start", index=0, content_block={"type": "text", "text": ""})
        event("ping")
        for piece in pieces(reply, size):
            event("content_block_delta", index=0, delta={"type": "text_delta", "text": piece})
        event("content_block_stop", index=0)
        if tool:
            event("content_block_start", index=1, content_block={**tool, "input": {}})
            for piece in pieces(to_json(tool["input"]), size):
                event("content_block_delta", index=1,
                      delta={"type": "input_json_delta", "partial_json": piece})
            event("content_block_stop", index=1)
        event("message_delta", delta={"stop_reason": stop_reason, "stop_sequence": None},
              usage={"output_tokens": output_tokens})
        event("message_stop")
        self.end_stream()

    def gemini_reply(self, req):
        contents = req.get("contents") if isinstance(req.get("contents"), list) else []
        user = [c for c in contents if isinstance(c, dict) and c.get("role", "user") == "user"]
        parts = user[-1].get("parts", []) if user else []
        user_text = "\n".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
        call = req.get("tools") and {"functionCall": {"name": "send_mail", "args": {"text": user_text}}}
        return user_text, self.reply_for(user_text), call

    def api_gemini(self, req):
        user_text, reply, call = self.gemini_reply(req)
        parts = [{"text": reply}] + ([call] if call else [])
        self.send_json(200, {
            "candidates": [{"content": {"role": "model", "parts": parts},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": count_tokens(user_text),
                              "candidatesTokenCount": count_tokens(reply)},
            "modelVersion": "mock-gemini"})

    def api_gemini_stream(self, req):
        # alt=sse: server-sent events, framed with CRLF as Google does
        _, reply, call = self.gemini_reply(req)
        if "alt=sse" not in (urlsplit(self.path).query or ""):
            return self.send_json(400, error_body("mock: only alt=sse streams"))
        self.start_stream()
        for piece in pieces(reply, self.knobs()[0]):
            self.send_event(to_json({"candidates": [{"content": {
                "role": "model", "parts": [{"text": piece}]}, "index": 0}]}), nl="\r\n")
        last = {"content": {"role": "model", "parts": [call] if call else [{"text": ""}]},
                "finishReason": "STOP", "index": 0}
        self.send_event(to_json({"candidates": [last], "modelVersion": "mock-gemini"}), nl="\r\n")
        self.end_stream()

    def api_responses(self, req):
        if req.get("stream") is True:
            return self.send_json(400, error_body("mock: streaming is not supported on /v1/responses"))
        inp = req.get("input")
        user_text = inp if isinstance(inp, str) else last_user_text(inp)
        reply = self.reply_for(user_text)
        usage = {"input_tokens": count_tokens(user_text), "output_tokens": count_tokens(reply)}
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        self.send_json(200, {
            "id": new_id("resp_mock"), "object": "response", "created_at": int(time.time()),
            "status": "completed", "model": req.get("model", "mock-model"),
            "output": [{"type": "message", "id": new_id("msg_mock"), "status": "completed",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": reply, "annotations": []}]}],
            "usage": usage})


# ---------------------------------------------------------------- server

class MockServer(http.server.ThreadingHTTPServer):
    daemon_threads = True        # don't wait for open keep-alive connections on exit
    allow_reuse_address = True   # restart on the same port right after a test run

    def __init__(self, address, ssl_context, name, request_log):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.ssl_context, self.mock_name, self.request_log = ssl_context, name, request_log
        super().__init__(address, MockHandler)

    def server_bind(self):
        # Skip HTTPServer's reverse-DNS lookup (getfqdn), which can hang in sandboxes.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, addr = super().get_request()
        # Wrap only; the handshake runs later in the handler thread (MockHandler.setup).
        return self.ssl_context.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLEOFError, ssl.SSLZeroReturnError)):
            return  # client went away: normal for probes and cancelled streams
        if isinstance(exc, ssl.SSLError):
            print(f"mock {self.mock_name}: TLS error with {client_address[0]}: {exc}",
                  file=sys.stderr, flush=True)
            return
        super().handle_error(request, client_address)


def stop(_signum, _frame):
    raise SystemExit(0)  # unwinds serve_forever in the main thread


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True, choices=["eu", "us"])
    ap.add_argument("--port", required=True, type=int)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    server = MockServer((args.host, args.port), ctx, args.name, RequestLog(args.log))

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"mock {args.name} listening on https://{host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
