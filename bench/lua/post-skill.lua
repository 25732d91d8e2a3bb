-- wrk: POST /api/v1/genesis/skills, a new skill name on every request.
-- BENCH_TOKEN: a genesis bearer token; BENCH_TAG: makes names unique across wrk invocations.
local token = os.getenv("BENCH_TOKEN") or ""
local tag = os.getenv("BENCH_TAG") or "run"
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(_)
  counter = 0
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"name":"bench %s %d %d","description":"A skill created by the benchmark.","category":"technical"}',
    tag, tid, counter)
  return wrk.format("POST", nil, headers, body)
end
