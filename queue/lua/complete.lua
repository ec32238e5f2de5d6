-- complete: active -> completed for a batch of jobs, then claim the next jobs in the same
-- round trip.
-- ARGV[4] keep completed (count, -1 = no limit), ARGV[5] keep completed (age ms, 0 = no limit),
-- ARGV[6] claim count, ARGV[7] lease deadline (ms) for the claim, ARGV[8] worker token,
-- ARGV[9] number of completions, ARGV[10] their run times added up (ms), then 4 fields
-- each: id, lease token, result JSON, run time (ms, measured by the worker).
-- Returns { {code per completion...}, claim result } with code 1 = done,
-- -1 = no such job, -2 = lease lost (another worker owns the job now).
local n = tonumber(ARGV[9])
local codes = {}
local done, finished = {}, {}
local completed = events('completed', 'duration_ms')
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
  redis.call('ZREM', k.active, unpack(done))
  redis.call('ZADD', k.completed, unpack(finished))
  archive_finished(finished)
  minute_stats('completed', #done)
  -- Run times of the batch in one sum from the worker: a lease lost in between is rare
  -- enough not to be subtracted.
  minute_stats('duration_ms', tonumber(ARGV[10]))
  -- Under a global concurrency cap, a finished job frees a slot another worker may be
  -- waiting for.
  if meta().concurrency and redis.call('ZCARD', k.wait) > 0 then
    wake_workers()
  end
end
flush_stats()
apply_retention(k.completed, tonumber(ARGV[4]), tonumber(ARGV[5]), 100)
return { codes, claim_jobs(tonumber(ARGV[6]), ARGV[7], ARGV[8]) }
