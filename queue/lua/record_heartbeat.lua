-- record_heartbeat: a worker checks in, by Redis's clock (a worker whose clock is off must not
-- look alive for longer, or drop others from the list). Not a queue script: one key.
-- KEYS[1] workers ZSET worker id -> last check-in (ms). ARGV[1] worker id.
-- Check-ins older than an hour are dropped.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - 3600000))
return now
