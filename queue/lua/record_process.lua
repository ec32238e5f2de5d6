-- record_process: a process checks in by Redis's clock with what it runs now, and reads
-- back any command sent to it (one it may have missed on Pub/Sub while disconnected).
-- Not a queue script: the process registry's keys, all under one hash tag.
-- KEYS[1] registry ZSET id -> last check-in (ms), KEYS[2] this process's info STRING,
-- KEYS[3] this process's command STRING.
-- ARGV[1] process id, ARGV[2] info (JSON), ARGV[3] forget after (ms), ARGV[4] "1" at the
-- first and last check-in of a run: a command left for an earlier run under the same id
-- (a restarted pod keeps its name) is dropped, not obeyed.
-- Processes silent for longer than that leave the registry (their info has expired).
-- Returns {now, command or ''}.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local forget = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'PX', forget)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - forget))
if ARGV[4] == '1' then redis.call('DEL', KEYS[3]) end
local command = redis.call('GET', KEYS[3])
return {now, command or ''}
