-- The history table becomes the search index of every job: besides finished jobs it
-- holds a row per live job (status 'live', no finish time), written from the engine's
-- unindexed set when a job is added, retried or failed. `seen_at` is Redis's time when
-- a live row's job was read: a live row never replaces a record of an ending at or after
-- it, and a record of an ending never replaces a live row read after that ending.
-- SQLite cannot drop a NOT NULL or change a CHECK in place: the table is rebuilt.
CREATE TABLE job_history_next (
    queue        TEXT    NOT NULL,
    job_id       TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    owner        TEXT,
    status       TEXT    NOT NULL CHECK (status IN ('live', 'completed', 'dead', 'cancelled')),
    payload      TEXT    NOT NULL,
    result       TEXT,
    error        TEXT,
    errors       TEXT    NOT NULL DEFAULT '[]',
    attempts     INTEGER NOT NULL,
    created_at   BIGINT  NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT,
    duration_ms  BIGINT,
    seen_at      BIGINT,
    PRIMARY KEY (queue, job_id)
);
INSERT INTO job_history_next (queue, job_id, name, owner, status, payload, result, error, errors, attempts,
                              created_at, started_at, finished_at, duration_ms)
SELECT queue, job_id, name, owner, status, payload, result, error, errors, attempts,
       created_at, started_at, finished_at, duration_ms
FROM job_history;
DROP TABLE job_history;
ALTER TABLE job_history_next RENAME TO job_history;
-- Search pages walk live rows by id and finished ones by finish time, then id.
CREATE INDEX job_history_finished ON job_history (finished_at, job_id);
CREATE INDEX job_history_owner ON job_history (owner, finished_at);
CREATE INDEX job_history_name ON job_history (name, finished_at);
CREATE INDEX job_history_status ON job_history (status, finished_at);
