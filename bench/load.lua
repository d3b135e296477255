-- Cycles through pre-signed Slack deliveries (one per line: path \t timestamp \t signature \t body).
-- Each wrk thread takes every n-th line so no two threads send the same event.
-- BENCH_PACE_MS > 0 waits that long before each request of a connection (rate limiting).
local counter = 0
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  reqs = {}
  local n = 0
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    if n % nthreads == tid then
      local path, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/json",
        ["X-Slack-Request-Timestamp"] = ts,
        ["X-Slack-Signature"] = sig,
      }, body)
    end
    n = n + 1
  end
  i = 0
  pace = tonumber(os.getenv("BENCH_PACE_MS") or "0")
end

function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end

if tonumber(os.getenv("BENCH_PACE_MS") or "0") > 0 then
  function delay()
    return pace
  end
end
