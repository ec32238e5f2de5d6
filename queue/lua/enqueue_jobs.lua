-- enqueue_jobs: new jobs -> waiting or delayed (one call for a whole batch).
-- KEYS: wait delayed events marker dedup seq owners meta unindexed expiring groups group_active
-- ARGV[3] number of jobs (1..MAX_ITEMS), then 11 fields per job:
--   id (a job id: 26 characters of Crockford base 32),
--   spec (JSON the engine's client reads, without its opening brace and creation time,
--   which this script adds from Redis's clock: `"name":..,"payload":..}`),
--   opts (the retry policy scripts read, see job_opts), priority (0..1000), or
--   `priority;group` for a job of a group (see "Fair groups" in common.lua; the group's
--   key segment, escaped as owner tags are, at most 600 bytes),
--   delay (ms, 0..MAX_DURATION_MS; 0 = waiting at once), or `delay;within` for a job that
--   must start within `within` ms of now (1..MAX_DURATION_MS and longer than the delay;
--   not started by then, the job ends expired): a deadline rides in this field, so jobs
--   without one pay nothing for it,
--   dedup key (led by byte 1 when it holds only while its job is unfinished, else while
--   the job exists), name, owner (for the event and the owner's index: "owner" when its
--   index key segment is the owner itself, else "owner" NUL "segment"), rate-limit key
--   ("" for none), its max per window (1..1,000,000), its window (ms, 1..MAX_DURATION_MS)
-- Every field a job adds costs Redis time per job: optional facts ride in fields that are
-- there anyway, and cost only when used.
-- Returns per job 0 when it was added, or the id of the existing job holding its dedup key, or
-- { -5, retry_after_ms } when a rate-limit key is full: then no job of the batch is added.
local n = int_arg(3, 'jobs', 1, MAX_ITEMS)
local FIELDS = 11
local FINISHED = { completed = true, dead = true, cancelled = true, expired = true }
if #ARGV ~= 3 + n * FIELDS then bad_arg('jobs', #ARGV) end

-- First pass, before any write: every field is checked. Inline rather than through
-- int_arg and text_arg: a Lua function call per field was a tenth of a bulk enqueue.
local delays, withins, groups, priorities = {}, {}, {}, {}
for i = 0, n - 1 do
  local b = 4 + i * FIELDS
  -- The client makes ids (ULIDs, checked there); here only what keeps a job's keys its
  -- own: 26 bytes without ':' cannot address another job's or the queue's keys.
  local id = ARGV[b]
  if #id ~= 26 or string.find(id, ':', 1, true) then bad_arg('id', id) end
  if ARGV[b + 1] == '' then bad_arg('spec', '') end
  if ARGV[b + 2] == '' then bad_arg('opts', '') end
  local priority = tonumber(ARGV[b + 3])
  if not priority then
    local p, group = string.match(ARGV[b + 3], '^(%d+);(.+)$')
    -- The segment's own alphabet (keys.rs, key_segment): nothing that could leave its key.
    if not group or #group > 600 or string.find(group, '[^%w%-_%.:@%%]') then bad_arg('group', ARGV[b + 3]) end
    priority = tonumber(p)
    groups[i] = group
  end
  if not priority or priority < 0 or priority > 1000 or priority % 1 ~= 0 then bad_arg('priority', ARGV[b + 3]) end
  priorities[i] = priority
  local delay = tonumber(ARGV[b + 4])
  if not delay then
    local d, w = string.match(ARGV[b + 4], '^(%d+);(%d+)$')
    delay = tonumber(d)
    local within = tonumber(w)
    if not within or within < 1 or within > MAX_DURATION_MS or (delay and within <= delay) then
      bad_arg('expires_in', ARGV[b + 4])
    end
    withins[i] = within
  end
  if not delay or delay < 0 or delay > MAX_DURATION_MS or delay % 1 ~= 0 then bad_arg('delay', ARGV[b + 4]) end
  delays[i] = delay
  -- '#' .. id names a job's reverse entry in the dedup hash: no key may look like one.
  local dedup = ARGV[b + 5]
  if dedup ~= '' then
    local lead = string.byte(dedup, 1)
    if lead == 1 then lead = string.byte(dedup, 2) end
    if #dedup > 513 or lead == 35 then bad_arg('dedup_key', dedup) end
  end
  local name = ARGV[b + 6]
  if name == '' or #name > 200 then bad_arg('name', name) end
  if #ARGV[b + 7] > 1000 then bad_arg('owner', #ARGV[b + 7]) end
  if ARGV[b + 8] ~= '' then
    if #ARGV[b + 8] > 200 then bad_arg('rate_limit.key', #ARGV[b + 8]) end
    int_arg(b + 9, 'rate_limit.max', 1, 1000000)
    int_arg(b + 10, 'rate_limit.per', 1, MAX_DURATION_MS)
  end
end

-- Every keyed limit must have room for all of this batch's jobs.
local wanted = {}
for i = 0, n - 1 do
  local b = 4 + i * FIELDS
  local key = ARGV[b + 8]
  if key ~= '' then
    local entry = wanted[key]
    if not entry then
      local window = tonumber(ARGV[b + 10])
      local zkey, used, frees_at = key_window(key, window)
      entry = { zkey = zkey, used = used, frees_at = frees_at, max = tonumber(ARGV[b + 9]), window = window }
      wanted[key] = entry
    end
    entry.used = entry.used + 1
    if entry.used > entry.max then
      local retry_after = entry.frees_at - now
      if retry_after < 1 then retry_after = 1 end
      return { -5, retry_after }
    end
  end
end

-- One read of the settings for the batch: whether the queue is grouped, and archived.
local settings = redis.call('HMGET', k.meta, 'grouped', 'archive')
local grouped = settings[1]
if not grouped and next(groups) ~= nil then
  -- The queue's first job with a group: from now on every waiting job is also in its
  -- group's set, those already waiting in the set of the jobs without a group.
  redis.call('HSET', k.meta, 'grouped', '1')
  grouped = '1'
  if redis.call('ZUNIONSTORE', grouping().key(''), 1, k.wait) > 0 then grouping().queue('') end
end
-- The waiting jobs by group: { tag = { score, id, ... } }.
local waiting_by_group = {}
local out = {}
local woke = false
local added = events('added', 'name', 'owner', 'state')
-- One INCRBY and one ZADD per set for the whole batch instead of one per job.
local seq = redis.call('INCRBY', k.seq, n) - n
local waiting, delayed, expiring = {}, {}, {}
-- Owned jobs: { id, tag, ... } for the owners hash and, per tag, { seq, id, ... }.
local owned, by_owner = {}, {}
-- { now, id, ... } of the jobs added, for the search index.
local added_ids = {}
for i = 0, n - 1 do
  local b = 4 + i * FIELDS
  local id, spec, opts = ARGV[b], '{"created_at":' .. now_text .. ',' .. ARGV[b + 1], ARGV[b + 2]
  local priority, delay, dedup = priorities[i], delays[i], ARGV[b + 5]
  local until_finished = false
  if dedup ~= '' and string.byte(dedup) == 1 then
    dedup = string.sub(dedup, 2)
    until_finished = true
  end
  local existing = false
  if dedup ~= '' then
    local other = redis.call('HGET', k.dedup, dedup)
    if other then
      -- The holder's state only when the key is held: no read for a new key. A finished
      -- holder of a key scoped to unfinished jobs hands it to this job.
      local held = redis.call('HGET', job_key(other), 'state')
      if held and not (FINISHED[held] and until_finished) then
        out[#out + 1] = other
        existing = true
      end
    end
  end
  if not existing then
    if dedup ~= '' then
      remember_dedup(dedup, id)
    end
    local score = priority * SEQ_SPAN + (seq + i + 1) % SEQ_SPAN
    local state = 'waiting'
    -- Few fields, and the ones only the client reads packed in one: every field costs
    -- Redis time on each write and each claim. Absent attempts/stalls/run_at mean 0/0/
    -- created_at.
    if delay > 0 then
      local run_at = text_of(now + delay)
      state = 'delayed'
      redis.call('HSET', job_key(id), 'spec', spec, 'opts', opts, 'score', score, 'state', state, 'run_at', run_at)
      delayed[#delayed + 1] = run_at
      delayed[#delayed + 1] = id
    else
      redis.call('HSET', job_key(id), 'spec', spec, 'opts', opts, 'score', score, 'state', state)
      waiting[#waiting + 1] = score
      waiting[#waiting + 1] = id
      if grouped then
        local tag = groups[i] or ''
        local list = waiting_by_group[tag]
        if not list then
          list = {}
          waiting_by_group[tag] = list
        end
        list[#list + 1] = score
        list[#list + 1] = id
      end
    end
    if groups[i] then redis.call('HSET', job_key(id), 'group', groups[i]) end
    local owner = ARGV[b + 7]
    if owner ~= '' then
      local tag = owner
      local cut = string.find(owner, '\0', 1, true)
      if cut then
        tag = string.sub(owner, cut + 1)
        owner = string.sub(owner, 1, cut - 1)
      end
      owned[#owned + 1] = id
      owned[#owned + 1] = tag
      local list = by_owner[tag]
      if not list then
        list = {}
        by_owner[tag] = list
      end
      -- Scored by the enqueue sequence: creation order, even within one millisecond.
      list[#list + 1] = text_of(seq + i + 1)
      list[#list + 1] = id
    end
    local within = withins[i]
    if within then
      local expires_at = text_of(now + within)
      redis.call('HSET', job_key(id), 'expires_at', expires_at)
      expiring[#expiring + 1] = expires_at
      expiring[#expiring + 1] = id
    end
    local rate_key = ARGV[b + 8]
    if rate_key ~= '' then
      take_key_slot(wanted[rate_key].zkey, id, wanted[rate_key].window)
    end
    add_event(added, id, ARGV[b + 6], owner, state)
    added_ids[#added_ids + 1] = now_text
    added_ids[#added_ids + 1] = id
    out[#out + 1] = 0
    -- A delayed job also wakes a worker, so it can shorten its wait to the new due time.
    if not woke then
      wake_workers()
      woke = true
    end
  end
end
-- The claim looks at the deadlines only once a queue has had one.
if #expiring > 0 then redis.call('HSET', k.meta, 'expiring', '1') end
for _, batch in ipairs({ { k.wait, waiting }, { k.delayed, delayed }, { k.expiring, expiring } }) do
  call_sliced('ZADD', batch[1], batch[2])
end
for tag, list in pairs(waiting_by_group) do
  local g = grouping()
  call_sliced('ZADD', g.key(tag), list)
  if g.has_room(tag) then g.queue(tag) end
end
call_sliced('HSET', k.owners, owned)
for tag, list in pairs(by_owner) do
  call_sliced('ZADD', owner_key(tag), list)
end
index_live(added_ids, #added_ids > 0 and settings[2] ~= false)
emit_all(added)
return out
