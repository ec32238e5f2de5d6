-- fail: active -> retrying (backoff), waiting (no backoff) or dead, for a batch of jobs.
-- The retry policy stored on the job decides; nothing else retries.
-- ARGV[4] keep dead (count), ARGV[5] keep dead (age ms),
-- ARGV[6] number of failures, then 5 fields each:
--   id, lease token, error record JSON, "permanent" or "retryable", jitter sample 0..1.
-- Returns a code per failure: 1 = will retry, 2 = dead, -1 = no such job, -2 = lease lost.
local n = tonumber(ARGV[6])
local codes = {}
local retrying, dead = events('retrying', 'attempt', 'delay_ms'), events('dead', 'attempt')
local died = {}

local function backoff_ms(spec, attempt, sample)
  local kind, a, b, c = string.match(spec, '^(%a+):?(%d*):?(%d*):?([%d%.]*)$')
  if kind == 'fixed' then
    return tonumber(a) or 0
  elseif kind == 'exponential' then
    local base, cap, jitter = tonumber(a) or 1000, tonumber(b) or 3600000, tonumber(c) or 0
    local delay = base * (2 ^ (attempt - 1))
    if delay > cap then delay = cap end
    return math.floor(delay * (1 - jitter * sample))
  end
  return 0
end

for i = 0, n - 1 do
  local b = 7 + i * 5
  local id, lease, record, kind, sample = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], tonumber(ARGV[b + 4])
  local jk = job_key(id)
  local current = redis.call('HGET', jk, 'lease')
  if not current then
    codes[#codes + 1] = -1
  elseif current ~= lease or redis.call('ZSCORE', k.active, id) == false then
    codes[#codes + 1] = -2
  else
    redis.call('ZREM', k.active, id)
    redis.call('HDEL', jk, 'lease', 'cancel')
    redis.call('RPUSH', jk .. ':errors', record)
    redis.call('LTRIM', jk .. ':errors', -100, -1)
    redis.call('HSET', jk, 'error', record)
    minute_stats('failed', 1)
    local attempts = tonumber(redis.call('HGET', jk, 'attempts'))
    local max_attempts, _, _, backoff = job_opts(jk)
    if kind == 'permanent' or attempts >= max_attempts then
      redis.call('HSET', jk, 'state', 'dead', 'finished_at', now)
      redis.call('ZADD', k.dead, now, id)
      died[#died + 1] = now; died[#died + 1] = id
      add_event(dead, id, attempts)
      minute_stats('dead', 1)
      codes[#codes + 1] = 2
    else
      local delay = backoff_ms(backoff, attempts, sample)
      if delay > 0 then
        redis.call('HSET', jk, 'state', 'retrying', 'run_at', now + delay)
        redis.call('ZADD', k.retry, now + delay, id)
        wake_workers()
      else
        redis.call('HSET', jk, 'state', 'waiting')
        redis.call('ZADD', k.wait, redis.call('HGET', jk, 'score'), id)
        wake_workers()
      end
      add_event(retrying, id, attempts, delay)
      codes[#codes + 1] = 1
    end
  end
end
emit_all(retrying)
emit_all(dead)
archive_finished(died)
if meta().concurrency and redis.call('ZCARD', k.wait) > 0 then
  wake_workers()
end
flush_stats()
apply_retention(k.dead, tonumber(ARGV[4]), tonumber(ARGV[5]), 100)
return codes
