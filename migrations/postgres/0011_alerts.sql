-- Alerts. A rule measures one thing (kind) on one queue, or on every queue when `queue`
-- is NULL (a rule naming a queue replaces the every-queue rule of its kind there), and
-- breaches when the measure exceeds `threshold` (over `window_ms` for rates and growth);
-- a breach that lasts `pending_ms` fires. Seeded with the defaults at start-up.
CREATE TABLE alert_rules (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT    NOT NULL,
    queue       TEXT,
    threshold   BIGINT  NOT NULL,
    window_ms   BIGINT  NOT NULL,
    pending_ms  BIGINT  NOT NULL,
    enabled     BIGINT  NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    updated_at  BIGINT  NOT NULL
);
-- One every-queue rule per kind, one rule per kind and queue.
CREATE UNIQUE INDEX alert_rules_kind_queue ON alert_rules (kind, COALESCE(queue, ''));

-- Each rule's breaches that have not cleared, per subject (the queue, or '' for the whole
-- system): pending (not yet long enough) or firing. Transitions are compare-and-set on
-- this table, so of several replicas evaluating at once exactly one makes each.
CREATE TABLE alert_states (
    rule_id     BIGINT  NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    subject     TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'firing')),
    since       BIGINT  NOT NULL,
    value       BIGINT  NOT NULL,
    fired_at    BIGINT,
    PRIMARY KEY (rule_id, subject)
);

-- Firing and resolved notices, newest last: the Alerts page's recent list.
CREATE TABLE alert_events (
    id          BIGSERIAL PRIMARY KEY,
    rule_id     BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    transition  TEXT    NOT NULL CHECK (transition IN ('firing', 'resolved')),
    value       BIGINT  NOT NULL,
    threshold   BIGINT  NOT NULL,
    at          BIGINT  NOT NULL,
    -- 1 when a silence held the notice back.
    silenced    BIGINT  NOT NULL DEFAULT 0 CHECK (silenced IN (0, 1))
);
CREATE INDEX alert_events_at ON alert_events (at);

-- Silences: until `ends_at`, notices of the rule (NULL: every rule) about the subject
-- (NULL: every subject) are recorded but not sent.
CREATE TABLE alert_silences (
    id          BIGSERIAL PRIMARY KEY,
    rule_id     BIGINT REFERENCES alert_rules (id) ON DELETE CASCADE,
    subject     TEXT,
    ends_at     BIGINT  NOT NULL,
    reason      TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
