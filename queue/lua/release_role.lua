-- release_role: the process ARGV[1] gives up the role in KEYS[1] if it holds it. Not a
-- queue script.
-- KEYS[1] the role's holder STRING. Returns 1 when it was released, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
