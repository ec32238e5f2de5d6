-- signal_process: sends a command (quiet or stop) to one registered process: kept for its
-- next check-in, and announced on Pub/Sub for it to act on at once.
-- KEYS[1] registry ZSET, KEYS[2] the process's command STRING.
-- ARGV[1] process id, ARGV[2] command, ARGV[3] channel, ARGV[4] keep for (ms).
-- Returns 0 when no such process is registered, else 1.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
-- A stop outranks a quiet: a quiet sent after it must not take it back.
if not (ARGV[2] == 'quiet' and redis.call('GET', KEYS[2]) == 'stop') then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
end
redis.call('PUBLISH', ARGV[3], ARGV[1] .. ' ' .. ARGV[2])
return 1
