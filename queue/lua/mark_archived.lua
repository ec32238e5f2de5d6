-- mark_archived: the history store has copied these finished jobs; retention may drop them now.
-- KEYS: archive
-- ARGV[3..] pairs of id and the finish time that was copied. A job that finished again
-- since (retried, then ended anew) keeps its place, so its new ending is copied too.
-- Returns the number of jobs released.
return remove_unchanged(k.archive, 'archived')
