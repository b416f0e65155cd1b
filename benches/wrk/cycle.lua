-- wrk script of scripts/bench-http.sh: POSTs the bodies of $EUID_WRK_BODIES (a Lua file
-- returning an array of strings, written by euid-seal) to $EUID_WRK_PATH in turn, with
-- $EUID_WRK_AUTH as the Authorization header when set. Counts replies that are not 200.
local bodies = dofile(os.getenv("EUID_WRK_BODIES"))
local path = os.getenv("EUID_WRK_PATH")
local auth = os.getenv("EUID_WRK_AUTH")
local headers = { ["Content-Type"] = "text/plain" }
if auth and auth ~= "" then
  headers["Authorization"] = auth
end
local i = 0
not_ok = 0 -- global: done() reads it with thread:get

request = function()
  i = i % #bodies + 1
  return wrk.format("POST", path, headers, bodies[i])
end

response = function(status, _, _)
  if status ~= 200 then
    not_ok = not_ok + 1
  end
end

-- done() runs in wrk's main Lua state: it reads each thread's count through setup().
local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

-- Also one JSON line for scripts/bench-growth.sh (latencies in microseconds).
done = function(summary, latency, _)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("not_ok")
  end
  io.write(string.format("non-200: %d\n", total))
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'wrk-json: {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"non_200":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    total, errors))
end
