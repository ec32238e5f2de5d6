-- Shared by every queue script (prepended at load time).
--
-- Each script declares the queue keys it uses on its `-- KEYS:` line; the loader
-- (backend/scripts.rs) passes exactly those, in that order, and puts in front of this
-- file the table `k` that names them (`k.wait` is the wait set...). Reading a key a
-- script did not declare ends it with HOIST_UNDECLARED_KEY, so a missing declaration
-- shows in the first test that takes that path. The queue's keys, all in one hash slot:
--   wait       ZSET  id -> priority * 2^42 + sequence (lowest runs first)
--   delayed    ZSET  id -> run-at (ms)
--   retry      ZSET  id -> next attempt at (ms): failed and waiting out backoff
--   active     ZSET  id -> lease deadline (ms), and ACTIVE_ANCHOR (below)
--   completed  ZSET  id -> finished at (ms)
--   dead       ZSET  id -> finished at (ms): the dead-letter queue
--   cancelled  ZSET  id -> finished at (ms)
--   expired    ZSET  id -> finished at (ms): not started by their deadline
--   expiring   ZSET  id -> start-by deadline (ms), for jobs enqueued with one; an entry
--                    outlives its job's start and is dropped when its time comes
--   meta       HASH  paused flag, limits, archiving, `expiring` once a job with a deadline
--                    was enqueued (until then the deadline set is not even looked at)
--   events     STREAM capped event log
--   marker     LIST  wake-up tokens idle workers block on
--   dedup      HASH  dedup key -> job id, and '#' .. id -> its dedup key
--   seq        STRING FIFO counter
--   limiter    ZSET  recent job starts, for the queue's rate limit
--   archive    ZSET  id -> finished at: finished jobs not yet copied to a history
--                    store (kept only while meta.archive is set; retention waits)
--   unindexed  LIST  "<ms> <id>", oldest first: jobs added, retried or failed (to run
--                    again) that the search index has not read since (kept only
--                    while meta.archive is set, like the archive set: the same history
--                    store indexes). A list, not a set: 40 bytes an entry instead of
--                    ~130, and the index skips jobs that ended (the copy's to record)

--   groups     ZSET  group tag -> turn: the groups of a grouped queue (below) that have
--                    waiting jobs and room under the queue's group cap, lowest turn next
--   group_active HASH group tag -> its active jobs (jobs with a group only)
--   owners     HASH  id -> owner tag, for every job enqueued with an owner (absent
--                    when the queue holds none)
-- and, one per owner, the owner index owner_key(tag) = prefix .. "owner:" .. tag
--                       ZSET  id -> enqueue sequence: the owner's jobs, newest last. The
--                             tag is the owner escaped by `key_segment` in keys.rs (which
--                             builds the same name); enqueue receives it from the client.
-- and, one per group of a grouped queue, group_key(tag) = prefix .. "group:" .. tag
--                       ZSET  id -> wait score: the group's waiting jobs (see "Fair groups").
-- and ARGV[1] = the queue's key prefix ("hoist:{name}:"), from which job keys
-- (prefix .. "job:" .. id) and per-minute statistics keys are formed. They share the
-- hash tag, so they live in the same slot even though they cannot be declared upfront.
-- ARGV[2] = events stream max length. Each script's own arguments start at ARGV[3].
--
-- Time: Redis is the one clock. `now` is Redis's TIME, read here; callers pass durations
-- (a lease, a delay), never a deadline or their own "now", so a process whose clock is off
-- cannot expire another worker's lease, trim a rate window or run a delayed job early.
-- (Redis 7 replicates a script's effects, not the script, so reading TIME is allowed.)
--
-- Input: every script checks all of its arguments (see the readers below) before its
-- first write. A script that fails half-way keeps the writes it made, so a bad value
-- found late could strand a job outside every state set.

local prefix = ARGV[1]
local maxlen_text = ARGV[2]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- The same time as text: a number passed to redis.call is formatted again on every call.
local now_text = string.format('%d', now)

-- The longest duration a script accepts (ms): 365 days, the engine's MAX_OPTION_DURATION.
local MAX_DURATION_MS = 31536000000
-- The most items one call may carry (jobs, ids, log lines): bounds the script's run.
local MAX_ITEMS = 100000

-- Ends the script with an error naming the argument, before anything was written. The
-- client maps `HOIST_BAD_ARG name` to QueueError::InvalidOption.
local function bad_arg(name, value)
  error({ err = 'HOIST_BAD_ARG ' .. name .. ' ' .. string.sub(tostring(value), 1, 40) })
end

-- ARGV[i] as a whole number in [lo, hi], else bad_arg. (`n % 1` rather than
-- math.floor: an arithmetic op, not a function call, on every call of every script.)
local function int_arg(i, name, lo, hi)
  local n = tonumber(ARGV[i])
  if not n or n < lo or n > hi or n % 1 ~= 0 then bad_arg(name, ARGV[i]) end
  return n
end

-- Whether `id` can be a job id: 26 characters of Crockford's base 32, as id.rs makes
-- them. Ids become parts of key names: "x:errors" would address a job's error list.
local function is_job_id(id)
  return #id == 26 and not string.find(id, '[^0-9A-HJKMNP-TV-Z]')
end

-- ARGV[i] as a non-empty string, else bad_arg.
local function text_arg(i, name)
  local v = ARGV[i]
  if v == nil or v == '' then bad_arg(name, v) end
  return v
end

-- Sequence numbers wrap at 2^42; priorities up to 1000 keep scores below 2^53.
local SEQ_SPAN = 4398046511104

-- The active set always holds this member, at score +inf where no lease query reaches it;
-- count active jobs with ZCOUNT -inf (+inf. Being longer than zset-max-listpack-value
-- (64), it keeps the set in skiplist encoding even when small: as a listpack every ZADD
-- and ZREM scans the whole set, which cost ~15,000 instructions per job at concurrency 50,
-- more than a tenth of all Redis work per job. Redis keeps the encoding on reload too.
local ACTIVE_ANCHOR = '~hoist: keeps this set in skiplist encoding; not a job (see common.lua)~'

local function active_count()
  return redis.call('ZCOUNT', k.active, '-inf', '(+inf')
end

-- Whole numbers as text for redis.call: Redis formats a Lua number with printf("%.17g"),
-- and tostring with "%.14g"; "%d" costs less than either.
local function text_of(n)
  return string.format('%d', n)
end

-- redis.call(command, key, values of the list `args`...), in slices of 2,000 (pairs stay
-- together): Lua's unpack fails past about 8,000 values, and a claim or a completion
-- carries two per job for up to 10,000 jobs.
local function call_sliced(command, key, args)
  for from = 1, #args, 2000 do
    redis.call(command, key, unpack(args, from, math.min(from + 1999, #args)))
  end
end

local function job_key(id)
  return prefix .. 'job:' .. id
end

-- The owner index of the owner whose tag (escaped name, see KEYS above) is `tag`.
local function owner_key(tag)
  return prefix .. 'owner:' .. tag
end

-- A job's retry policy, stored as "max_attempts:max_stalls:priority:backoff" (backoff
-- last: it holds colons itself). Returns max_attempts, max_stalls, priority, backoff.
local function job_opts(jk)
  local opts = redis.call('HGET', jk, 'opts')
  if opts then
    local attempts, stalls, priority, backoff = string.match(opts, '^(%d+):(%d+):(%d+):(.*)$')
    if attempts then return tonumber(attempts), tonumber(stalls), tonumber(priority), backoff end
  end
  -- A job written before the policy was packed into one field.
  local old = redis.call('HMGET', jk, 'max_attempts', 'max_stalls', 'priority', 'backoff')
  return tonumber(old[1]) or 1, tonumber(old[2]) or 1, tonumber(old[3]) or 0, old[4] or 'none'
end

local function emit(kind, id, ...)
  return redis.call('XADD', k.events, 'MAXLEN', '~', maxlen_text, '*', 'event', kind, 'job', id, 'at', now_text, ...)
end

-- Events of one kind for many jobs are written as one stream entry: `jobs` holds their ids
-- as a JSON list and each other field a JSON list of the jobs' values, in the same order.
-- One XADD of flat lists per batch instead of one XADD (or one JSON object) per job,
-- which was a large share of a job's cost in Redis. A batch of one keeps the flat form
-- of emit(). `events('retrying', 'attempt', 'delay_ms')` names the fields each job gives.
local function events(kind, ...)
  local columns = {}
  for i = 1, select('#', ...) do columns[i] = {} end
  return { kind = kind, names = { ... }, columns = columns, ids = {} }
end

-- The values follow the names given to events(); at most three.
local function add_event(batch, id, a, b, c)
  local n = #batch.ids + 1
  batch.ids[n] = id
  local columns = batch.columns
  -- A nil would leave a hole and shift the JSON list.
  if columns[1] then columns[1][n] = a or '' end
  if columns[2] then columns[2][n] = b or '' end
  if columns[3] then columns[3][n] = c or '' end
end

local function emit_all(batch)
  local ids, names, columns = batch.ids, batch.names, batch.columns
  if #ids == 0 then return end
  local args = {}
  if #ids == 1 then
    for i, name in ipairs(names) do
      args[#args + 1] = name
      args[#args + 1] = columns[i][1]
    end
    emit(batch.kind, ids[1], unpack(args))
  else
    for i, name in ipairs(names) do
      args[#args + 1] = name
      args[#args + 1] = cjson.encode(columns[i])
    end
    redis.call('XADD', k.events, 'MAXLEN', '~', maxlen_text, '*', 'event', batch.kind, 'at', now_text,
      'jobs', cjson.encode(ids), unpack(args))
  end
  for i = 1, #columns do columns[i] = {} end
  batch.ids = {}
end

-- A bounded number of tokens is enough to wake every idle worker in turn: each worker
-- that finds more jobs than it takes pushes a token again.
local function wake_workers()
  if redis.call('LLEN', k.marker) < 8 then
    redis.call('LPUSH', k.marker, '1')
  end
end

local function next_score(priority)
  local seq = redis.call('INCR', k.seq) % SEQ_SPAN
  return priority * SEQ_SPAN + seq
end

-- Per-minute statistics, added up in the script and written once at its end, and the
-- queue's running totals of the same fields (what Prometheus counters are read from),
-- except the run and wait time buckets (`r3`, `w0`: per minute only, to spare the hot
-- path half of their writes).
local stats_pending = {}
local function minute_stats(field, amount)
  stats_pending[field] = (stats_pending[field] or 0) + amount
end

local function flush_stats()
  if next(stats_pending) == nil then return end
  local key = prefix .. 'stats:' .. math.floor(now / 60000)
  local totals = prefix .. 'totals'
  for field, amount in pairs(stats_pending) do
    redis.call('HINCRBY', key, field, amount)
    if not string.find(field, '^[rw]%d') then redis.call('HINCRBY', totals, field, amount) end
  end
  -- Kept for 14 days, then Redis drops them by itself.
  redis.call('EXPIRE', key, '1213200')
  stats_pending = {}
end

-- The dedup hash maps each dedup key to its job, and '#' .. id back to the key, so that
-- deleting a batch of jobs finds the keys to release in one HMGET instead of one read
-- per job.
local function remember_dedup(dedup, id)
  redis.call('HSET', k.dedup, dedup, id, '#' .. id, dedup)
end

-- The queue's settings (paused flag, limits, archiving), read once per script: one
-- HMGET instead of a read per question.
local meta_cache = nil
local function meta()
  if meta_cache == nil then
    local m = redis.call('HMGET', k.meta, 'paused', 'concurrency', 'rate_max', 'rate_window', 'archive', 'expiring',
      'grouped', 'group_concurrency')
    local concurrency, rate_max, window = tonumber(m[2]), tonumber(m[3]), tonumber(m[4])
    local group_cap = tonumber(m[8])
    if group_cap and group_cap < 1 then group_cap = nil end
    -- set_limits checks these; a value outside its range (written by hand or by an older
    -- version) is ignored rather than allowed to fail a claim half-way.
    if concurrency and concurrency < 1 then concurrency = nil end
    if not (rate_max and window and rate_max >= 1 and window >= 1 and window <= MAX_DURATION_MS) then
      rate_max, window = nil, nil
    end
    meta_cache = { paused = m[1], concurrency = concurrency, rate_max = rate_max, rate_window = window,
      archive = m[5], expiring = m[6], grouped = m[7], group_concurrency = group_cap }
  end
  return meta_cache
end

-- Fair groups. A job may carry a group (a tenant, say); once a queue has had one (meta
-- `grouped`), its claim serves the groups in turn instead of the wait set's order, so a
-- group with 100,000 waiting jobs does not hold back another group's few, and the
-- queue's group cap (meta `group_concurrency`) bounds the active jobs of each group.
-- Jobs without a group form the group '' (never capped) and take their turns too.
-- Every waiting job of a grouped queue is in `wait` as before (counts and lists see no
-- difference) and also in its group's set, group key(tag) = prefix .. "group:" .. tag:
-- every script that moves a job into the wait set calls enter, one that takes a job out
-- other than by a claim calls left_wait, one that moves a job out of the active set
-- calls left_active (an entry whose job is no longer waiting anyway, left by hand, is
-- dropped when the claim meets it). Priority orders jobs within a group, not between
-- groups. Scripts that call these declare `meta groups group_active marker`.
--
-- The helpers are made the first time a script of a grouped queue needs them
-- (`if meta().grouped then grouping().enter(...) end`): every function defined at the
-- top of a script is made anew at each call, and costs Redis time even where unused.
local grouped_helpers = nil
local function grouping()
  if grouped_helpers then return grouped_helpers end
  local g = {}
  function g.key(tag)
    return prefix .. 'group:' .. tag
  end
  -- The turn after the last group's: a group given it goes to the back.
  function g.next_turn()
    local last = redis.call('ZRANGE', k.groups, '-1', '-1', 'WITHSCORES')
    if last[2] then return text_of(tonumber(last[2]) + 1) end
    return '1'
  end
  -- Whether group `tag`, with `active` jobs active (read when nil), may start one more.
  function g.has_room(tag, active)
    local cap = meta().group_concurrency
    if tag == '' or not cap then return true end
    active = active or tonumber(redis.call('HGET', k.group_active, tag) or '0')
    return active < cap
  end
  -- Puts group `tag` in the turn order, at the back, unless it is there already.
  function g.queue(tag)
    redis.call('ZADD', k.groups, 'NX', g.next_turn(), tag)
  end
  -- Waiting job `id`, just put in the wait set at `score`, joins its group's set. `tag`
  -- is its group ('' for none), or nil to read it from the job.
  function g.enter(id, score, tag)
    if tag == nil then tag = redis.call('HGET', job_key(id), 'group') or '' end
    redis.call('ZADD', g.key(tag), score, id)
    if g.has_room(tag) then g.queue(tag) end
  end
  -- Waiting jobs `ids` left the wait set other than by a claim (cancelled, removed,
  -- drained, expired): they leave their groups' sets too, so no claim steps over them.
  -- Called while their job hashes still exist.
  function g.left_wait(ids)
    for _, id in ipairs(ids) do
      redis.call('ZREM', g.key(redis.call('HGET', job_key(id), 'group') or ''), id)
    end
  end
  -- Active job `jk` left the active set (finished, failed, recovered, handed back): its
  -- group has one active job fewer, and takes turns again if the cap had held it out (a
  -- waiting worker is woken for it).
  function g.left_active(jk)
    local tag = redis.call('HGET', jk, 'group')
    if not tag then return end
    local active = redis.call('HINCRBY', k.group_active, tag, -1)
    if active <= 0 then
      redis.call('HDEL', k.group_active, tag)
      active = 0
    end
    if g.has_room(tag, active) and redis.call('EXISTS', g.key(tag)) == 1
        and not redis.call('ZSCORE', k.groups, tag) then
      g.queue(tag)
      wake_workers()
    end
  end
  -- Takes up to `count` waiting jobs out of the wait set, the groups in turn, in rounds:
  -- a round reads the groups next in turn (at most as many as jobs still wanted) and
  -- serves each its share once (the jobs still wanted over the groups in the round, at
  -- least one, within its cap), so 50 slots go one each to 50 groups, or all to the one
  -- group there is, in one batch. The groups served go to the back of the turn order in
  -- the order they were served (one ZADD a round); one that has no waiting job left or
  -- reached the group cap leaves it. Entries of jobs no longer waiting are dropped on
  -- the way, at most `count + 1000` turns per claim. Returns the ids and each one's
  -- group; the caller counts a group's active jobs as it starts them (a job whose hash
  -- is gone is never started, so never counted).
  function g.take(count)
    local ids, group_of, taken = {}, {}, {}
    local cap = meta().group_concurrency
    local steps = count + 1000
    while #ids < count and steps > 0 do
      local turns = redis.call('ZRANGE', k.groups, '0', text_of(math.min(count - #ids, 1000) - 1))
      if #turns == 0 then break end
      -- (At most 1,000 a turn: a batch is passed to one command whole.)
      local share = math.max(1, math.min(1000, math.floor((count - #ids) / #turns)))
      local served, gone = {}, {}
      for _, tag in ipairs(turns) do
        if #ids >= count or steps == 0 then break end
        steps = steps - 1
        local capped = tag ~= '' and cap
        local want = math.min(share, count - #ids)
        local active = 0
        if capped then
          active = tonumber(redis.call('HGET', k.group_active, tag) or '0') + (taken[tag] or 0)
          want = math.min(want, cap - active)
        end
        -- found: the group had an entry; got: how many of its jobs start.
        local found, got = false, 0
        local gk = g.key(tag)
        if want == 1 then
          -- Many groups (or a cap): no tables to build.
          local id = redis.call('ZRANGE', gk, '0', '0')[1]
          if id then
            found = true
            redis.call('ZREM', gk, id)
            if redis.call('ZREM', k.wait, id) == 1 then
              ids[#ids + 1] = id
              group_of[id] = tag
              got = 1
            end
          end
        elseif want > 1 then
          local batch = redis.call('ZRANGE', gk, '0', text_of(want - 1))
          if #batch > 0 then
            found = true
            redis.call('ZREMRANGEBYRANK', gk, '0', text_of(#batch - 1))
            -- Only jobs still in the wait set start.
            local scores = redis.call('ZMSCORE', k.wait, unpack(batch))
            local first = #ids + 1
            for i, id in ipairs(batch) do
              if scores[i] then
                ids[#ids + 1] = id
                group_of[id] = tag
              end
            end
            got = #ids - first + 1
            if got > 0 then redis.call('ZREM', k.wait, unpack(ids, first, #ids)) end
          end
        end
        if got > 0 then
          taken[tag] = (taken[tag] or 0) + got
          active = active + got
          if redis.call('EXISTS', gk) == 1 and not (capped and active >= cap) then
            served[#served + 1] = tag
          else
            gone[#gone + 1] = tag
          end
        elseif not found then
          gone[#gone + 1] = tag
        end
        -- (Found with none still waiting: the group keeps its turn for the next round.)
      end
      if #gone > 0 then redis.call('ZREM', k.groups, unpack(gone)) end
      if #served > 0 then
        local last = tonumber(redis.call('ZRANGE', k.groups, '-1', '-1', 'WITHSCORES')[2] or '0')
        local back = {}
        for i, tag in ipairs(served) do
          back[#back + 1] = text_of(last + i)
          back[#back + 1] = tag
        end
        redis.call('ZADD', k.groups, unpack(back))
      end
    end
    -- Out of steps with groups left: another worker goes on where this claim stopped.
    if steps == 0 and redis.call('EXISTS', k.groups) == 1 then wake_workers() end
    return ids, group_of
  end
  grouped_helpers = g
  return g
end

-- Whether a history store copies this queue's finished jobs.
local function is_archiving()
  return meta().archive ~= false
end

-- Removes from sorted set `set` the ids of ARGV[3..] (pairs of id and the score it was
-- read with) whose score is unchanged: one listed again since keeps its place. For the
-- acknowledgements of the history copy and the search index. Returns how many.
local function remove_unchanged(set, what)
  if #ARGV % 2 == 1 then bad_arg(what, #ARGV) end
  local ids = {}
  for i = 3, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
  if #ids == 0 then return 0 end
  -- In slices: unpack has a limit on how many values it passes at once.
  local done = {}
  for from = 1, #ids, 1000 do
    local to = math.min(from + 999, #ids)
    local scores = redis.call('ZMSCORE', set, unpack(ids, from, to))
    for j = from, to do
      local score = scores[j - from + 1]
      if score and tonumber(score) == tonumber(ARGV[2 + 2 * j]) then done[#done + 1] = ids[j] end
    end
  end
  for from = 1, #done, 1000 do
    redis.call('ZREM', set, unpack(done, from, math.min(from + 999, #done)))
  end
  return #done
end

-- Queues finished jobs for the history store: `finished` is { at, id, at, id, ... }.
-- Scripts that call it declare `archive`.
local function archive_finished(finished)
  if #finished > 0 and is_archiving() then
    call_sliced('ZADD', k.archive, finished)
  end
end

-- Queues live jobs for the search index to read (again): `changed` is { at, id, ... }.
-- `archiving` may be passed by a script that knows it (else read from the settings).
local function index_live(changed, archiving)
  if archiving == nil then archiving = #changed > 0 and is_archiving() end
  if #changed > 0 and archiving then
    local entries = {}
    for i = 1, #changed, 2 do entries[#entries + 1] = changed[i] .. ' ' .. changed[i + 1] end
    for from = 1, #entries, 1000 do
      redis.call('RPUSH', k.unindexed, unpack(entries, from, math.min(from + 999, #entries)))
    end
  end
end

-- Ends job `id` cancelled, once it is out of its state's set: no lease, no pending
-- request to stop. The caller emits the event (alone or in a batch).
local function mark_cancelled(id, jk)
  redis.call('HDEL', jk, 'lease', 'cancel')
  redis.call('HSET', jk, 'state', 'cancelled', 'finished_at', now_text)
  redis.call('ZADD', k.cancelled, now_text, id)
  archive_finished({ now_text, id })
end

-- Ends job `id` expired, once it is out of its state's set: it was not started by its
-- deadline and never will be. The caller emits the event.
local function mark_expired(id, jk)
  redis.call('HSET', jk, 'state', 'expired', 'finished_at', now_text)
  redis.call('ZADD', k.expired, now_text, id)
  archive_finished({ now_text, id })
end

-- Ends as expired (at most `limit`) the jobs whose start-by deadline passed while they
-- waited or were delayed, never having started; the entries of jobs that started or are
-- gone are dropped. In the usual case (no deadline due) one read. Returns how many.
local function expire_overdue(limit)
  if not meta().expiring then return 0 end
  local first = redis.call('ZRANGE', k.expiring, '0', '0', 'WITHSCORES')
  if not first[2] or tonumber(first[2]) > now then return 0 end
  local due = redis.call('ZRANGEBYSCORE', k.expiring, '-inf', now_text, 'LIMIT', 0, limit)
  redis.call('ZREM', k.expiring, unpack(due))
  local expired = events('expired')
  local n = 0
  for _, id in ipairs(due) do
    local jk = job_key(id)
    local f = redis.call('HMGET', jk, 'state', 'started_at')
    local from = (f[1] == 'waiting' and k.wait) or (f[1] == 'delayed' and k.delayed) or nil
    if from and not f[2] then
      if from == k.wait and meta().grouped then grouping().left_wait({ id }) end
      redis.call('ZREM', from, id)
      mark_expired(id, jk)
      add_event(expired, id)
      n = n + 1
    end
  end
  emit_all(expired)
  if n > 0 then
    minute_stats('expired', n)
    flush_stats()
  end
  return n
end

-- Drops the jobs ids[from..to] from their owners' indexes (one HMGET for the batch).
local function forget_owners(ids, from, to)
  local tags = redis.call('HMGET', k.owners, unpack(ids, from, to))
  local owned, by_tag = {}, {}
  for i = from, to do
    local tag = tags[i - from + 1]
    if tag then
      owned[#owned + 1] = ids[i]
      local list = by_tag[tag]
      if not list then
        list = {}
        by_tag[tag] = list
      end
      list[#list + 1] = ids[i]
    end
  end
  if #owned > 0 then
    redis.call('HDEL', k.owners, unpack(owned))
    -- An index whose last job goes is deleted by Redis itself.
    for tag, list in pairs(by_tag) do redis.call('ZREM', owner_key(tag), unpack(list)) end
  end
end

-- Deletes the jobs `ids`: their keys, dedup entries and owner index entries. Every
-- deletion of a job goes through here (remove, clean, drain, retention, obliterate).
local function delete_jobs(ids)
  if #ids == 0 then return end
  -- Most queues use no dedup keys and no owners: then skip building and reading an index
  -- per job. One EXISTS answers for both when neither (or both) is in use.
  local present = redis.call('EXISTS', k.dedup, k.owners)
  local has_dedup = present == 2 or (present == 1 and redis.call('EXISTS', k.dedup) == 1)
  local has_owners = present == 2 or (present == 1 and not has_dedup)
  local archiving = is_archiving()
  for from = 1, #ids, 1000 do
    local to = math.min(from + 999, #ids)
    if has_owners then forget_owners(ids, from, to) end
    if has_dedup then
      local index = {}
      for i = from, to do index[#index + 1] = '#' .. ids[i] end
      local dedups = redis.call('HMGET', k.dedup, unpack(index))
      local stale = {}
      for i = from, to do
        local dedup = dedups[i - from + 1]
        if dedup then
          stale[#stale + 1] = index[i - from + 1]
          if redis.call('HGET', k.dedup, dedup) == ids[i] then stale[#stale + 1] = dedup end
        end
      end
      if #stale > 0 then redis.call('HDEL', k.dedup, unpack(stale)) end
    end
    local keys = {}
    for i = from, to do
      local jk = job_key(ids[i])
      keys[#keys + 1] = jk; keys[#keys + 1] = jk .. ':errors'; keys[#keys + 1] = jk .. ':logs'
    end
    redis.call('DEL', unpack(keys))
    -- Switching archiving off deletes the archive set, so there is nothing to remove then.
    if archiving then redis.call('ZREM', k.archive, unpack(ids, from, to)) end
  end
end

local function delete_job(id)
  delete_jobs({ id })
end

-- The key of each state's set, by state name (nil for a name that is not a state).
local STATE_KEY_NAMES = {
  waiting = 'wait', delayed = 'delayed', retrying = 'retry', active = 'active',
  completed = 'completed', dead = 'dead', cancelled = 'cancelled', expired = 'expired',
}
local function state_set(state)
  local name = STATE_KEY_NAMES[state]
  return name and k[name]
end

-- Drops from `ids` the jobs still waiting to be copied to the history store.
local function archived_only(ids)
  if #ids == 0 or not is_archiving() then return ids end
  local out = {}
  for from = 1, #ids, 1000 do
    local to = math.min(from + 999, #ids)
    local pending = redis.call('ZMSCORE', k.archive, unpack(ids, from, to))
    for i = from, to do
      if not pending[i - from + 1] then out[#out + 1] = ids[i] end
    end
  end
  return out
end

-- For retention: the leading jobs of `ids` (oldest first) already copied to the history
-- store, up to the first one still waiting to be copied. Jobs are copied in the order
-- they finished, so the ones after it are most likely waiting too; while the copy is
-- behind, the oldest candidate is waiting and one lookup settles it (checking every
-- candidate on every completion cost more than the rest of the history's work in
-- Redis). A job copied out of order waits for the one before it, which the copy takes
-- a moment later.
local function archived_prefix(ids)
  if #ids == 0 or not is_archiving() then return ids end
  if redis.call('ZSCORE', k.archive, ids[1]) then return {} end
  local pending = redis.call('ZMSCORE', k.archive, unpack(ids))
  local out = {}
  for i, id in ipairs(ids) do
    if pending[i] then break end
    out[#out + 1] = id
  end
  return out
end

-- Keeps at most `keep` jobs and none older than `max_age` ms in a finished set,
-- removing at most `limit` per call so no script runs long. Jobs the history store has
-- not copied yet stay until it has.
local function apply_retention(set, keep, max_age, limit)
  local removed = 0
  if max_age and max_age > 0 then
    local old = archived_prefix(redis.call('ZRANGEBYSCORE', set, '-inf', string.format('%d', now - max_age), 'LIMIT', '0', text_of(limit)))
    if #old > 0 then
      delete_jobs(old)
      redis.call('ZREM', set, unpack(old))
      removed = #old
    end
  end
  if keep and keep >= 0 then
    local excess = redis.call('ZCARD', set) - keep
    if excess > limit - removed then excess = limit - removed end
    if excess > 0 then
      local oldest = archived_prefix(redis.call('ZRANGE', set, '0', text_of(excess - 1)))
      if #oldest > 0 then
        delete_jobs(oldest)
        redis.call('ZREM', set, unpack(oldest))
      end
    end
  end
end

-- 1 when `lease` still holds active job `id`, else -1 (no such job) or -2 (lease lost:
-- recovered, or claimed again under a new lease).
local function check_lease(id, lease)
  local current = redis.call('HGET', job_key(id), 'lease')
  if not current then return -1 end
  if current ~= lease or not redis.call('ZSCORE', k.active, id) then return -2 end
  return 1
end

-- Sliding-window limit on a key of this queue (e.g. "owner:42"): how many of `max` slots
-- in the last `window` ms are used, and when the oldest frees up.
local function key_window(key, window)
  local zkey = prefix .. 'rate:' .. key
  redis.call('ZREMRANGEBYSCORE', zkey, '-inf', now - window)
  local used = redis.call('ZCARD', zkey)
  local frees_at = now
  if used > 0 then
    local oldest = redis.call('ZRANGE', zkey, 0, 0, 'WITHSCORES')
    frees_at = tonumber(oldest[2]) + window
  end
  return zkey, used, frees_at
end

local function take_key_slot(zkey, member, window)
  redis.call('ZADD', zkey, now, member)
  redis.call('PEXPIRE', zkey, window)
end
