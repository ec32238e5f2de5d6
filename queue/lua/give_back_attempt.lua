-- give_back_attempt: an attempt that was not a failure is given back: each subject's
-- counter is cleared (ARGV[i] = "clear") or loses this one attempt ("one"). Not a queue
-- script.
-- KEYS[i] a subject's counter STRING. Returns 0.
for i = 1, #KEYS do
  if ARGV[i] ~= 'clear' and ARGV[i] ~= 'one' then
    return redis.error_reply('HOIST_BAD_ARG mode ' .. tostring(ARGV[i]))
  end
end
for i = 1, #KEYS do
  if ARGV[i] == 'clear' then
    redis.call('DEL', KEYS[i])
  elseif tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then
    redis.call('DECR', KEYS[i])
  end
end
return 0
