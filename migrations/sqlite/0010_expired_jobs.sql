-- Jobs not started by their deadline end 'expired', a finished status of its own.
-- SQLite cannot change a CHECK in place: the table is rebuilt as 0006 left it.
CREATE TABLE job_history_next (
    queue        TEXT    NOT NULL,
    job_id       TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    owner        TEXT,
    status       TEXT    NOT NULL CHECK (status IN ('live', 'completed', 'dead', 'cancelled', 'expired')),
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
                              created_at, started_at, finished_at, duration_ms, seen_at)
SELECT queue, job_id, name, owner, status, payload, result, error, errors, attempts,
       created_at, started_at, finished_at, duration_ms, seen_at
FROM job_history;
DROP TABLE job_history;
ALTER TABLE job_history_next RENAME TO job_history;
CREATE INDEX job_history_finished ON job_history (finished_at, job_id);
CREATE INDEX job_history_owner ON job_history (owner, finished_at);
CREATE INDEX job_history_name ON job_history (name, finished_at);
CREATE INDEX job_history_status ON job_history (status, finished_at);
