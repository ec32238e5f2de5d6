-- Provider sync: organisations, their bank connections, and what a sync brings in.
-- Rows from a provider are keyed by the provider's own ids, so a retried sync updates
-- instead of adding rows. Times are epoch ms; amounts are integer minor units (cents).

CREATE TABLE organisations (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE connections (
    id                  BIGSERIAL PRIMARY KEY,
    org_id              BIGINT  NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    -- The end user the connection belongs to (users.id as text, the jobs' owner).
    owner               TEXT    NOT NULL,
    provider            TEXT    NOT NULL,
    external_id         TEXT    NOT NULL,
    institution         TEXT    NOT NULL,
    status              TEXT    NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'syncing', 'requires_reauth', 'error')),
    consent_expires_at  BIGINT,
    last_synced_at      BIGINT,
    last_job_id         TEXT,
    last_error          TEXT,
    created_at          BIGINT  NOT NULL,
    UNIQUE (provider, external_id)
);
CREATE INDEX connections_org ON connections (org_id);
CREATE INDEX connections_owner ON connections (owner);

CREATE TABLE accounts (
    id             BIGSERIAL PRIMARY KEY,
    connection_id  BIGINT  NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    external_id    TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    currency       TEXT    NOT NULL,
    balance        BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    UNIQUE (connection_id, external_id)
);

CREATE TABLE transactions (
    id             BIGSERIAL PRIMARY KEY,
    account_id     BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    external_id    TEXT    NOT NULL,
    amount         BIGINT  NOT NULL,
    currency       TEXT    NOT NULL,
    description    TEXT    NOT NULL,
    merchant       TEXT,
    booked_at      BIGINT  NOT NULL,
    category       TEXT,
    updated_at     BIGINT  NOT NULL,
    UNIQUE (account_id, external_id)
);
CREATE INDEX transactions_uncategorized ON transactions (category, id);

-- Categorization rules: a keyword in the description or merchant → a category.
CREATE TABLE category_rules (
    id        BIGSERIAL PRIMARY KEY,
    keyword   TEXT    NOT NULL UNIQUE,
    category  TEXT    NOT NULL
);

-- History is copied from the engine's archive set, not read from the event stream.
DROP TABLE stream_cursors;
