-- read_unindexed: the live jobs the search index has not read since they changed.
-- KEYS: unindexed
-- ARGV[3] limit (1..10,000); ARGV[4] the least age of an entry read, in ms (0..60,000).
-- Returns { now, id, at, id, at, ... }: Redis's time before the caller reads those jobs
-- (a row the index writes from them is at least this fresh), then the first `limit`
-- entries, oldest first, with the time each was queued (pass both to mark_indexed).
-- Entries queued in this very millisecond wait for the next read even at age 0: a change after the
-- caller reads the job, in the same millisecond, would leave the entry's time as it was,
-- and mark_indexed would take it for the change already read.
local limit = int_arg(3, 'limit', 1, 10000)
local min_age = int_arg(4, 'min_age', 0, 60000)
local out = { now_text }
local before = string.format('(%d', now - min_age)
local listed = redis.call('ZRANGE', k.unindexed, '-inf', before, 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES')
for i = 1, #listed do out[#out + 1] = listed[i] end
return out
