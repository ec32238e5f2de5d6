-- advance_schedule: claim a schedule's due ticks, once across every scheduler.
-- Not a queue script: its keys are the schedule's own (one hash slot, {schedule:NAME}).
-- KEYS[1] state HASH (spec, last_tick, runs, paused, pending, pending_since, pending_by)
-- ARGV[1] last_tick the caller read ("" if none): the claim is a compare-and-set on it
-- ARGV[2] the new last_tick: the latest tick the caller found due
-- ARGV[3] the time the caller decided at (epoch ms), refused when ahead of Redis's TIME:
--         whatever a caller's clock says, no tick is claimed before it is due
-- ARGV[4] the claimer (scheduler id)
-- ARGV[5] max_runs ("" for no limit)
-- ARGV[6..] the ticks to fire, oldest first (none when the misfire policy skips them all)
-- Returns { n, claim }. n >= 0: this caller advanced the schedule and must enqueue the
-- first n ticks, whose claim (JSON array, the new `pending`) is returned ("" when n = 0);
-- max_runs counts runs confirmed so far, so it is never overshot. n = -1: another
-- scheduler advanced first, or the schedule is paused or gone. n = -2: an unconfirmed
-- claim is held; it is never overwritten (its ticks fire first, by its claimer or by a
-- takeover). n = -3: the caller's time is ahead of Redis's.

local function bad_arg(name, value)
  error({ err = 'HOIST_BAD_ARG ' .. name .. ' ' .. string.sub(tostring(value), 1, 40) })
end

-- ARGV[i] as epoch ms: digits only, at most 15 (the year 9999), exact in a Lua number.
local function ms_arg(i, name)
  local v = ARGV[i]
  if v == nil or #v > 15 or not string.match(v, '^%d+$') then bad_arg(name, v) end
  return tonumber(v)
end

local state = KEYS[1]
local expected, through, caller_now = ARGV[1], ms_arg(2, 'through'), ms_arg(3, 'now')
local claimer, max_runs = ARGV[4], ARGV[5]
if claimer == nil or claimer == '' then bad_arg('claimer', claimer) end
if max_runs == nil or (max_runs ~= '' and not string.match(max_runs, '^%d+$')) then bad_arg('max_runs', max_runs) end
if through > caller_now then bad_arg('through', ARGV[2]) end
local previous = tonumber(expected) or -1
for i = 6, #ARGV do
  local tick = ms_arg(i, 'tick')
  if tick <= previous or tick > through then bad_arg('tick', ARGV[i]) end
  previous = tick
end

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if caller_now > now then return { -3, '' } end
if redis.call('EXISTS', state) == 0 or redis.call('HEXISTS', state, 'paused') == 1 then return { -1, '' } end
if (redis.call('HGET', state, 'last_tick') or '') ~= expected then return { -1, '' } end
if redis.call('HEXISTS', state, 'pending') == 1 then return { -2, '' } end

local n = #ARGV - 5
if max_runs ~= '' then
  local left = tonumber(max_runs) - (tonumber(redis.call('HGET', state, 'runs')) or 0)
  if left < n then n = math.max(left, 0) end
end
redis.call('HSET', state, 'last_tick', ARGV[2])
if n == 0 then return { 0, '' } end
local claim = '[' .. table.concat(ARGV, ',', 6, 5 + n) .. ']'
redis.call('HSET', state, 'pending', claim, 'pending_since', string.format('%d', now), 'pending_by', claimer)
return { n, claim }
