-- take_rate_slot: take one slot of a sliding-window limit on a key of this queue (e.g. "at
-- most 10 emails per owner per hour"), for a handler that defers its job when full.
-- KEYS: meta (unused: names the queue's hash slot, where the rate keys live)
-- ARGV[3] key, ARGV[4] max per window (1..1,000,000), ARGV[5] window (ms,
-- 1..MAX_DURATION_MS), ARGV[6] member (job id).
-- Returns { 1, 0 } when taken, or { -5, retry_after_ms } when full.
local key = text_arg(3, 'key')
local max = int_arg(4, 'max', 1, 1000000)
local window = int_arg(5, 'per', 1, MAX_DURATION_MS)
local member = text_arg(6, 'member')
local zkey, used, frees_at = key_window(key, window)
if used >= max then
  local retry_after = frees_at - now
  if retry_after < 1 then retry_after = 1 end
  return { -5, retry_after }
end
take_key_slot(zkey, member, window)
return { 1, 0 }
