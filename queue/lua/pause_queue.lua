-- pause_queue: workers stop claiming; jobs already active finish.
-- KEYS: meta events
-- Returns 1 if paused now, 0 if it already was.
if redis.call('HSETNX', k.meta, 'paused', now_text) == 0 then return 0 end
emit('paused', '')
return 1
