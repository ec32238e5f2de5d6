-- enqueue: new jobs -> waiting or delayed (one call for a whole batch).
-- ARGV[4] number of jobs, then 14 fields per job:
--   id, name, payload, owner, priority, run_at, max_attempts, timeout_ms, dedup key,
--   backoff ("none" | "fixed:<ms>" | "exponential:<ms>:<cap ms>:<jitter 0..1>"), max_stalls,
--   rate-limit key ("" for none), its max per window, its window (ms)
-- Returns per job { id, 1 if an existing job was returned for its dedup key else 0 }, or
-- { -5, retry_after_ms } when a rate-limit key is full: then no job of the batch is added.
local n = tonumber(ARGV[4])
local FIELDS = 14

-- First pass: every keyed limit must have room for all of this batch's jobs.
local wanted = {}
for i = 0, n - 1 do
  local b = 5 + i * FIELDS
  local key = ARGV[b + 11]
  if key ~= '' then
    local entry = wanted[key]
    if not entry then
      local window = tonumber(ARGV[b + 13])
      local zkey, used, frees_at = key_window(key, window)
      entry = { zkey = zkey, used = used, frees_at = frees_at, max = tonumber(ARGV[b + 12]), window = window }
      wanted[key] = entry
    end
    entry.used = entry.used + 1
    if entry.used > entry.max then
      local retry_after = entry.frees_at - now
      if retry_after < 1 then retry_after = 1 end
      return { -5, retry_after }
    end
  end
end

local out = {}
local woke = false
local added = events('added')
for i = 0, n - 1 do
  local b = 5 + i * FIELDS
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
      remember_dedup(dedup, id)
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
    local rate_key = ARGV[b + 11]
    if rate_key ~= '' then
      take_key_slot(wanted[rate_key].zkey, id, wanted[rate_key].window)
    end
    add_event(added, id, 'name', name, 'owner', owner, 'state', state)
    out[#out + 1] = { id, 0 }
    -- A delayed job also wakes a worker, so it can shorten its wait to the new due time.
    if not woke then
      wake_workers()
      woke = true
    end
  end
end
emit_all(added)
return out
