-- mark_indexed: the search index has read these live jobs.
-- KEYS: unindexed
-- ARGV[3..] pairs of id and the time it was listed with. A job queued again since
-- (failed, retried) keeps its place, so its change is read too.
-- Returns the number of entries removed.
return remove_unchanged(k.unindexed, 'indexed')
