-- remove: delete jobs in any state but active (an active job is cancelled instead).
-- ARGV[4..] ids.
-- Returns { removed count, ids refused because active }.
local removed, refused = 0, {}
local gone = events('removed')
for i = 4, #ARGV do
  local id = ARGV[i]
  local jk = job_key(id)
  local state = redis.call('HGET', jk, 'state')
  if state == 'active' then
    refused[#refused + 1] = id
  elseif state then
    redis.call('ZREM', STATE_SETS[state], id)
    delete_job(id)
    add_event(gone, id)
    removed = removed + 1
  end
end
emit_all(gone)
return { removed, refused }
