-- release_job: active -> waiting without spending an attempt (a worker shutting down hands
-- back jobs it will not finish; a handler defers its job).
-- KEYS: wait delayed active events marker meta groups group_active
-- ARGV[3] id, ARGV[4] lease token, ARGV[5] run again after (ms, 0..MAX_DURATION_MS;
-- 0 = at once).
-- Returns 1, -1 no such job, -2 lease lost.
local id, lease = ARGV[3], ARGV[4]
local after = int_arg(5, 'delay', 0, MAX_DURATION_MS)
local jk = job_key(id)
local owned = check_lease(id, lease)
if owned ~= 1 then return owned end
redis.call('ZREM', k.active, id)
if meta().grouped then grouping().left_active(jk) end
redis.call('HDEL', jk, 'lease', 'cancel')
redis.call('HINCRBY', jk, 'attempts', -1)
if after > 0 then
  local run_at = text_of(now + after)
  redis.call('HSET', jk, 'state', 'delayed', 'run_at', run_at)
  redis.call('ZADD', k.delayed, run_at, id)
  emit('delayed', id, 'run_at', run_at)
else
  redis.call('HSET', jk, 'state', 'waiting', 'run_at', now_text)
  local score = redis.call('HGET', jk, 'score')
  redis.call('ZADD', k.wait, score, id)
  if meta().grouped then grouping().enter(id, score) end
  emit('waiting', id)
end
wake_workers()
return 1
