-- release: active -> waiting without spending an attempt (a worker shutting down hands
-- back jobs it will not finish; a handler defers its job).
-- ARGV[4] id, ARGV[5] lease token, ARGV[6] run again at (ms; <= now means at once).
-- Returns 1, -1 no such job, -2 lease lost.
local id, lease, run_at = ARGV[4], ARGV[5], tonumber(ARGV[6])
local jk = job_key(id)
local owned = check_lease(id, lease)
if owned ~= 1 then return owned end
redis.call('ZREM', k.active, id)
redis.call('HDEL', jk, 'lease', 'cancel')
redis.call('HINCRBY', jk, 'attempts', -1)
if run_at > now then
  redis.call('HSET', jk, 'state', 'delayed', 'run_at', run_at)
  redis.call('ZADD', k.delayed, run_at, id)
  emit('delayed', id, 'run_at', run_at)
else
  redis.call('HSET', jk, 'state', 'waiting')
  redis.call('ZADD', k.wait, redis.call('HGET', jk, 'score'), id)
  emit('waiting', id)
end
wake_workers()
return 1
