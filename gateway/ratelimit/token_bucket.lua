-- Check-and-charge several token buckets atomically.
-- KEYS[i]: bucket i. ARGV: capacity, rate (units per ms), cost for each bucket, then force (1/0).
-- Returns {allowed, wait_ms, {level_1, ..., level_n}} (levels as strings: Lua numbers would be truncated).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local force = tonumber(ARGV[3 * n + 1])
local levels = {}
local allowed = 1
local wait = 0
for i = 1, n do
  local cap = tonumber(ARGV[3 * i - 2])
  local rate = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local v = redis.call('HMGET', KEYS[i], 'l', 't')
  local level = tonumber(v[1])
  local ts = tonumber(v[2])
  if level == nil or ts == nil then
    level = cap
    ts = now
  end
  level = math.min(cap, level + math.max(0, now - ts) * rate)
  levels[i] = level
  if level < cost then
    allowed = 0
    local w = math.ceil((cost - level) / rate)
    if w > wait then wait = w end
  end
end
local out = {}
for i = 1, n do
  local cap = tonumber(ARGV[3 * i - 2])
  local rate = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local level = levels[i]
  if allowed == 1 or force == 1 then
    level = level - cost
  end
  redis.call('HSET', KEYS[i], 'l', tostring(level), 't', now)
  redis.call('PEXPIRE', KEYS[i], math.ceil((cap - math.min(level, 0)) / rate) + 1000)
  out[i] = tostring(level)
end
return {allowed, wait, out}
