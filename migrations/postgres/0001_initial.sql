-- Hoist's SQL schema (PostgreSQL). Times are Unix epoch milliseconds (BIGINT) so the same
-- queries run on SQLite and PostgreSQL; JSON is stored as text.

CREATE TABLE users (
    id              BIGSERIAL PRIMARY KEY,
    username        TEXT    NOT NULL UNIQUE,
    password_hash   TEXT    NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'viewer', 'user')),
    -- 0 or 1, like SQLite, so one query reads both.
    disabled        BIGINT  NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    -- JSON array of queue names an end user may enqueue to.
    allowed_queues  TEXT    NOT NULL DEFAULT '[]',
    locale          TEXT    NOT NULL DEFAULT 'en',
    email           TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);

CREATE TABLE api_tokens (
    id            BIGSERIAL PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    -- SHA-256 of the secret; the secret itself is shown once and never stored.
    token_hash    TEXT    NOT NULL UNIQUE,
    scopes        TEXT    NOT NULL DEFAULT '[]',
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- The schema and table tower-sessions' PostgresStore uses (its default names and layout).
CREATE SCHEMA IF NOT EXISTS tower_sessions;
CREATE TABLE tower_sessions.session (
    id           TEXT        PRIMARY KEY NOT NULL,
    data         BYTEA       NOT NULL,
    expiry_date  TIMESTAMPTZ NOT NULL
);
CREATE INDEX tower_sessions_expiry ON tower_sessions.session (expiry_date);

CREATE TABLE audit_log (
    id           BIGSERIAL PRIMARY KEY,
    at           BIGINT  NOT NULL,
    actor_id     BIGINT,
    actor_name   TEXT    NOT NULL,
    actor_role   TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    target       TEXT    NOT NULL,
    params       TEXT    NOT NULL DEFAULT '{}',
    result       TEXT    NOT NULL,
    client_addr  TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_name, at);

-- Every job that ended (completed, dead, cancelled), written from the engine's events.
CREATE TABLE job_history (
    queue        TEXT    NOT NULL,
    job_id       TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    owner        TEXT,
    status       TEXT    NOT NULL CHECK (status IN ('completed', 'dead', 'cancelled')),
    payload      TEXT    NOT NULL,
    result       TEXT,
    error        TEXT,
    -- JSON array of per-attempt errors.
    errors       TEXT    NOT NULL DEFAULT '[]',
    attempts     INTEGER NOT NULL,
    created_at   BIGINT  NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT  NOT NULL,
    duration_ms  BIGINT,
    PRIMARY KEY (queue, job_id)
);
CREATE INDEX job_history_finished ON job_history (finished_at);
CREATE INDEX job_history_owner ON job_history (owner, finished_at);
CREATE INDEX job_history_name ON job_history (name, finished_at);
CREATE INDEX job_history_status ON job_history (status, finished_at);

-- How far a consumer of the engine's event streams has read, per queue, so a restart
-- resumes where it stopped.
CREATE TABLE stream_cursors (
    consumer  TEXT NOT NULL,
    queue     TEXT NOT NULL,
    position  TEXT NOT NULL,
    PRIMARY KEY (consumer, queue)
);
