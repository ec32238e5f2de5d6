//! Alert rules: what is measured, on which queue, and when it breaches. Stored in SQL
//! (`alert_rules`), seeded with the defaults below at start-up; a rule naming a queue
//! replaces the every-queue rule of its kind on that queue.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Db, now_ms};
use crate::services::alerts::RuleFigures;

/// What a rule measures. Each measure is a whole number compared with the rule's
/// threshold: a breach is a measure above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Per cent of the attempts in the window that failed (counted from 20 attempts on).
    FailureRate,
    /// Jobs that went to the dead-letter queue in the window.
    DeadGrowth,
    /// Jobs waiting now.
    Waiting,
    /// How long (ms) the job next in line has been waiting.
    OldestWaiting,
    /// How long (ms) the longest-running active job has run.
    ActiveTooLong,
    /// 1 while jobs wait and no worker of the queue has checked in for a minute.
    NoWorkers,
    /// Finished jobs the SQL history has not copied yet.
    HistoryLag,
    /// 1 while Redis does not answer (the whole system, not a queue).
    RedisUnreachable,
}

/// Fewer attempts than this in the window make no failure rate: 1 failure of 1 is not
/// a 100 % rate worth waking someone for.
pub const MIN_ATTEMPTS_FOR_RATE: u64 = 20;

impl RuleKind {
    pub const ALL: [RuleKind; 8] = [
        RuleKind::FailureRate,
        RuleKind::DeadGrowth,
        RuleKind::Waiting,
        RuleKind::OldestWaiting,
        RuleKind::ActiveTooLong,
        RuleKind::NoWorkers,
        RuleKind::HistoryLag,
        RuleKind::RedisUnreachable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::FailureRate => "failure_rate",
            RuleKind::DeadGrowth => "dead_growth",
            RuleKind::Waiting => "waiting",
            RuleKind::OldestWaiting => "oldest_waiting",
            RuleKind::ActiveTooLong => "active_too_long",
            RuleKind::NoWorkers => "no_workers",
            RuleKind::HistoryLag => "history_lag",
            RuleKind::RedisUnreachable => "redis_unreachable",
        }
    }

    pub fn parse(text: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Whether the rule is measured per queue (all but Redis's reachability).
    pub fn per_queue(self) -> bool {
        self != RuleKind::RedisUnreachable
    }

    /// One line saying what was measured, for notices.
    pub fn describe(self, value: i64, threshold: i64, window_ms: i64) -> String {
        let minutes = |ms: i64| format!("{} min", (ms / 60_000).max(1));
        let duration = |ms: i64| {
            if ms >= 120_000 { format!("{} min", ms / 60_000) } else { format!("{} s", ms / 1000) }
        };
        match self {
            RuleKind::FailureRate => {
                format!("{value} % of attempts failed in the last {} (alert above {threshold} %)", minutes(window_ms))
            }
            RuleKind::DeadGrowth => {
                format!(
                    "{value} jobs went to the dead-letter queue in the last {} (alert above {threshold})",
                    minutes(window_ms)
                )
            }
            RuleKind::Waiting => format!("{value} jobs waiting (alert above {threshold})"),
            RuleKind::OldestWaiting => {
                format!("the next job has waited {} (alert above {})", duration(value), duration(threshold))
            }
            RuleKind::ActiveTooLong => {
                format!("a job has run for {} (alert above {})", duration(value), duration(threshold))
            }
            RuleKind::NoWorkers => "jobs are waiting and no worker is online".to_string(),
            RuleKind::HistoryLag => {
                format!("{value} finished jobs not yet copied to the history (alert above {threshold})")
            }
            RuleKind::RedisUnreachable => "Redis does not answer".to_string(),
        }
    }
}

/// A stored rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Rule {
    pub id: i64,
    pub kind: RuleKind,
    /// The queue it watches; `None`: every queue without a rule of its own of this kind.
    pub queue: Option<String>,
    pub threshold: i64,
    /// The window rates and growth are measured over (ms).
    pub window_ms: i64,
    /// How long a breach must last before it fires (ms).
    pub pending_ms: i64,
    pub enabled: bool,
}

/// The every-queue rules an installation starts with: the seeds' figures (more than
/// 100 failed jobs, more than 1,000 waiting, a queue stalled for 5 minutes, Redis
/// connection errors) and the rest of the list.
pub fn defaults() -> Vec<(RuleKind, i64, i64, i64)> {
    const MINUTE: i64 = 60_000;
    // (kind, threshold, window, pending)
    vec![
        (RuleKind::FailureRate, 10, 5 * MINUTE, 5 * MINUTE),
        (RuleKind::DeadGrowth, 100, 60 * MINUTE, 0),
        (RuleKind::Waiting, 1_000, 0, 5 * MINUTE),
        (RuleKind::OldestWaiting, 5 * MINUTE, 0, 0),
        (RuleKind::ActiveTooLong, crate::queue_settings::MAX_ACTIVE_SECONDS.default as i64 * 1000, 0, 0),
        (RuleKind::NoWorkers, 0, 0, MINUTE),
        (RuleKind::HistoryLag, 10_000, 0, 10 * MINUTE),
        // Half a minute: one slow answer does not page.
        (RuleKind::RedisUnreachable, 0, 0, MINUTE / 2),
    ]
}

/// Adds the default rules whose kind has no every-queue rule yet (a changed or disabled
/// default stays as it was). Safe to run on every start of every replica.
pub async fn seed_defaults(db: &Db) -> sqlx::Result<()> {
    for (kind, threshold, window_ms, pending_ms) in defaults() {
        sqlx::query(
            "INSERT INTO alert_rules (kind, queue, threshold, window_ms, pending_ms, enabled, updated_at)
             SELECT $1, NULL, $2, $3, $4, 1, $5
             WHERE NOT EXISTS (SELECT 1 FROM alert_rules WHERE kind = $1 AND queue IS NULL)",
        )
        .bind(kind.as_str())
        .bind(threshold)
        .bind(window_ms)
        .bind(pending_ms)
        .bind(now_ms())
        .execute(&db.pool)
        .await
        .or_else(|e| match e {
            // Another replica seeded it between the check and the insert.
            sqlx::Error::Database(db_error) if db_error.is_unique_violation() => Ok(Default::default()),
            other => Err(other),
        })?;
    }
    Ok(())
}

/// Every rule, every-queue rules first.
pub async fn list(db: &Db) -> sqlx::Result<Vec<Rule>> {
    let rows = sqlx::query(
        "SELECT id, kind, queue, threshold, window_ms, pending_ms, enabled FROM alert_rules
         ORDER BY queue IS NOT NULL, queue, kind",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            // A kind this version does not know (written by a newer one) is left alone.
            let kind = RuleKind::parse(&row.get::<String, _>("kind"))?;
            Some(Rule {
                id: row.get("id"),
                kind,
                queue: row.get("queue"),
                threshold: row.get("threshold"),
                window_ms: row.get("window_ms"),
                pending_ms: row.get("pending_ms"),
                enabled: row.get::<i64, _>("enabled") == 1,
            })
        })
        .collect())
}

/// Changes a rule's figures and switch (the seeding never touches it again).
pub async fn update(
    db: &Db,
    id: i64,
    threshold: i64,
    window_ms: i64,
    pending_ms: i64,
    enabled: bool,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE alert_rules SET threshold = $1, window_ms = $2, pending_ms = $3, enabled = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(threshold)
    .bind(window_ms)
    .bind(pending_ms)
    .bind(i64::from(enabled))
    .bind(now_ms())
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds a rule for one queue (its own figures for a kind); returns its id.
pub async fn add_for_queue(db: &Db, kind: RuleKind, queue: &str, f: &RuleFigures) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO alert_rules (kind, queue, threshold, window_ms, pending_ms, enabled, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(kind.as_str())
    .bind(queue)
    .bind(f.threshold)
    .bind(f.window_ms)
    .bind(f.pending_ms)
    .bind(i64::from(f.enabled))
    .bind(now_ms())
    .fetch_one(&db.pool)
    .await
}

/// The rule of `kind` in force on `queue`: its own, else the every-queue one.
pub fn in_force<'a>(rules: &'a [Rule], kind: RuleKind, queue: &str) -> Option<&'a Rule> {
    rules
        .iter()
        .find(|r| r.kind == kind && r.queue.as_deref() == Some(queue))
        .or_else(|| rules.iter().find(|r| r.kind == kind && r.queue.is_none()))
}

/// Deletes a rule for one queue (every-queue rules are switched off, not deleted); its
/// open breaches go with it. False when there is no such queue rule.
pub async fn delete_queue_rule(db: &Db, id: i64) -> sqlx::Result<bool> {
    let mut tx = db.pool.begin().await?;
    let rule = sqlx::query("SELECT kind, threshold, window_ms FROM alert_rules WHERE id = $1 AND queue IS NOT NULL")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(rule) = rule else { return Ok(false) };
    // Its breaches go with it, taken first by the same compare-and-set the evaluator
    // uses (a round running meanwhile finds them gone, or holds them and this waits);
    // those whose firing notice went out are owed a resolved one, which the evaluator
    // sends (once, like every notice).
    let states = sqlx::query("DELETE FROM alert_states WHERE rule_id = $1 RETURNING subject, state, notified, value")
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
    let kind: String = rule.get("kind");
    for state in states.iter().filter(|s| s.get::<String, _>("state") == "firing" && s.get::<i64, _>("notified") == 1) {
        let owed = Owed {
            rule_id: id,
            kind: &kind,
            subject: &state.get::<String, _>("subject"),
            value: state.get("value"),
            threshold: rule.get("threshold"),
            window_ms: rule.get("window_ms"),
        };
        owe_resolution(&mut tx, &owed).await?;
    }
    sqlx::query("DELETE FROM alert_rules WHERE id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// A resolved notice owed for an announced breach whose state is gone: its rule was
/// deleted, or it resolved under a silence.
pub struct Owed<'a> {
    pub rule_id: i64,
    pub kind: &'a str,
    pub subject: &'a str,
    pub value: i64,
    pub threshold: i64,
    pub window_ms: i64,
}

/// Records a resolved notice the evaluator owes (sent once, when no silence covers it).
pub async fn owe_resolution(conn: &mut sqlx::AnyConnection, owed: &Owed<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO alert_resolutions_owed (rule_id, kind, subject, value, threshold, window_ms)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (rule_id, subject) DO UPDATE SET value = $4",
    )
    .bind(owed.rule_id)
    .bind(owed.kind)
    .bind(owed.subject)
    .bind(owed.value)
    .bind(owed.threshold)
    .bind(owed.window_ms)
    .execute(conn)
    .await?;
    Ok(())
}
