-- mark_indexed: the search index has read these live jobs.
-- KEYS: unindexed
-- ARGV[3..] pairs of id and the time it was listed with. A job queued again since
-- (failed, retried) keeps its place, so its change is read too.
-- Returns the number of entries removed.
if #ARGV % 2 == 1 then bad_arg('indexed', #ARGV) end
local ids = {}
for i = 3, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return 0 end
local done = {}
for from = 1, #ids, 1000 do
  local to = math.min(from + 999, #ids)
  local scores = redis.call('ZMSCORE', k.unindexed, unpack(ids, from, to))
  for j = from, to do
    local score = scores[j - from + 1]
    if score and tonumber(score) == tonumber(ARGV[2 + 2 * j]) then done[#done + 1] = ids[j] end
  end
end
for from = 1, #done, 1000 do
  redis.call('ZREM', k.unindexed, unpack(done, from, math.min(from + 999, #done)))
end
return #done
