-- retry_jobs: dead, cancelled or expired (or, with ARGV[3] = "retrying", waiting-out-backoff) jobs ->
-- waiting with a fresh set of attempts. Requeueing from the dead-letter queue is this.
-- KEYS: wait retry dead cancelled expired events marker seq meta unindexed groups group_active
-- ARGV[3] source state, ARGV[4] "ids", "all" or "edited", ARGV[5] limit for "all"
-- (1..10,000), then ids; for "edited" one id and the job's new payload (JSON the client
-- checked), which replaces the old one in its spec as it moves.
-- Returns the number of jobs moved; for "edited" 1, 0 (not in the source state), or -1
-- (a job stored before specs held its payload: nothing to edit).
local from = ARGV[3]
if from ~= 'dead' and from ~= 'cancelled' and from ~= 'expired' and from ~= 'retrying' then
  return redis.error_reply('HOIST_BAD_STATE cannot retry from ' .. from)
end
local set = state_set(from)
local ids
-- For "edited": the job's spec with the new payload in place of the old.
local edited_spec
if ARGV[4] == 'all' then
  ids = redis.call('ZRANGE', set, 0, int_arg(5, 'limit', 1, 10000) - 1)
elseif ARGV[4] == 'edited' then
  if not is_job_id(ARGV[6]) or ARGV[7] == nil or ARGV[7] == '' then bad_arg('edited', '') end
  -- Checked before anything is written: a job gone (0), or one stored before specs held
  -- the payload (-1; the claim moves those to dead), is left as it is.
  local spec = redis.call('HGET', job_key(ARGV[6]), 'spec')
  if not spec then return -redis.call('EXISTS', job_key(ARGV[6])) end
  -- The payload is the spec's last field, and the first `,"payload":` is its key: the
  -- fields before it are numbers and JSON strings, whose quotes inside are escaped.
  local at = string.find(spec, ',"payload":', 1, true)
  if not at then return -1 end
  ids, edited_spec = { ARGV[6] }, string.sub(spec, 1, at + 10) .. ARGV[7] .. '}'
elseif ARGV[4] ~= 'ids' then
  bad_arg('mode', ARGV[4])
else
  ids = {}
  for i = 6, #ARGV do
    if is_job_id(ARGV[i]) then ids[#ids + 1] = ARGV[i] end
  end
end
local moved = 0
local waiting = events('waiting', 'retried_from')
local retried = {}
for _, id in ipairs(ids) do
  if redis.call('ZREM', set, id) == 1 then
    local jk = job_key(id)
    if edited_spec then redis.call('HSET', jk, 'spec', edited_spec) end
    local _, _, priority = job_opts(jk)
    local score = next_score(priority)
    redis.call('HSET', jk, 'state', 'waiting', 'attempts', 0, 'stalls', 0, 'score', score, 'run_at', now_text)
    redis.call('HDEL', jk, 'finished_at', 'cancel')
    redis.call('ZADD', k.wait, score, id)
    if meta().grouped then grouping().enter(id, score) end
    add_event(waiting, id, from)
    retried[#retried + 1] = now_text
    retried[#retried + 1] = id
    moved = moved + 1
  end
end
index_live(retried)
emit_all(waiting)
if moved > 0 then wake_workers() end
return moved
