-- set_limits: the queue's limits, obeyed by every worker: a cap on active jobs across all
-- workers, at most `max` job starts per sliding window, and each process's concurrency.
-- KEYS: meta marker
-- ARGV[3] concurrency (1..100,000, or "" for none), ARGV[4] rate max (1..1,000,000, or ""
-- for no rate limit), ARGV[5] rate window (ms, 1..MAX_DURATION_MS; ignored without a max),
-- ARGV[6] per-process concurrency (1..10,000, or "" for each process's own setting),
-- ARGV[7] the queue's limits channel.
-- Returns 1. Workers are woken (a raised limit may let them start more at once) and told
-- on the channel (a process's own concurrency is held in the process, not read per claim).
local concurrency, rate_max, window, per_process
if ARGV[3] ~= '' then concurrency = int_arg(3, 'concurrency', 1, 100000) end
if ARGV[4] ~= '' then
  rate_max = int_arg(4, 'rate.max', 1, 1000000)
  window = int_arg(5, 'rate.per', 1, MAX_DURATION_MS)
end
if ARGV[6] ~= '' then per_process = int_arg(6, 'process_concurrency', 1, 10000) end
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
wake_workers()
redis.call('PUBLISH', ARGV[7], '1')
return 1
