-- wrk script for every benchmark run (wrk 4.1, LuaJIT). Configured through the environment:
--   WRK_PATHS        comma-separated request paths, one picked at random per request
--                    (repeat a path to weight it: "/api/items,/api/items,/api/items/1")
--   WRK_METHOD       GET (default) or POST
--   WRK_BODY         request body (POST), sent as application/json
--   WRK_THINK_MS     mean think time per connection in ms (0 = closed model, no pause).
--                    Pauses are exponentially distributed, so with think time >> latency the
--                    connections together form an (approximately Poisson) fixed arrival rate
--                    of connections / think time; the achieved rate is reported and checked.
--   WRK_THINK_MAX_MS cap of a single pause (keeps idle connections under nginx keepalive_timeout)
--   WRK_CONNS        connections per thread: their first request goes out within the first
--                    min(think, 8 s) after connecting, as a browser's would (nginx closes a new
--                    connection that sends nothing for client_header_timeout, 10 s in the edge)
-- At the end one line "WRKJSON {...}" with requests, errors and latency percentiles (microseconds).

local paths = {}
for p in string.gmatch(os.getenv("WRK_PATHS") or "/", "[^,]+") do
  paths[#paths + 1] = p
end
local method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
local think = tonumber(os.getenv("WRK_THINK_MS") or "0")
local think_max = tonumber(os.getenv("WRK_THINK_MAX_MS") or "0")
if think_max <= 0 then think_max = think * 4 end
local first_calls = tonumber(os.getenv("WRK_CONNS") or "0")
local first_max = math.min(think, 8000)
local calls = 0

local headers = {
  ["Host"] = "localhost",
  ["Accept-Encoding"] = "gzip",
  ["User-Agent"] = "deployer-bench/wrk",
}
if body then headers["Content-Type"] = "application/json" end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + (id or 0))
  -- a few throw-away draws: LuaJIT's first values after seeding are close together
  for _ = 1, 5 do math.random() end
  status_counts = {}
end

function request()
  local path = paths[math.random(#paths)]
  return wrk.format(method, path, headers, body)
end

function response(status, hdrs, content)
  local k = tostring(status)
  status_counts[k] = (status_counts[k] or 0) + 1
end

if think > 0 then
  function delay()
    calls = calls + 1
    if calls <= first_calls then
      return math.floor(math.random() * first_max)
    end
    -- exponential pause, capped
    local d = -think * math.log(1 - math.random())
    if d > think_max then d = think_max end
    return math.floor(d)
  end
end

function done(summary, latency, requests)
  local statuses = {}
  for _, t in ipairs(threads) do
    local sc = t:get("status_counts")
    if sc then
      for k, v in pairs(sc) do statuses[k] = (statuses[k] or 0) + v end
    end
  end
  local parts = {}
  for k, v in pairs(statuses) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"status_counts":{%s},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(parts, ","),
    latency.min, latency.mean, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
