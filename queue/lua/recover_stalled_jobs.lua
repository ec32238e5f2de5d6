-- recover_stalled_jobs: active jobs whose lease lapsed (worker crashed or hung) -> waiting,
-- or -> dead once they stalled more than their max_stalls, or -> cancelled when their
-- cancellation had been asked for. Reads only expired leases. Also ends as expired the
-- jobs not started by their deadline.
-- KEYS: wait delayed active dead cancelled meta events marker archive unindexed expired expiring groups group_active
-- ARGV[3] max jobs per call (1..10,000).
-- Returns { recovered count, dead count }.
local expired = redis.call('ZRANGEBYSCORE', k.active, '-inf', now_text, 'LIMIT', 0, int_arg(3, 'limit', 1, 10000))
local recovered, died = 0, 0
local stalled, dead, cancelled = events('stalled', 'stalls'), events('dead', 'attempt'), events('cancelled')
local finished = {}
-- Requeued jobs now carry a stall error: the search index reads them again.
local requeued = {}
for _, id in ipairs(expired) do
  redis.call('ZREM', k.active, id)
  local jk = job_key(id)
  if meta().grouped then grouping().left_active(jk) end
  local cancel = redis.call('HGET', jk, 'cancel')
  if cancel and cancel ~= '' then
    -- Asked to stop, and stopped: nobody runs it now, so it ends here.
    mark_cancelled(id, jk)
    add_event(cancelled, id)
  elseif redis.call('EXISTS', jk) == 1 then
    local stalls = redis.call('HINCRBY', jk, 'stalls', 1)
    local _, max_stalls = job_opts(jk)
    local attempt = redis.call('HGET', jk, 'attempts')
    redis.call('HDEL', jk, 'lease')
    local record = cjson.encode({ attempt = tonumber(attempt), at = now, kind = 'stalled',
      message = 'lease expired: the worker running this job stopped renewing it' })
    redis.call('RPUSH', jk .. ':errors', record)
    redis.call('LTRIM', jk .. ':errors', -100, -1)
    redis.call('HSET', jk, 'error', record)
    add_event(stalled, id, stalls)
    minute_stats('stalled', 1)
    if stalls > max_stalls then
      redis.call('HSET', jk, 'state', 'dead', 'finished_at', now_text)
      redis.call('ZADD', k.dead, now_text, id)
      finished[#finished + 1] = now_text; finished[#finished + 1] = id
      add_event(dead, id, attempt)
      minute_stats('dead', 1)
      died = died + 1
    else
      redis.call('HSET', jk, 'state', 'waiting', 'run_at', now_text)
      local score = redis.call('HGET', jk, 'score')
      redis.call('ZADD', k.wait, score, id)
      if meta().grouped then grouping().enter(id, score) end
      wake_workers()
      requeued[#requeued + 1] = now_text
      requeued[#requeued + 1] = id
      recovered = recovered + 1
    end
  end
end
emit_all(stalled)
emit_all(dead)
emit_all(cancelled)
archive_finished(finished)
index_live(requeued)
flush_stats()
-- Jobs past their start-by deadline expire here too, so they are counted as expired even
-- while no worker claims (a paused queue, a full one).
expire_overdue(1000)
return { recovered, died }
