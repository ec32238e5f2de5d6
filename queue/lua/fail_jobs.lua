-- fail_jobs: active -> retrying (backoff), waiting (no backoff) or dead, for a batch of jobs.
-- The retry policy stored on the job decides; nothing else retries.
-- KEYS: wait retry active dead meta events marker archive dedup owners unindexed groups group_active
-- ARGV[3] keep dead (count, -1 = no limit), ARGV[4] keep dead (age ms, 0 = no limit),
-- ARGV[5] number of failures, then 5 fields each:
--   id, lease token, error record JSON (its "at" is set here, by Redis's clock),
--   "permanent" or "retryable", jitter sample 0..1.
-- Returns a code per failure: 1 = will retry, 2 = dead, -1 = no such job, -2 = lease lost.
local keep = int_arg(3, 'keep', -1, 1e15)
local keep_age = int_arg(4, 'keep_age', 0, 1e15)
local n = int_arg(5, 'failures', 0, MAX_ITEMS)
if #ARGV ~= 5 + n * 5 then bad_arg('failures', #ARGV) end
for i = 0, n - 1 do
  local b = 6 + i * 5
  if string.sub(ARGV[b + 2], 1, 1) ~= '{' then bad_arg('error', ARGV[b + 2]) end
  local sample = tonumber(ARGV[b + 4])
  if not sample or sample < 0 or sample > 1 then bad_arg('jitter', ARGV[b + 4]) end
end
local codes = {}
local grouped = meta().grouped
local retrying, dead = events('retrying', 'attempt', 'delay_ms'), events('dead', 'attempt')
local died = {}
-- Jobs that will run again now carry an error: the search index reads them again.
local failed_live = {}

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
  local b = 6 + i * 5
  local id, lease, kind, sample = ARGV[b], ARGV[b + 1], ARGV[b + 3], tonumber(ARGV[b + 4])
  -- The record's time is Redis's: the worker sends "at":0 (the first "at" key: the
  -- worker writes attempt, then at, before any text).
  local record = string.gsub(ARGV[b + 2], '"at":%-?%d+', '"at":' .. now_text, 1)
  local jk = job_key(id)
  local current = redis.call('HGET', jk, 'lease')
  if not current then
    codes[#codes + 1] = -1
  elseif current ~= lease or redis.call('ZSCORE', k.active, id) == false then
    codes[#codes + 1] = -2
  else
    redis.call('ZREM', k.active, id)
    if grouped then grouping().left_active(jk) end
    redis.call('HDEL', jk, 'lease', 'cancel')
    redis.call('RPUSH', jk .. ':errors', record)
    redis.call('LTRIM', jk .. ':errors', -100, -1)
    redis.call('HSET', jk, 'error', record)
    minute_stats('failed', 1)
    local attempts = tonumber(redis.call('HGET', jk, 'attempts'))
    local max_attempts, _, _, backoff = job_opts(jk)
    if kind == 'permanent' or attempts >= max_attempts then
      redis.call('HSET', jk, 'state', 'dead', 'finished_at', now_text)
      redis.call('ZADD', k.dead, now_text, id)
      died[#died + 1] = now_text; died[#died + 1] = id
      add_event(dead, id, attempts)
      minute_stats('dead', 1)
      codes[#codes + 1] = 2
    else
      local delay = backoff_ms(backoff, attempts, sample)
      if delay > 0 then
        local run_at = text_of(now + delay)
        redis.call('HSET', jk, 'state', 'retrying', 'run_at', run_at)
        redis.call('ZADD', k.retry, run_at, id)
        wake_workers()
      else
        -- Ready again now: its wait is counted from here, not from its first run time.
        redis.call('HSET', jk, 'state', 'waiting', 'run_at', now_text)
        local score = redis.call('HGET', jk, 'score')
        redis.call('ZADD', k.wait, score, id)
        if meta().grouped then grouping().enter(id, score) end
        wake_workers()
      end
      add_event(retrying, id, attempts, delay)
      minute_stats('retried', 1)
      failed_live[#failed_live + 1] = now_text
      failed_live[#failed_live + 1] = id
      codes[#codes + 1] = 1
    end
  end
end
emit_all(retrying)
emit_all(dead)
archive_finished(died)
index_live(failed_live)
if meta().concurrency and redis.call('ZCARD', k.wait) > 0 then
  wake_workers()
end
flush_stats()
apply_retention(k.dead, keep, keep_age, 100)
return codes
