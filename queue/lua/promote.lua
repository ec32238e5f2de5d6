-- promote: delayed or retrying -> waiting now.
-- ARGV[4] "ids" or "all", ARGV[5] limit for "all", then ids.
-- Returns the number of jobs promoted.
local moved = 0
local waiting = events('waiting', 'promoted')
local function promote(set, id)
  if redis.call('ZREM', set, id) == 1 then
    local jk = job_key(id)
    redis.call('HSET', jk, 'state', 'waiting', 'run_at', now)
    redis.call('ZADD', k.wait, redis.call('HGET', jk, 'score'), id)
    add_event(waiting, id, 1)
    moved = moved + 1
    return true
  end
  return false
end
if ARGV[4] == 'all' then
  for _, id in ipairs(redis.call('ZRANGE', k.delayed, 0, tonumber(ARGV[5]) - 1)) do
    promote(k.delayed, id)
  end
else
  for i = 6, #ARGV do
    if not promote(k.delayed, ARGV[i]) then promote(k.retry, ARGV[i]) end
  end
end
emit_all(waiting)
if moved > 0 then wake_workers() end
return moved
