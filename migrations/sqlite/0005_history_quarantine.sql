-- Finished jobs the history store could not copy because the database refuses a value
-- (on PostgreSQL, e.g. a NUL character in a job name written by an older version). They
-- are kept here, for admins to see, instead of blocking the queue's copy; the engine then
-- releases them to retention like copied jobs. One row per job: a job that ends (and is
-- refused) again replaces its row.
-- `record` is the job's history record as JSON text: every NUL in it is the escape
-- \u0000, so the row always inserts. `reason` is the database's error.
CREATE TABLE job_history_quarantine (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    queue           TEXT    NOT NULL,
    job_id          TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    record          TEXT    NOT NULL,
    finished_at     BIGINT  NOT NULL,
    quarantined_at  BIGINT  NOT NULL,
    UNIQUE (queue, job_id)
);
CREATE INDEX job_history_quarantine_finished ON job_history_quarantine (finished_at);
