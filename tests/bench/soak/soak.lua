-- wrk script for tests/bench/soak/run: a mix of valid and hostile requests,
-- one after the other on every connection, and the count of each status
-- as one JSON line at the end.
--
--   ZOLL_ACME=zk_... ZOLL_GLOBEX=zk_... wrk -s soak.lua https://127.0.0.1:PORT

local acme = os.getenv("ZOLL_ACME") or ""
local globex = os.getenv("ZOLL_GLOBEX") or ""
local chat = '{"model":"gpt-4o-mini","messages":[{"role":"user",' ..
             '"content":"Schreib an anna.schmidt@example.de, bitte"}]}'
local claude = '{"model":"claude-haiku-4-5","max_tokens":64,' ..
               '"messages":[{"role":"user","content":"Hallo Claude"}]}'
local json = "application/json"

local function req(method, path, key, body, extra)
   local h = { ["Content-Type"] = json }
   if key then h["Authorization"] = "Bearer " .. key end
   for k, v in pairs(extra or {}) do h[k] = v end
   return wrk.format(method, path, h, body)
end

local function build()
   return {
      -- forwarded (200)
      req("POST", "/openai/v1/chat/completions", acme, chat),
      req("POST", "/anthropic/v1/messages", globex, claude),
      req("GET", "/openai/v1/models", acme, nil),
      -- refused
      req("POST", "/openai/v1/chat/completions", acme, chat:sub(1, -4)),
      req("POST", "/openai/v1/chat/completions", "zk_unknown", chat),
      req("POST", "/openai/v1/chat/completions", acme, chat,
          { ["Content-Encoding"] = "gzip" }),
      req("POST", "/anthropic/v1/messages", acme, claude),
      req("POST", "/openai/v1/chat/completions", globex,
          '{"model":"m","messages":[{"role":"user","content":' ..
          '"-----BEGIN RSA PRIVATE KEY----- MIIEowIBAAKCAQEA"}]}'),
      req("POST", "/openai/v1/chat/completions", acme,
          '{"m":' .. string.rep("[", 100) .. string.rep("]", 100) .. '}'),
      req("POST", "/openai/v1/chat/completions", acme,
          '{"model":"m","messages":[{"role":"user","content":"\xc0\xaf"}]}'),
      req("POST", "/openai/v1/chat/completions", acme,
          '{"model":"m","model":"n"}'),
      req("PUT", "/openai/v1/chat/completions", acme, chat),
      req("POST", "/openai/v1/chat/completions", acme, chat,
          { ["api-key"] = "sk-smuggled" }),
      req("POST", "/openai/v1/chat/completions", acme, chat,
          { ["Content-Type"] = "multipart/form-data; boundary=x" }),
   }
end


local threads = {}
local n = 0

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   -- wrk knows the Host header only once a thread starts
   requests = build()
   counts = {}
   n = id
end

function request()
   n = n + 1
   return requests[(n % #requests) + 1]
end

function response(status, headers, body)
   counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests_)
   local all = {}
   for _, t in ipairs(threads) do
      for status, c in pairs(t:get("counts")) do
         all[status] = (all[status] or 0) + c
      end
   end
   local parts = {}
   for status, c in pairs(all) do
      table.insert(parts, string.format('"%d":%d', status, c))
   end
   local e = summary.errors
   io.write(string.format(
      '{"requests":%d,"errors":{"connect":%d,"read":%d,"write":%d,' ..
      '"timeout":%d},"status":{%s},"p99_us":%d}\n',
      summary.requests, e.connect, e.read, e.write, e.timeout,
      table.concat(parts, ","), latency:percentile(99)))
end
