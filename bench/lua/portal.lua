-- POST /v1/portal-sessions: the same JSON body each time, API keys (one per line of BENCH_KEYS)
-- taken in turn. BENCH_MAX_REQUESTS (optional): answers per thread before it stops.
local path = os.getenv("BENCH_PATH") or "/v1/portal-sessions"
local body = os.getenv("BENCH_BODY")
local keys = {}
for line in io.lines(os.getenv("BENCH_KEYS")) do
  if #line > 0 then keys[#keys + 1] = line end
end
local max_requests = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "0")
local sent, answered = 0, 0
local threads = 0

setup = function(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

request = function()
  sent = sent + 1
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. keys[(sent % #keys) + 1]}
  return wrk.format("POST", path, headers, body)
end

if max_requests > 0 then
  -- wrk waits out -d whatever its threads do: each thread leaves a file when done and the bench
  -- then stops wrk with SIGINT (it still prints its report).
  response = function(status, headers, body)
    answered = answered + 1
    if answered == max_requests then
      assert(io.open(os.getenv("BENCH_DONE_DIR") .. "/" .. thread_number, "w")):close()
      wrk.thread:stop()
    end
  end
end
