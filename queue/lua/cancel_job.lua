-- cancel_job: waiting / delayed / retrying -> cancelled at once; an active job is flagged
-- and its worker told on the `cancel` channel, so the handler's token fires.
-- KEYS: wait delayed retry active completed dead cancelled expired meta events archive
-- ARGV[3] id, ARGV[4] channel for cancel signals.
-- Returns 1 cancelled, 2 cancellation requested (active), -1 no such job, -3 already finished.
local id = ARGV[3]
local channel = text_arg(4, 'channel')
if not is_job_id(id) then return -1 end
local jk = job_key(id)
local state = redis.call('HGET', jk, 'state')
if not state then return -1 end
if state == 'active' then
  redis.call('HSET', jk, 'cancel', now_text)
  redis.call('PUBLISH', channel, id)
  emit('cancelling', id)
  return 2
end
if state == 'completed' or state == 'dead' or state == 'cancelled' or state == 'expired' then return -3 end
if state == 'waiting' and meta().grouped then grouping().left_wait({ id }) end
redis.call('ZREM', state_set(state), id)
mark_cancelled(id, jk)
emit('cancelled', id)
return 1
