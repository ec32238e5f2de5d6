-- promote_jobs: delayed or retrying -> waiting now.
-- KEYS: wait delayed retry events marker meta groups group_active
-- ARGV[3] "ids" or "all", ARGV[4] limit for "all" (1..10,000), then ids.
-- Returns the number of jobs promoted.
local moved = 0
local waiting = events('waiting', 'promoted')
local function promote(set, id)
  if redis.call('ZREM', set, id) == 1 then
    local jk = job_key(id)
    redis.call('HSET', jk, 'state', 'waiting', 'run_at', now_text)
    local score = redis.call('HGET', jk, 'score')
    redis.call('ZADD', k.wait, score, id)
    if meta().grouped then grouping().enter(id, score) end
    add_event(waiting, id, 1)
    moved = moved + 1
    return true
  end
  return false
end
local mode = ARGV[3]
if mode ~= 'all' and mode ~= 'ids' then bad_arg('mode', mode) end
if mode == 'all' then
  local limit = int_arg(4, 'limit', 1, 10000)
  for _, id in ipairs(redis.call('ZRANGE', k.delayed, 0, limit - 1)) do
    promote(k.delayed, id)
  end
else
  for i = 5, #ARGV do
    if is_job_id(ARGV[i]) and not promote(k.delayed, ARGV[i]) then promote(k.retry, ARGV[i]) end
  end
end
emit_all(waiting)
if moved > 0 then wake_workers() end
return moved
