-- confirm_schedule: record that the claimed ticks' jobs are enqueued.
-- KEYS[1] state HASH, KEYS[2] history LIST (newest first, capped at 100).
-- ARGV[1] the pending value claimed, ARGV[2] runs to add, then history entries (JSON).
-- Returns 1, or 0 when the pending ticks were already confirmed by someone else.
local state, history = KEYS[1], KEYS[2]
if ARGV[1] ~= '' and redis.call('HGET', state, 'pending') ~= ARGV[1] then return 0 end
if ARGV[1] ~= '' then redis.call('HDEL', state, 'pending', 'pending_since', 'pending_by') end
redis.call('HINCRBY', state, 'runs', tonumber(ARGV[2]))
for i = 3, #ARGV do
  redis.call('LPUSH', history, ARGV[i])
end
redis.call('LTRIM', history, 0, 99)
return 1
