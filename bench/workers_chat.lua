-- wrk script of bench/workers.py: POST one OpenAI chat request, print a parseable summary.
-- Environment: BENCH_BODY_FILE (the request body), BENCH_KEY (the bearer token).
-- (After shared/peer-bench/chat.lua.)
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
local body = f:read("*a"):gsub("%s+$", "")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")

-- One line for machines: "BENCH_RESULT {json}". Latencies in microseconds; errors_status
-- counts answers with status >= 400, errors_timeout requests unanswered within --timeout.
done = function(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_s":%.3f,"rps":%.2f,'
    .. '"p50_us":%d,"p99_us":%d,'
    .. '"errors_connect":%d,"errors_read":%d,"errors_write":%d,'
    .. '"errors_status":%d,"errors_timeout":%d}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
