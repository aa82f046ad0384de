-- wrk script for the gateway benchmarks (tests/bench/log, tests/bench/gateway):
-- POSTs OpenAI chat completions with a tenant key, and prints wrk's own
-- figures as one JSON line at the end, so the runners need no parsing of
-- wrk's text report.
--
--   ZOLL_BENCH_KEY=zk_... wrk -s chat.lua https://127.0.0.1:PORT/openai/v1/chat/completions
--
-- Without ZOLL_BENCH_BODIES every request sends the small body below; with
-- it (a directory of 0.json, 1.json, ...) each thread sends those bodies
-- in turn.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("ZOLL_BENCH_KEY") or "")
wrk.body = '{"model":"gpt-4o-mini","messages":[' ..
           '{"role":"system","content":"You are a helpful assistant."},' ..
           '{"role":"user","content":"Hallo, wie geht es dir heute?"}]}'

local dir = os.getenv("ZOLL_BENCH_BODIES")

if dir then
   local bodies, n, i = {}, 0, 0

   while true do
      local f = io.open(dir .. "/" .. n .. ".json", "rb")
      if not f then break end
      bodies[n + 1] = f:read("*a")
      f:close()
      n = n + 1
   end

   assert(n > 0, "no bodies in " .. dir)

   function request()
      i = i % n + 1
      return wrk.format(nil, nil, nil, bodies[i])
   end
end

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
