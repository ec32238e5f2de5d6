-- mark_archived: the history store has copied these finished jobs; retention may drop them now.
-- KEYS: archive
-- ARGV[3..] pairs of id and the finish time that was copied. A job that finished again
-- since (retried, then ended anew) keeps its place, so its new ending is copied too.
-- Returns the number of jobs released.
if #ARGV % 2 == 1 then bad_arg('archived', #ARGV) end
local ids = {}
for i = 3, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return 0 end
-- In slices: unpack has a limit on how many values it passes at once.
local release = {}
for from = 1, #ids, 1000 do
  local to = math.min(from + 999, #ids)
  local scores = redis.call('ZMSCORE', k.archive, unpack(ids, from, to))
  for j = from, to do
    local score = scores[j - from + 1]
    if score and tonumber(score) == tonumber(ARGV[2 + 2 * j]) then release[#release + 1] = ids[j] end
  end
end
for from = 1, #release, 1000 do
  redis.call('ZREM', k.archive, unpack(release, from, math.min(from + 999, #release)))
end
return #release
