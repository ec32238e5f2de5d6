-- resume_queue: workers claim again.
-- KEYS: meta events marker
-- Returns 1 if resumed now, 0 if it was not paused.
if redis.call('HDEL', k.meta, 'paused') == 0 then return 0 end
emit('resumed', '')
wake_workers()
return 1
