-- set_limits: the queue's limits, obeyed by every worker: a cap on active jobs across all
-- workers, and at most `max` job starts per sliding window.
-- KEYS: meta marker
-- ARGV[3] concurrency (1..100,000, or "" for none), ARGV[4] rate max (1..1,000,000, or ""
-- for no rate limit), ARGV[5] rate window (ms, 1..MAX_DURATION_MS; ignored without a max).
-- Returns 1. Workers are woken: a raised limit may let them start more at once.
local concurrency, rate_max, window
if ARGV[3] ~= '' then concurrency = int_arg(3, 'concurrency', 1, 100000) end
if ARGV[4] ~= '' then
  rate_max = int_arg(4, 'rate.max', 1, 1000000)
  window = int_arg(5, 'rate.per', 1, MAX_DURATION_MS)
end
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
wake_workers()
return 1
