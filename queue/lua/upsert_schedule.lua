-- upsert_schedule: create a schedule or replace its definition. A new schedule considers
-- ticks after now (Redis's time), not every tick since 1970; an existing one keeps its last
-- tick, runs and any claim, so declaring it again on every start never re-fires a tick.
-- KEYS[1] state HASH. ARGV[1] the spec (JSON, checked by the caller).
-- Returns 1 when the schedule was created, 0 when it was updated.
if ARGV[1] == nil or string.sub(ARGV[1], 1, 1) ~= '{' then
  error({ err = 'HOIST_BAD_ARG spec ' .. string.sub(tostring(ARGV[1]), 1, 40) })
end
local clock = redis.call('TIME')
local now = string.format('%d', tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000))
redis.call('HSET', KEYS[1], 'spec', ARGV[1])
redis.call('HSETNX', KEYS[1], 'runs', 0)
return redis.call('HSETNX', KEYS[1], 'last_tick', now)
