-- take_over_schedule: take over a schedule's unconfirmed claim once it is older than the
-- timeout by Redis's clock (its claimer died or hangs). Checked and re-stamped (time and
-- claimer) in one step, so two schedulers never both take it over, and a scheduler whose
-- clock runs ahead cannot take over a claim early.
-- KEYS[1] state HASH. ARGV[1] timeout (ms), ARGV[2] the new claimer.
-- Returns the claim (`pending`, a JSON array of ticks) when taken over; nil when there is
-- none or it is not stale yet.

local function bad_arg(name, value)
  error({ err = 'HOIST_BAD_ARG ' .. name .. ' ' .. string.sub(tostring(value), 1, 40) })
end

local state, timeout, claimer = KEYS[1], ARGV[1], ARGV[2]
if timeout == nil or #timeout > 15 or not string.match(timeout, '^%d+$') then bad_arg('timeout', timeout) end
if claimer == nil or claimer == '' then bad_arg('claimer', claimer) end
timeout = tonumber(timeout)

local claim = redis.call('HGET', state, 'pending')
if not claim then return false end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- A stamp in the future (a node whose clock stepped back) blocks for the timeout at most;
-- a claim without a readable stamp is stale: nothing else would ever release it.
local since = tonumber(redis.call('HGET', state, 'pending_since') or '')
if since and math.abs(now - since) <= timeout then return false end
redis.call('HSET', state, 'pending_since', string.format('%d', now), 'pending_by', claimer)
return claim
