-- take_slot: take one slot of a sliding-window limit on a key of this queue (e.g. "at
-- most 10 emails per owner per hour"), for a handler that defers its job when full.
-- ARGV[4] key, ARGV[5] max per window, ARGV[6] window (ms), ARGV[7] member (job id).
-- Returns { 1, 0 } when taken, or { -5, retry_after_ms } when full.
local zkey, used, frees_at = key_window(ARGV[4], tonumber(ARGV[6]))
if used >= tonumber(ARGV[5]) then
  local retry_after = frees_at - now
  if retry_after < 1 then retry_after = 1 end
  return { -5, retry_after }
end
take_key_slot(zkey, ARGV[7], tonumber(ARGV[6]))
return { 1, 0 }
