-- Whether a firing breach's notice went out: a breach that fired under a silence is
-- announced when the silence ends, if it still fires; its resolved notice goes out only
-- if its firing one did.
ALTER TABLE alert_states ADD COLUMN notified INTEGER NOT NULL DEFAULT 1 CHECK (notified IN (0, 1));

-- Resolved notices owed for announced breaches whose rule was deleted (its states go
-- with it): the evaluator sends each once, as it sends every notice.
CREATE TABLE alert_resolutions_owed (
    rule_id     BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    value       BIGINT  NOT NULL,
    threshold   BIGINT  NOT NULL,
    window_ms   BIGINT  NOT NULL,
    PRIMARY KEY (rule_id, subject)
);
