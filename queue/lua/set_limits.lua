-- set_limits: the queue's limits, obeyed by every worker: a cap on active jobs across all
-- workers, at most `max` job starts per sliding window, each process's concurrency, and
-- a cap on the active jobs of any one group (see "Fair groups" in common.lua).
-- KEYS: meta marker groups group_active
-- ARGV[3] concurrency (1..100,000, or "" for none), ARGV[4] rate max (1..1,000,000, or ""
-- for no rate limit), ARGV[5] rate window (ms, 1..MAX_DURATION_MS; ignored without a max),
-- ARGV[6] per-process concurrency (1..10,000, or "" for each process's own setting),
-- ARGV[7] group concurrency (1..100,000, or "" for none), ARGV[8] the queue's limits channel.
-- Returns 1. Workers are woken (a raised limit may let them start more at once) and told
-- on the channel (a process's own concurrency is held in the process, not read per claim).
local concurrency, rate_max, window, per_process, per_group
if ARGV[3] ~= '' then concurrency = int_arg(3, 'concurrency', 1, 100000) end
if ARGV[4] ~= '' then
  rate_max = int_arg(4, 'rate.max', 1, 1000000)
  window = int_arg(5, 'rate.per', 1, MAX_DURATION_MS)
end
if ARGV[6] ~= '' then per_process = int_arg(6, 'process_concurrency', 1, 10000) end
if ARGV[7] ~= '' then per_group = int_arg(7, 'group_concurrency', 1, 100000) end
local channel = text_arg(8, 'channel')
if concurrency then
  redis.call('HSET', k.meta, 'concurrency', text_of(concurrency))
else
  redis.call('HDEL', k.meta, 'concurrency')
end
if rate_max then
  redis.call('HSET', k.meta, 'rate_max', text_of(rate_max), 'rate_window', text_of(window))
else
  redis.call('HDEL', k.meta, 'rate_max', 'rate_window')
end
if per_process then
  redis.call('HSET', k.meta, 'process_concurrency', text_of(per_process))
else
  redis.call('HDEL', k.meta, 'process_concurrency')
end
if per_group then
  redis.call('HSET', k.meta, 'group_concurrency', text_of(per_group))
else
  redis.call('HDEL', k.meta, 'group_concurrency')
end
-- A raised (or removed) group cap lets groups it held out take turns again; a lowered one
-- holds groups out as the claim meets them.
if redis.call('HGET', k.meta, 'grouped') then
  local active = redis.call('HGETALL', k.group_active)
  for i = 1, #active, 2 do
    local tag = active[i]
    if (not per_group or tonumber(active[i + 1]) < per_group) and redis.call('EXISTS', grouping().key(tag)) == 1 then
      grouping().queue(tag)
    end
  end
end
wake_workers()
redis.call('PUBLISH', channel, '1')
return 1
