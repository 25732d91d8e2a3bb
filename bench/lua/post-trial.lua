-- wrk: POST /api/v1/trials, each booking from a different customer.
-- BENCH_AGENT_ID: the agent to try; BENCH_TAG: makes customers unique across wrk invocations.
-- Bookings are throttled per client; the benchmark's server trusts one proxy hop
-- (PLANT_FORWARDED_HOPS=1), and each request names its own client, as bookings from many
-- customers arriving through one load balancer would.
local agent = os.getenv("BENCH_AGENT_ID") or ""
local tag = os.getenv("BENCH_TAG") or "run"
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(_)
  counter = 0
end

function request()
  counter = counter + 1
  local who = string.format("%s-%d-%d", tag, tid, counter)
  local body = string.format(
    '{"agent_id":"%s","customer_name":"Bench Customer","customer_email":"c-%s@bench.example","company":"Bench Ltd"}',
    agent, who)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = "bench-" .. who,
  }, body)
end
