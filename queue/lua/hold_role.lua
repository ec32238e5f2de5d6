-- hold_role: the process ARGV[1] takes the role in KEYS[1] when nobody holds it, or keeps
-- it when it already does; either way for ARGV[2] ms from now. Not a queue script.
-- KEYS[1] the role's holder STRING. Returns 1 when ARGV[1] holds the role, else 0.
local ttl = tonumber(ARGV[2])
if ARGV[1] == nil or ARGV[1] == '' then
  return redis.error_reply('HOIST_BAD_ARG holder must not be empty')
end
if not ttl or ttl < 1 or ttl > 86400000 or ttl % 1 ~= 0 then
  return redis.error_reply('HOIST_BAD_ARG ttl ' .. tostring(ARGV[2]))
end
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return 1
