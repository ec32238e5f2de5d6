-- sample_backlog: how many jobs wait to run, into this minute's statistics (field
-- `waiting`). The first sample of a minute stays, so every worker may call it.
-- KEYS: wait
-- Returns the count recorded, or -1 when the minute had its sample already.
local key = prefix .. 'stats:' .. math.floor(now / 60000)
local waiting = redis.call('ZCARD', k.wait)
if redis.call('HSETNX', key, 'waiting', waiting) == 0 then return -1 end
-- Kept as long as the minute's other statistics.
redis.call('EXPIRE', key, '1213200')
return waiting
