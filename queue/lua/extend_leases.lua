-- extend_leases: renew the leases of all of one worker's active jobs in one call.
-- KEYS: active
-- ARGV[3] lease (ms, 1..MAX_DURATION_MS), then pairs: id, lease token.
-- Returns { lost: id, lease token, id, lease token..., ids asked to cancel }: the worker
-- stops the former (someone else owns them now, or they just finished) and signals the
-- latter's cancellation token. A lease token alone is not unique (it is the worker's
-- token and the attempt), so lost leases are named with their job.
local lease_ms = int_arg(3, 'lease', 1, MAX_DURATION_MS)
if #ARGV % 2 == 0 then bad_arg('leases', #ARGV) end
local lost, cancel = {}, {}
for i = 4, #ARGV, 2 do
  local id, lease = ARGV[i], ARGV[i + 1]
  local jk = job_key(id)
  if redis.call('HGET', jk, 'lease') == lease and redis.call('ZSCORE', k.active, id) then
    redis.call('ZADD', k.active, 'XX', now + lease_ms, id)
    local cancel_at = redis.call('HGET', jk, 'cancel')
    if cancel_at and cancel_at ~= '' then
      cancel[#cancel + 1] = id
    end
  else
    lost[#lost + 1] = id
    lost[#lost + 1] = lease
  end
end
return { lost, cancel }
