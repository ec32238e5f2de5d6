-- clean: delete jobs of one state that entered it before a cutoff (drain is clean of
-- "waiting" with no cutoff). Active jobs are never cleaned.
-- ARGV[4] state, ARGV[5] cutoff: scores at or below it (ms, or "+inf"), ARGV[6] limit.
-- Returns the number of jobs removed; call again while it returns the limit.
local state = ARGV[4]
local set = STATE_SETS[state]
if not set or state == 'active' then
  return redis.error_reply('HOIST_BAD_STATE cannot clean ' .. state)
end
local ids
if state == 'waiting' then
  ids = redis.call('ZRANGE', set, 0, tonumber(ARGV[6]) - 1)
else
  ids = redis.call('ZRANGEBYSCORE', set, '-inf', ARGV[5], 'LIMIT', 0, tonumber(ARGV[6]))
end
for _, id in ipairs(ids) do
  redis.call('ZREM', set, id)
  delete_job(id)
end
if #ids > 0 then emit('cleaned', '', 'state', state, 'count', #ids) end
return #ids
