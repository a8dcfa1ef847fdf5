-- Shared by the scenario scripts: counting answers the contract (docs/api.md) allows, and the summary.
-- wrk runs one Lua state per thread; setup() runs in the main state and keeps each thread so done()
-- can add up the counters every thread kept in its own globals.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- A script that builds its own requests defines prepare(): it runs once the URL is known (wrk.format
-- takes the Host header from wrk.headers, which wrk fills in just before init).
function init(args)
  passed = 0
  failed = 0
  if prepare ~= nil then
    prepare()
  end
end

-- Every scenario script defines judge(status, body) -> true when the contract allows the answer.
function response(status, headers, body)
  if judge(status, body) then
    passed = passed + 1
  else
    failed = failed + 1
  end
end

-- True when the body begins with the given JSON key (the contract's field order is fixed).
function starts_with_key(body, key)
  return body ~= nil and body:match('^%s*{%s*"' .. key .. '"') ~= nil
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + (thread:get("passed") or 0)
    bad = bad + (thread:get("failed") or 0)
  end
  local e = summary.errors
  -- One JSON line, marked so the harness finds it among wrk's own report.
  io.write(string.format(
    'WRK-SUMMARY {"duration_us":%d,"requests":%d,"bytes":%d,"passed":%d,"failed":%d,' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"status_errors":%d,' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p99_9":%d,"max":%d,"mean":%.1f}}\n',
    summary.duration, summary.requests, summary.bytes, ok, bad,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
