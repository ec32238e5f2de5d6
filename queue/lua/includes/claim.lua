-- Claiming jobs: shared by claim_jobs.lua and complete_jobs.lua (which claims the next jobs in the
-- same round trip).

-- Moves jobs whose time has come from delayed and retry to wait (at most `limit` per
-- set), and returns the earliest time a job still in either becomes due, or -1. In the
-- usual case (nothing due) that is one read per set.
local function promote_due(limit)
  local waiting = events('waiting')
  local best = -1
  for _, set in ipairs({ k.delayed, k.retry }) do
    local first = redis.call('ZRANGE', set, '0', '0', 'WITHSCORES')
    if first[2] and tonumber(first[2]) <= now then
      local due = redis.call('ZRANGEBYSCORE', set, '-inf', now, 'LIMIT', 0, limit)
      redis.call('ZREM', set, unpack(due))
      for _, id in ipairs(due) do
        local jk = job_key(id)
        local score = redis.call('HGET', jk, 'score')
        if score then
          redis.call('ZADD', k.wait, score, id)
          if meta().grouped then grouping().enter(id, score) end
          redis.call('HSET', jk, 'state', 'waiting')
          add_event(waiting, id)
        end
      end
      first = redis.call('ZRANGE', set, '0', '0', 'WITHSCORES')
    end
    if first[2] then
      local at = tonumber(first[2])
      if best < 0 or at < best then best = at end
    end
  end
  emit_all(waiting)
  return best
end

-- How many of `count` jobs the queue's limits let start now, and (when a rate limit
-- stops it) the time a start is allowed again, else -1. Limits live in meta, so every
-- worker process obeys the same ones: `concurrency` caps active jobs across all workers,
-- `rate_max` starts per `rate_window` ms.
local function room_under_limits(count)
  local m = meta()
  if m.paused then return 0, -1 end
  if m.concurrency then
    local room = m.concurrency - active_count()
    if room < count then count = math.max(room, 0) end
  end
  local rate_max, window = m.rate_max, m.rate_window
  if rate_max and window and count > 0 then
    redis.call('ZREMRANGEBYSCORE', k.limiter, '-inf', now - window)
    local room = rate_max - redis.call('ZCARD', k.limiter)
    if room <= 0 then
      local oldest = redis.call('ZRANGE', k.limiter, 0, 0, 'WITHSCORES')
      return 0, tonumber(oldest[2]) + window
    end
    if room < count then count = room end
  end
  return count, -1
end

-- Returns { due_in, now, job1, job2, ... } for up to `count` jobs (each positional, see
-- below), each now active under a lease `token:attempt` that expires `lease_ms` from now
-- by Redis's clock. due_in is how long (ms) the worker may wait before looking again
-- without being woken (a delayed job or the rate limit), or -1; now is Redis's time, the
-- jobs' start.
-- The next attempt number for the usual small ones: tonumber and tostring cost more than
-- the rest of a job's claim.
local NEXT_COUNT = { ['0'] = '1', ['1'] = '2', ['2'] = '3', ['3'] = '4', ['4'] = '5', ['5'] = '6', ['6'] = '7',
  ['7'] = '8', ['8'] = '9', ['9'] = '10' }

local function claim_jobs(count, lease_ms, token)
  local deadline = text_of(now + lease_ms)
  -- Before promotion: a delayed job past its start-by deadline expires, never runs.
  expire_overdue(1000)
  local due = promote_due(1000)
  local out = { 0, now }
  local limited_until = -1
  if count > 0 then
    count, limited_until = room_under_limits(count)
  end
  if count > 0 then
    -- ZRANGE and ZREMRANGEBYRANK rather than ZPOPMIN, whose reply formats every score
    -- with printf; counts go as text for the same reason.
    local ids, group_of
    if meta().grouped then
      ids, group_of = grouping().take(count)
    else
      local last = text_of(count - 1)
      ids = redis.call('ZRANGE', k.wait, '0', last)
      if #ids > 0 then redis.call('ZREMRANGEBYRANK', k.wait, '0', last) end
    end
    local leases = {}
    local started = events('active', 'attempt')
    for _, id in ipairs(ids) do
      local jk = job_key(id)
      -- Only what the worker needs, not HGETALL: moving fields between Redis, Lua and
      -- the client is most of a claim's cost.
      local f = redis.call('HMGET', jk, 'spec', 'opts', 'run_at', 'started_at')
      if f[1] then
        -- A job that never ran has no attempts, stalls, error or progress yet: read them
        -- only for one that did (each field read costs ~1,200 instructions, even absent).
        local previous, stalls, error, progress = '0', false, false, false
        if f[4] then
          local more = redis.call('HMGET', jk, 'attempts', 'stalls', 'error', 'progress')
          previous, stalls, error, progress = more[1] or '0', more[2], more[3], more[4]
        end
        local attempt = NEXT_COUNT[previous] or tostring(tonumber(previous) + 1)
        local lease = token .. ':' .. attempt
        redis.call('HSET', jk, 'attempts', attempt, 'state', 'active', 'started_at', now_text, 'lease', lease, 'worker', token)
        local group = group_of and group_of[id]
        if group and group ~= '' then redis.call('HINCRBY', k.group_active, group, 1) end
        leases[#leases + 1] = deadline
        leases[#leases + 1] = id
        add_event(started, id, attempt)
        -- Positional: id, spec, opts, attempt, stalls, run_at, error, progress, lease.
        out[#out + 1] = { id, f[1], f[2], attempt, stalls, f[3], error, progress, lease }
      elseif redis.call('EXISTS', jk) == 1 then
        -- Written by a version of Hoist before job specs: never run it with a guessed
        -- payload; park it in the dead-letter queue where an operator sees it.
        local record = cjson.encode({ attempt = 0, at = now, kind = 'permanent',
          message = 'job stored in an older format; enqueue it again' })
        redis.call('HSET', jk, 'state', 'dead', 'finished_at', now_text, 'error', record)
        redis.call('ZADD', k.dead, now_text, id)
      end
    end
    emit_all(started)
    if #leases > 0 then
      if meta().rate_window then
        local starts = {}
        for i = 2, #leases, 2 do
          starts[#starts + 1] = now_text
          starts[#starts + 1] = leases[i] .. ':' .. now_text
        end
        call_sliced('ZADD', k.limiter, starts)
        redis.call('PEXPIRE', k.limiter, meta().rate_window)
      end
      leases[#leases + 1] = '+inf'
      leases[#leases + 1] = ACTIVE_ANCHOR
      call_sliced('ZADD', k.active, leases)
    end
    -- A full batch may have left more: wake another worker for them.
    if #ids == count and redis.call('ZCARD', k.wait) > 0 then
      wake_workers()
    end
  end
  if limited_until >= 0 and (due < 0 or limited_until < due) then due = limited_until end
  if due >= 0 then
    due = due - now
    if due < 0 then due = 0 end
  end
  out[1] = due
  return out
end
