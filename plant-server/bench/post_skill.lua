-- wrk script: POST /api/v1/genesis/skills with a name unique per thread and request.
-- TOKEN comes from the environment (a genesis bearer token).
local counter = 0
local threads = 0
local token = os.getenv("TOKEN")

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"name":"Bench skill %s-%d-%d","description":"load test","category":"technical"}',
    os.time(), tid, counter)
  return wrk.format("POST", "/api/v1/genesis/skills",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
end
