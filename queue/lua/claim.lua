-- claim: waiting -> active, for up to ARGV[4] jobs.
-- ARGV[4] count, ARGV[5] lease deadline (ms), ARGV[6] worker token.
-- Returns { next due time or -1, fields of each claimed job... }.
return claim_jobs(tonumber(ARGV[4]), ARGV[5], ARGV[6])
