-- mark_indexed: the search index has read these live jobs.
-- KEYS: unindexed
-- ARGV[3..] pairs of id and the time it was listed with: a prefix of the list, as
-- read_unindexed returned it. Trimmed only if the list still starts so; if another
-- index took it meanwhile, nothing is trimmed (entries read twice are indexed twice,
-- which is harmless). A job changed since it was read is listed again at the end.
-- Returns the number of entries removed.
if #ARGV % 2 == 1 then bad_arg('indexed', #ARGV) end
local n = (#ARGV - 2) / 2
if n == 0 then return 0 end
local first = ARGV[4] .. ' ' .. ARGV[3]
local last = ARGV[2 + 2 * n] .. ' ' .. ARGV[1 + 2 * n]
if redis.call('LINDEX', k.unindexed, 0) ~= first or redis.call('LINDEX', k.unindexed, n - 1) ~= last then
  return 0
end
redis.call('LTRIM', k.unindexed, n, -1)
return n
