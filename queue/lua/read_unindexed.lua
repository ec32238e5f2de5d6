-- read_unindexed: the live jobs the search index has not read since they changed.
-- KEYS: unindexed
-- ARGV[3] limit (1..10,000); ARGV[4] the least age of an entry read, in ms (0..60,000).
-- Returns { now, id, at, live, id, at, live, ... }: Redis's time before the caller reads
-- those jobs (a row the index writes from them is at least this fresh), then the first
-- entries, oldest first, up to `limit` and up to the first one younger than the least
-- age, with the time each was listed (pass both to mark_indexed) and 1 if the job is
-- still live (0: it ended, which is the history copy's to record, or is gone), so the
-- caller reads only the jobs to index: at full speed most jobs end first. Entries of this very
-- millisecond always wait: the list is in the order of listing, so what is read is a
-- prefix that mark_indexed can trim.
local limit = int_arg(3, 'limit', 1, 10000)
local min_age = int_arg(4, 'min_age', 0, 60000)
local out = { now_text }
local before = now - min_age
if min_age == 0 then before = now end
local listed = redis.call('LRANGE', k.unindexed, 0, limit - 1)
for _, entry in ipairs(listed) do
  local at, id = string.match(entry, '^(%d+) (.+)$')
  if not at or tonumber(at) >= before then break end
  local state = redis.call('HGET', job_key(id), 'state')
  local live = state == 'waiting' or state == 'delayed' or state == 'retrying' or state == 'active'
  out[#out + 1] = id
  out[#out + 1] = at
  out[#out + 1] = live and '1' or '0'
end
return out
