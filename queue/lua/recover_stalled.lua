-- recover_stalled: active jobs whose lease lapsed (worker crashed or hung) -> waiting,
-- or -> dead once they stalled more than their max_stalls. Reads only expired leases.
-- ARGV[4] max jobs per call.
-- Returns { recovered count, dead count }.
local expired = redis.call('ZRANGEBYSCORE', k.active, '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local recovered, died = 0, 0
local stalled, dead = events('stalled'), events('dead')
local finished = {}
for _, id in ipairs(expired) do
  redis.call('ZREM', k.active, id)
  local jk = job_key(id)
  if redis.call('EXISTS', jk) == 1 then
    local stalls = redis.call('HINCRBY', jk, 'stalls', 1)
    local _, max_stalls = job_opts(jk)
    local attempt = redis.call('HGET', jk, 'attempts')
    redis.call('HDEL', jk, 'lease')
    local record = cjson.encode({ attempt = tonumber(attempt), at = now, kind = 'stalled',
      message = 'lease expired: the worker running this job stopped renewing it' })
    redis.call('RPUSH', jk .. ':errors', record)
    redis.call('LTRIM', jk .. ':errors', -100, -1)
    redis.call('HSET', jk, 'error', record)
    add_event(stalled, id, 'stalls', stalls)
    if stalls > max_stalls then
      redis.call('HSET', jk, 'state', 'dead', 'finished_at', now)
      redis.call('ZADD', k.dead, now, id)
      finished[#finished + 1] = now; finished[#finished + 1] = id
      add_event(dead, id, 'attempt', attempt)
      minute_stats('dead', 1)
      died = died + 1
    else
      redis.call('HSET', jk, 'state', 'waiting')
      redis.call('ZADD', k.wait, redis.call('HGET', jk, 'score'), id)
      wake_workers()
      recovered = recovered + 1
    end
  end
end
emit_all(stalled)
emit_all(dead)
archive_finished(finished)
flush_stats()
return { recovered, died }
