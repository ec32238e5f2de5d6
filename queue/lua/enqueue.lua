-- enqueue: new jobs -> waiting or delayed (one call for a whole batch).
-- ARGV[4] number of jobs, then 11 fields per job:
--   id, name, payload, owner, priority, run_at, max_attempts, timeout_ms, dedup key,
--   backoff ("none" | "fixed:<ms>" | "exponential:<ms>:<cap ms>:<jitter 0..1>"), max_stalls
-- Returns per job { id, 1 if an existing job was returned for its dedup key else 0 }.
local n = tonumber(ARGV[4])
local out = {}
local woke = false
for i = 0, n - 1 do
  local b = 5 + i * 11
  local id, name, payload, owner = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local priority, run_at = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])
  local max_attempts, timeout_ms, dedup = ARGV[b + 6], ARGV[b + 7], ARGV[b + 8]
  local backoff, max_stalls = ARGV[b + 9], ARGV[b + 10]
  local existing = false
  if dedup ~= '' then
    local other = redis.call('HGET', k.dedup, dedup)
    if other and redis.call('EXISTS', job_key(other)) == 1 then
      out[#out + 1] = { other, 1 }
      existing = true
    end
  end
  if not existing then
    if dedup ~= '' then
      redis.call('HSET', k.dedup, dedup, id)
    end
    local score = next_score(priority)
    local state = 'waiting'
    if run_at > now then state = 'delayed' end
    redis.call('HSET', job_key(id),
      'id', id, 'name', name, 'payload', payload, 'owner', owner, 'priority', priority,
      'score', score, 'state', state, 'attempts', 0, 'max_attempts', max_attempts,
      'timeout_ms', timeout_ms, 'dedup', dedup, 'backoff', backoff, 'max_stalls', max_stalls,
      'stalls', 0, 'created_at', now, 'run_at', run_at)
    if state == 'delayed' then
      redis.call('ZADD', k.delayed, run_at, id)
    else
      redis.call('ZADD', k.wait, score, id)
    end
    emit('added', id, 'name', name, 'owner', owner, 'state', state)
    out[#out + 1] = { id, 0 }
    -- A delayed job also wakes a worker, so it can shorten its wait to the new due time.
    if not woke then
      wake_workers()
      woke = true
    end
  end
end
return out
