-- wrk script for bench/litellm_bench.py: POST BENCH_BODY with the headers in BENCH_HEADERS
-- ("Name: value" lines); "{n}" in the body becomes a fresh number per request, so no result
-- cache answers for it. Prints the summary as one JSON line (microseconds).
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or "{}"
wrk.headers["Content-Type"] = "application/json"
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local k, v = string.match(line, "^([^:]+):%s*(.*)$")
  if k then wrk.headers[k] = v end
end

local template = wrk.body
if string.find(template, "{n}", 1, true) then
  local counter = 0
  request = function()
    counter = counter + 1
    local body = string.gsub(template, "{n}", tostring(counter))
    return wrk.format(nil, nil, nil, body)
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
