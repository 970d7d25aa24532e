-- wrk as the load generator for bench/: POST the bodies of $WRK_BODIES (one JSON body per line)
-- in turn, count an answer that is not 200 or carries "errors" as an error, and print one JSON
-- line at the end: requests answered, errors, the run's duration, and latency quantiles 0.1 % .. 99.9 % in microseconds.
local bodies = {}
for line in io.lines(os.getenv("WRK_BODIES")) do
  bodies[#bodies + 1] = line
end
local headers = { ["Content-Type"] = "application/json" }
local next_body = 0
errors = 0 -- global: done() reads it from each thread with thread:get
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", nil, headers, bodies[next_body])
end

function response(status, _, body)
  if status == 200 and body:find('"errors"', 1, true) then
    errors = errors + 1
  end
end

function done(summary, latency, _)
  local e = summary.errors
  local failed = e.connect + e.read + e.write + e.status + e.timeout
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("errors")
  end
  local quantiles = {}
  for i = 1, 999 do
    quantiles[i] = string.format("%d", latency:percentile(i / 10))
  end
  io.write(string.format('{"requests": %d, "errors": %d, "duration_us": %d, "quantiles_us": [%s]}\n',
    summary.requests, failed, summary.duration, table.concat(quantiles, ",")))
end
