-- claim_jobs: waiting -> active, for up to ARGV[3] jobs.
-- KEYS: wait delayed retry active dead meta events marker limiter expired expiring archive groups group_active
-- ARGV[3] count (0..MAX_ITEMS), ARGV[4] lease (ms, 1..MAX_DURATION_MS), ARGV[5] worker token.
-- Returns { due in (ms) or -1, now, fields of each claimed job... } (see claim_jobs).
local count = int_arg(3, 'count', 0, MAX_ITEMS)
local lease_ms = int_arg(4, 'lease', 1, MAX_DURATION_MS)
return claim_jobs(count, lease_ms, text_arg(5, 'worker'))
