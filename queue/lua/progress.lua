-- progress: store an active job's progress and log lines (only its lease owner may).
-- ARGV[4] id, ARGV[5] lease token, ARGV[6] progress JSON or "" for none,
-- ARGV[7] max log lines kept, then log lines.
-- Returns 1, or -1 no such job, -2 lease lost.
local id, lease = ARGV[4], ARGV[5]
local jk = job_key(id)
local current = redis.call('HGET', jk, 'lease')
if not current then return -1 end
if current ~= lease then return -2 end
if ARGV[6] ~= '' then
  redis.call('HSET', jk, 'progress', ARGV[6])
  emit('progress', id, 'progress', ARGV[6])
end
if #ARGV >= 8 then
  for i = 8, #ARGV do
    redis.call('RPUSH', jk .. ':logs', ARGV[i])
  end
  redis.call('LTRIM', jk .. ':logs', -tonumber(ARGV[7]), -1)
end
return 1
