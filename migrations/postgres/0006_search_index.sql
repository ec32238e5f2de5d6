-- The history table becomes the search index of every job: besides finished jobs it
-- holds a row per live job (status 'live', no finish time), written from the engine's
-- unindexed set when a job is added, retried or failed. `seen_at` is Redis's time when
-- a live row's job was read: a live row never replaces a record of an ending at or after
-- it, and a record of an ending never replaces a live row read after that ending.
ALTER TABLE job_history DROP CONSTRAINT job_history_status_check;
ALTER TABLE job_history ADD CONSTRAINT job_history_status_check
    CHECK (status IN ('live', 'completed', 'dead', 'cancelled'));
ALTER TABLE job_history ALTER COLUMN finished_at DROP NOT NULL;
ALTER TABLE job_history ADD COLUMN seen_at BIGINT;
-- Search pages walk live rows by id and finished ones by finish time, then id.
DROP INDEX job_history_finished;
CREATE INDEX job_history_finished ON job_history (finished_at, job_id);
