-- take_attempt: count an attempt against every subject of a lockout at once, unless one
-- of them already used its allowance in its window. Not a queue script.
-- KEYS[i] a subject's counter STRING (one hash slot: the lockout's own tag).
-- ARGV[1] window (ms, 1..MAX), then ARGV[1 + i] the allowance of KEYS[i] (1..1,000,000).
-- Returns {} when counted (the attempt may go on), else {the ms until the refusing
-- counter's window ends, the refusing counter's index (1-based)}. A counter's window
-- starts with its first attempt.
local window = tonumber(ARGV[1])
if not window or window < 1 or window > 31536000000 or window % 1 ~= 0 then
  return redis.error_reply('HOIST_BAD_ARG window ' .. tostring(ARGV[1]))
end
for i = 1, #KEYS do
  local max = tonumber(ARGV[1 + i])
  if not max or max < 1 or max > 1000000 or max % 1 ~= 0 then
    return redis.error_reply('HOIST_BAD_ARG max ' .. tostring(ARGV[1 + i]))
  end
end
for i = 1, #KEYS do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= tonumber(ARGV[1 + i]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('PEXPIRE', KEYS[i], window)
      ttl = window
    end
    return { ttl, i }
  end
end
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then
    redis.call('PEXPIRE', KEYS[i], window)
  end
end
return {}
