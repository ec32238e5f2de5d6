-- report_progress: store an active job's progress and log lines (only its lease owner may).
-- KEYS: events
-- ARGV[3] id, ARGV[4] lease token, ARGV[5] progress JSON or "" for none,
-- ARGV[6] max log lines kept (1..100,000), then log lines.
-- Returns 1, or -1 no such job, -2 lease lost.
local id, lease = ARGV[3], ARGV[4]
local max_lines = int_arg(6, 'max_log_lines', 1, MAX_ITEMS)
if #ARGV - 6 > MAX_ITEMS then bad_arg('logs', #ARGV - 6) end
local jk = job_key(id)
local current = redis.call('HGET', jk, 'lease')
if not current then return -1 end
if current ~= lease then return -2 end
if ARGV[5] ~= '' then
  redis.call('HSET', jk, 'progress', ARGV[5])
  emit('progress', id, 'progress', ARGV[5])
end
if #ARGV >= 7 then
  for i = 7, #ARGV do
    redis.call('RPUSH', jk .. ':logs', ARGV[i])
  end
  redis.call('LTRIM', jk .. ':logs', -max_lines, -1)
end
return 1
