-- The schedules hoist.toml declared at the last start: a schedule removed from the file
-- is removed from Redis at the next start, while schedules made over the API (never
-- listed here) are left alone.
CREATE TABLE config_schedules (
    name         TEXT    PRIMARY KEY,
    declared_at  BIGINT  NOT NULL
);
