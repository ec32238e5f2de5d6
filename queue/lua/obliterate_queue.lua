-- obliterate_queue: delete a queue's jobs and keys in batches. Refuses while jobs are active
-- unless ARGV[4] = "force".
-- KEYS: wait delayed retry active completed dead cancelled meta events marker dedup seq limiter archive owners unindexed expired expiring groups group_active
-- ARGV[3] batch size (1..10,000). Returns the number of jobs deleted in this call (0 = all gone),
-- or -4 when active jobs block it.
local batch = int_arg(3, 'batch', 1, 10000)
if ARGV[4] ~= 'force' and active_count() > 0 then return -4 end
local deleted = 0
for _, set in ipairs({ k.wait, k.delayed, k.retry, k.active, k.completed, k.dead, k.cancelled, k.expired }) do
  if deleted < batch then
    local ids = redis.call('ZRANGE', set, 0, batch - deleted - 1)
    if #ids > 0 then
      call_sliced('ZREM', set, ids)
      delete_jobs(ids)
      deleted = deleted + #ids
    end
  end
end
if deleted == 0 then
  -- Deleting the jobs emptied their owner indexes; drop any left by an entry without a job.
  if redis.call('EXISTS', k.owners) == 1 then
    local seen = {}
    for _, tag in ipairs(redis.call('HVALS', k.owners)) do
      if not seen[tag] then
        seen[tag] = true
        redis.call('DEL', owner_key(tag))
      end
    end
  end
  -- A group's waiting set is in the turn order, or held out of it by the cap (and then
  -- its group has active jobs); the claim empties the others. Jobs without a group: ''.
  local groups = { [''] = true }
  for _, tag in ipairs(redis.call('ZRANGE', k.groups, 0, -1)) do groups[tag] = true end
  for _, tag in ipairs(redis.call('HKEYS', k.group_active)) do groups[tag] = true end
  for tag in pairs(groups) do redis.call('DEL', grouping().key(tag)) end
  redis.call('DEL', k.groups, k.group_active)
  redis.call('DEL', k.meta, k.events, k.marker, k.dedup, k.seq, k.limiter, k.archive, k.owners, k.unindexed, k.expiring)
  -- The running totals go with the queue (a queue made again counts from zero); the
  -- per-minute statistics expire by themselves.
  redis.call('DEL', prefix .. 'totals')
end
return deleted
