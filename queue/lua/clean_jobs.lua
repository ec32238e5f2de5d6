-- clean_jobs: delete jobs of one state that entered it at least ARGV[4] ms ago (drain is clean
-- of "waiting" at any age). Active jobs are never cleaned; finished jobs the history store
-- has not copied yet stay until it has.
-- KEYS: wait delayed retry active completed dead cancelled expired meta events dedup archive owners
-- ARGV[3] state, ARGV[4] age (ms, 0..10^15), ARGV[5] most jobs to look at (1..10,000),
-- ARGV[6] where to start looking (rank in the set, from the previous call's reply).
-- Finished sets are ordered by finish time; delayed and retrying ones by run-at time, so
-- there a job's age is its creation time (stored first in its spec).
-- Returns { jobs removed, where to go on from, or -1 when the whole set was looked at }.
local state = ARGV[3]
local set = state_set(state)
if not set or state == 'active' then bad_arg('state', state) end
local age = int_arg(4, 'older_than', 0, 1e15)
local limit = int_arg(5, 'limit', 1, 10000)
local start = int_arg(6, 'start', 0, 1e15)
local cutoff = text_of(now - age)

local looked
local ids = {}
if state == 'waiting' then
  -- Waiting jobs are ordered by priority, not time: drained all at once.
  looked = redis.call('ZRANGE', set, start, start + limit - 1)
  ids = looked
elseif state == 'delayed' or state == 'retrying' then
  looked = redis.call('ZRANGE', set, start, start + limit - 1)
  for _, id in ipairs(looked) do
    local spec = redis.call('HGET', job_key(id), 'spec')
    local created = spec and tonumber(string.match(spec, '"created_at":(%d+)'))
    if created and created <= now - age then ids[#ids + 1] = id end
  end
else
  looked = redis.call('ZRANGEBYSCORE', set, '-inf', cutoff, 'LIMIT', start, limit)
  ids = archived_only(looked)
end
if #ids > 0 then
  if state == 'waiting' and meta().grouped then grouping().left_wait(ids) end
  call_sliced('ZREM', set, ids)
  delete_jobs(ids)
  emit('cleaned', '', 'state', state, 'count', #ids)
end
local next = -1
if #looked == limit then next = start + #looked - #ids end
return { #ids, next }
