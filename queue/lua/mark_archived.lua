-- mark_archived: the history store has copied these finished jobs; retention may drop them now.
-- KEYS: archive
-- ARGV[3..] pairs of id and the finish time that was copied. A job that finished again
-- since (retried, then ended anew) keeps its place, so its new ending is copied too.
-- Returns the number of jobs released.
if #ARGV % 2 == 1 then bad_arg('archived', #ARGV) end
local released = 0
for i = 3, #ARGV, 2 do
  local id, at = ARGV[i], ARGV[i + 1]
  local score = redis.call('ZSCORE', k.archive, id)
  if score and tonumber(score) == tonumber(at) then
    redis.call('ZREM', k.archive, id)
    released = released + 1
  end
end
return released
