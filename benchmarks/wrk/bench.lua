-- wrk script for every benchmark run (wrk 4.1, LuaJIT). Configured through the environment:
--   WRK_PATHS        comma-separated request paths, one picked at random per request
--                    (repeat a path to weight it: "/api/items,/api/items,/api/items/1")
--   WRK_METHOD       GET (default) or POST
--   WRK_BODY         request body (POST), sent as application/json
--   WRK_THINK_MS     mean think time per connection in ms (0 = closed model, no pause).
--                    With think time >> latency the connections together form an
--                    (approximately Poisson) fixed arrival rate of connections / think time;
--                    the achieved rate is reported and checked.
--   WRK_PAUSE_MAX_MS longest single pause (default 7500). Pauses are uniform: over
--                    [0, 2 x think] while that fits under the cap, else over
--                    [2 x think - cap, cap]; the mean is the think time either way.
--                    The cap exists for NEW connections: nginx closes a connection that sends
--                    nothing within client_header_timeout (10 s in the edge), counted from the
--                    accept, so it includes the TLS handshake.
--   WRK_THREAD_CONNECTIONS connections per wrk thread (-c / -t). A connection's FIRST pause is
--                    uniform over [0, think]: a wrk thread opens all its connections within
--                    moments, and with pauses of the same length (think near the cap leaves them
--                    no room to vary) they would send together, think time after think time, in
--                    bursts of hundreds instead of a steady rate.
-- At the end one line "WRKJSON {...}" with requests, errors and latency percentiles (microseconds).

local paths = {}
for p in string.gmatch(os.getenv("WRK_PATHS") or "/", "[^,]+") do
  paths[#paths + 1] = p
end
local method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
local think = tonumber(os.getenv("WRK_THINK_MS") or "0")
local pause_max = tonumber(os.getenv("WRK_PAUSE_MAX_MS") or "7500")
if think > pause_max then
  error(string.format("think time %d ms > pause cap %d ms: use more connections", think, pause_max))
end
local pause_min = math.max(0, 2 * think - pause_max)
local pause_span = 2 * think - 2 * pause_min
-- delay() runs before every request, the first one included, so a thread's first calls are (nearly
-- all) first requests.
local first_pauses = tonumber(os.getenv("WRK_THREAD_CONNECTIONS") or "0")
local delays = 0

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
    delays = delays + 1
    if delays <= first_pauses then
      return math.floor(math.random() * think)
    end
    return math.floor(pause_min + math.random() * pause_span)
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
