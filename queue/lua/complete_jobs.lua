-- complete_jobs: active -> completed for a batch of jobs, then claim the next jobs in the same
-- round trip.
-- KEYS: wait delayed retry active completed dead meta events marker limiter archive dedup owners expired expiring groups group_active
-- ARGV[3] keep completed (count, -1 = no limit), ARGV[4] keep completed (age ms, 0 = no
-- limit), ARGV[5] claim count, ARGV[6] lease (ms) for the claim, ARGV[7] worker token,
-- ARGV[8] number of completions, ARGV[9] their run times added up (ms), ARGV[10] their
-- run and wait times by bucket (`r3:2 w0:5`: bucket index, count; see TimingHistogram),
-- then 4 fields each: id, lease token, result JSON, run time (ms, measured by the worker).
-- Returns { {code per completion...}, claim result } with code 1 = done,
-- -1 = no such job, -2 = lease lost (another worker owns the job now).
local keep = int_arg(3, 'keep', -1, 1e15)
local keep_age = int_arg(4, 'keep_age', 0, 1e15)
local claim_count = int_arg(5, 'count', 0, MAX_ITEMS)
local lease_ms = int_arg(6, 'lease', 1, MAX_DURATION_MS)
local worker = text_arg(7, 'worker')
local n = int_arg(8, 'completions', 0, MAX_ITEMS)
local total_run_ms = int_arg(9, 'run_ms', 0, 1e15)
local timings = ARGV[10]
if #ARGV ~= 10 + n * 4 then bad_arg('completions', #ARGV) end
local codes = {}
local done, finished = {}, {}
local completed = events('completed', 'duration_ms')
local grouped = meta().grouped
for i = 0, n - 1 do
  local b = 11 + i * 4
  local id, lease = ARGV[b], ARGV[b + 1]
  local jk = job_key(id)
  local current = redis.call('HMGET', jk, 'lease', 'cancel')
  if not current[1] then
    codes[#codes + 1] = -1
  elseif current[1] ~= lease then
    -- Recovery clears the lease, a new claim replaces it: either way it is not ours.
    codes[#codes + 1] = -2
  else
    redis.call('HSET', jk, 'state', 'completed', 'finished_at', now_text, 'result', ARGV[b + 2], 'lease', '')
    if grouped then grouping().left_active(jk) end
    if current[2] and current[2] ~= '' then redis.call('HSET', jk, 'cancel', '') end
    done[#done + 1] = id
    finished[#finished + 1] = now_text
    finished[#finished + 1] = id
    add_event(completed, id, ARGV[b + 3])
    codes[#codes + 1] = 1
  end
end
emit_all(completed)
if #done > 0 then
  call_sliced('ZREM', k.active, done)
  call_sliced('ZADD', k.completed, finished)
  archive_finished(finished)
  minute_stats('completed', #done)
  -- Run times of the batch in one sum from the worker: a lease lost in between is rare
  -- enough not to be subtracted.
  minute_stats('duration_ms', total_run_ms)
  for kind, bucket, count in string.gmatch(timings, '([rw])(%d+):(%d+)') do
    if tonumber(bucket) <= 18 then minute_stats(kind .. bucket, tonumber(count)) end
  end
  -- Under a global concurrency cap, a finished job frees a slot another worker may be
  -- waiting for.
  if meta().concurrency and redis.call('ZCARD', k.wait) > 0 then
    wake_workers()
  end
end
flush_stats()
apply_retention(k.completed, keep, keep_age, 100)
return { codes, claim_jobs(claim_count, lease_ms, worker) }
