-- confirm_schedule: record that a claim's ticks are fired (their jobs enqueued, or refused
-- for good) and release the claim.
-- KEYS[1] state HASH, KEYS[2] history LIST (newest first, capped at 100).
-- ARGV[1] the claim (its `pending` value), or "" for a manual fire (no claim)
-- ARGV[2] the claimer: only the claim's current holder confirms it (after a takeover, the
--         scheduler that took it over)
-- ARGV[3] runs to add
-- ARGV[4..] history entries, JSON objects without `fired_at`: it is added here, from TIME.
-- Returns 1, or 0 when the claim is no longer this claimer's or the schedule is gone.

local function bad_arg(name, value)
  error({ err = 'HOIST_BAD_ARG ' .. name .. ' ' .. string.sub(tostring(value), 1, 40) })
end

local state, history = KEYS[1], KEYS[2]
local claim, claimer, runs = ARGV[1], ARGV[2], ARGV[3]
if claim == nil or claimer == nil then bad_arg('claim', claim) end
if runs == nil or #runs > 15 or not string.match(runs, '^%d+$') then bad_arg('runs', runs) end
for i = 4, #ARGV do
  if not string.match(ARGV[i], '^{".') then bad_arg('record', ARGV[i]) end
end

if claim ~= '' then
  if redis.call('HGET', state, 'pending') ~= claim or redis.call('HGET', state, 'pending_by') ~= claimer then
    return 0
  end
  redis.call('HDEL', state, 'pending', 'pending_since', 'pending_by')
elseif redis.call('EXISTS', state) == 0 then
  return 0
end
local clock = redis.call('TIME')
local now = string.format('%d', tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000))
redis.call('HINCRBY', state, 'runs', runs)
for i = 4, #ARGV do
  redis.call('LPUSH', history, '{"fired_at":' .. now .. ',' .. string.sub(ARGV[i], 2))
end
redis.call('LTRIM', history, 0, 99)
return 1
