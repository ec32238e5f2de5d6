-- read_unindexed: the live jobs the search index has not read since they changed.
-- KEYS: unindexed
-- ARGV[3] limit (1..10,000).
-- Returns { now, id, at, id, at, ... }: Redis's time before the caller reads those jobs
-- (a row the index writes from them is at least this fresh), then the first `limit`
-- entries, oldest first, with the time each was queued (pass both to mark_indexed).
local limit = int_arg(3, 'limit', 1, 10000)
local out = { now_text }
local listed = redis.call('ZRANGE', k.unindexed, 0, limit - 1, 'WITHSCORES')
for i = 1, #listed do out[#out + 1] = listed[i] end
return out
