-- wrk: POST /api/v1/trials, bookings from many customers.
-- BENCH_AGENT_ID: the agent to try; BENCH_TAG: makes customers' e-mails unique across wrk
-- invocations.
-- Bookings are throttled per client (10 a minute each); the benchmark's server trusts one proxy
-- hop (PLANT_FORWARDED_HOPS=1), as bookings arriving through one load balancer would. Each wrk
-- thread books in turn for its own 40,000 client addresses (10.<thread>.x.y), so a client books
-- again only after its thread has booked for all the others: every 8 s at 5,000 bookings a second
-- per thread, within its quota. The pool is bounded, so the limiter's table (100,000 clients,
-- plant-server/src/edge/ratelimit.rs) never fills across runs: a new client name per booking
-- filled it after about two runs, and the third run's new clients then shared its overflow
-- quota (2,862 answers of 429 in the run at `4399ff6`).
local agent = os.getenv("BENCH_AGENT_ID") or ""
local tag = os.getenv("BENCH_TAG") or "run"
local pool = 40000
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
  local client = counter % pool
  local body = string.format(
    '{"agent_id":"%s","customer_name":"Bench Customer","customer_email":"c-%s-%d-%d@bench.example","company":"Bench Ltd"}',
    agent, tag, tid, counter)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = string.format("10.%d.%d.%d", tid % 256, math.floor(client / 256), client % 256),
  }, body)
end
