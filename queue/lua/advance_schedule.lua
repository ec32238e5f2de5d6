-- advance_schedule: claim a schedule's ticks up to ARGV[2], once across every scheduler.
-- Not a queue script: its keys are the schedule's own (one hash slot, {schedule:NAME}).
-- KEYS[1] state HASH (spec, last_tick, runs, paused, pending, pending_since, pending_by)
-- ARGV[1] last_tick the caller read ("" if none), ARGV[2] new last_tick,
-- ARGV[3] ticks to fire (JSON array, may be "[]"), ARGV[4] now, ARGV[5] scheduler id.
-- Returns 1 when this caller won and must enqueue the ticks, 0 when another scheduler
-- advanced first (or the schedule is paused or gone).
local state = KEYS[1]
if redis.call('EXISTS', state) == 0 or redis.call('HEXISTS', state, 'paused') == 1 then return 0 end
local last = redis.call('HGET', state, 'last_tick') or ''
if last ~= ARGV[1] then return 0 end
redis.call('HSET', state, 'last_tick', ARGV[2])
if ARGV[3] ~= '[]' then
  redis.call('HSET', state, 'pending', ARGV[3], 'pending_since', ARGV[4], 'pending_by', ARGV[5])
end
return 1
