-- remove_jobs: delete jobs in any state but active (an active job is cancelled instead), or
-- only those in one state (purging the dead-letter queue must not delete a job that was
-- requeued since it was selected).
-- KEYS: wait delayed retry active completed dead cancelled expired meta events dedup archive owners
-- ARGV[3] the state the jobs must be in ("" = any but active), ARGV[4..] ids.
-- Returns { removed count, ids refused because active }.
local only = ARGV[3]
if only ~= '' and (not state_set(only) or only == 'active') then bad_arg('state', only) end
local removed, refused = 0, {}
local gone = events('removed')
for i = 4, #ARGV do
  local id = ARGV[i]
  local state = is_job_id(id) and redis.call('HGET', job_key(id), 'state')
  if state == 'active' then
    if only == '' then refused[#refused + 1] = id end
  elseif state and (only == '' or state == only) then
    if state == 'waiting' and meta().grouped then grouping().left_wait({ id }) end
    redis.call('ZREM', state_set(state), id)
    delete_job(id)
    add_event(gone, id)
    removed = removed + 1
  end
end
emit_all(gone)
return { removed, refused }
