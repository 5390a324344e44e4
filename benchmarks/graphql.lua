-- wrk script: POST GraphQL bodies to /graphql, each request the next line of a file.
--
--   wrk -t2 -c8 -d10s -s benchmarks/graphql.lua http://127.0.0.1:8000 -- BODIES_FILE THREADS
--
-- BODIES_FILE holds one JSON body ({"query": ..., "variables": ...}) per line. Thread k of
-- THREADS sends lines k, k+THREADS, k+2*THREADS, ... so no two requests repeat before the
-- file wraps. Headers given with -H (cookies, X-CSRF-Token) go with every request.
-- A reply that is not HTTP 200 or carries GraphQL "errors" counts as failed; done()
-- prints one line, "WRK_JSON {...}", that benchmarks/wrk.py reads.

local threads = {}
local started = 0

function setup(thread)
  started = started + 1
  thread:set("thread_number", started)
  table.insert(threads, thread)
end

local bodies = {}
local position = 0
local step = 1
failed = 0
first_failure = ""

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  if #bodies == 0 then error("no request bodies in " .. args[1]) end
  step = tonumber(args[2] or "1")
  position = (thread_number or 1) - 1
  wrk.method = "POST"
  wrk.path = "/graphql"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = bodies[(position % #bodies) + 1]
  position = position + step
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    failed = failed + 1
    if first_failure == "" then first_failure = status .. " " .. string.sub(body, 1, 300) end
  end
end

local function quoted(text)
  return '"' .. text:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('%c', ' ') .. '"'
end

function done(summary, latency, requests)
  local failures, example = 0, ""
  for _, thread in ipairs(threads) do
    failures = failures + (thread:get("failed") or 0)
    local first = thread:get("first_failure") or ""
    if example == "" then example = first end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, ' ..
    '"socket_errors": %d, "failed": %d, "first_failure": %s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    e.connect + e.read + e.write + e.timeout, failures, quoted(example)))
end
