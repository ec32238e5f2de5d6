-- finish_cancelled_job: active -> cancelled, once the handler of a job whose cancellation
-- was requested has stopped.
-- KEYS: active cancelled meta events archive groups group_active marker
-- ARGV[3] id, ARGV[4] lease token.
-- Returns 1, -1 no such job, -2 lease lost.
local id, lease = ARGV[3], ARGV[4]
local jk = job_key(id)
local owned = check_lease(id, lease)
if owned ~= 1 then return owned end
redis.call('ZREM', k.active, id)
if meta().grouped then grouping().left_active(jk) end
mark_cancelled(id, jk)
emit('cancelled', id)
return 1
