-- read_processes: every registered process with its last check-in and what it reported,
-- and Redis's time to judge the check-ins by.
-- KEYS[1] registry ZSET. ARGV[1] prefix of the info keys (same hash tag).
-- Returns {now, id, last check-in, info JSON, ...}, oldest check-in first; ids whose
-- info has expired are dropped from the registry.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local out = {now}
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #entries, 2 do
  local id = entries[i]
  local info = redis.call('GET', ARGV[1] .. id)
  if info then
    out[#out + 1] = id
    out[#out + 1] = tonumber(entries[i + 1])
    out[#out + 1] = info
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
