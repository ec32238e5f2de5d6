-- control_schedule: pause, resume or rewind a schedule, only if it exists (a schedule
-- removed meanwhile is not brought back as a hash without a definition).
-- KEYS[1] state HASH. ARGV[1] 'pause' | 'resume' | 'last_tick'; ARGV[2] the new last_tick
-- (epoch ms) for 'last_tick'.
-- Returns 1, or 0 when there is no such schedule (nothing is written).
local function bad_arg(name, value)
  error({ err = 'HOIST_BAD_ARG ' .. name .. ' ' .. string.sub(tostring(value), 1, 40) })
end

local state, action, tick = KEYS[1], ARGV[1], ARGV[2]
if action ~= 'pause' and action ~= 'resume' and action ~= 'last_tick' then bad_arg('mode', action) end
if action == 'last_tick' and (tick == nil or #tick > 15 or not string.match(tick, '^%d+$')) then
  bad_arg('last_tick', tick)
end
if redis.call('HEXISTS', state, 'spec') == 0 then return 0 end
if action == 'pause' then
  -- When it was paused, by Redis's clock (shown, not used in any decision).
  local clock = redis.call('TIME')
  redis.call('HSET', state, 'paused', string.format('%d', tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)))
elseif action == 'resume' then
  redis.call('HDEL', state, 'paused')
else
  redis.call('HSET', state, 'last_tick', tick)
end
return 1
