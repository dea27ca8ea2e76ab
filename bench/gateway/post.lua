-- wrk script: POST a small chat request with an Authorization header, and print
-- the summary as one JSON line (microseconds) so the harness need not parse text.
-- BENCH_TOKEN: the bearer token (a JWT for the gateway, the master key for LiteLLM).
local token = os.getenv("BENCH_TOKEN") or "none"
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or
  '{"model":"bench","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

-- A body containing "{n}" gets a fresh number per request, so no cache can answer for it.
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
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"status_errors":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
