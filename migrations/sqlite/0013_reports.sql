-- Reports: usage, performance and audit figures over a period [period_from, period_to),
-- computed from the job history and the audit log and kept as JSON (`figures`). A report
-- job makes each of its kinds once (`job_id`, `kind`), however often it is retried.
CREATE TABLE reports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL CHECK (kind IN ('usage', 'performance', 'audit')),
    period_from   BIGINT  NOT NULL,
    period_to     BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    requested_by  TEXT    NOT NULL,
    job_id        TEXT    NOT NULL,
    figures       TEXT    NOT NULL
);
CREATE UNIQUE INDEX reports_job_kind ON reports (job_id, kind);
CREATE INDEX reports_created ON reports (created_at);

-- Each admin a report job emailed, so a retry of the job, however late, never emails
-- them twice.
CREATE TABLE report_emails (
    job_id   TEXT    NOT NULL,
    user_id  BIGINT  NOT NULL,
    sent_at  BIGINT  NOT NULL,
    PRIMARY KEY (job_id, user_id)
);

-- The API token an audited action was taken with (NULL: a session, or an older row), so
-- the audit report can say what each token did.
ALTER TABLE audit_log ADD COLUMN token_id BIGINT;

-- The usage report counts jobs created in its period.
CREATE INDEX job_history_created ON job_history (created_at);
