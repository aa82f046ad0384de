-- wrk script for tests/bench/log/run: POSTs a small OpenAI chat completion
-- with a tenant key, and prints wrk's own figures as one JSON line at the
-- end, so the runner needs no parsing of wrk's text report.
--
--   ZOLL_BENCH_KEY=zk_... wrk -s chat.lua https://127.0.0.1:PORT/openai/v1/chat/completions

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("ZOLL_BENCH_KEY") or "")
wrk.body = '{"model":"gpt-4o-mini","messages":[' ..
           '{"role":"system","content":"You are a helpful assistant."},' ..
           '{"role":"user","content":"Hallo, wie geht es dir heute?"}]}'

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
      '"mean_us":%.1f,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(99),
      latency.max))
end
