//! Silences: until its end, a silence holds back the notices of one rule (or every rule)
//! about one subject (or every subject). The notices are still recorded, marked silenced.

use serde::Serialize;
use sqlx::Row;

use crate::db::{Db, now_ms};

/// Longest silence reason, in characters.
pub const MAX_REASON: usize = 500;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Silence {
    pub id: i64,
    /// The rule it silences; `None`: every rule.
    pub rule_id: Option<i64>,
    /// The queue (or `""` for the whole system) it silences; `None`: every subject.
    pub subject: Option<String>,
    /// Epoch ms.
    pub ends_at: i64,
    pub reason: String,
    pub created_by: String,
    pub created_at: i64,
}

/// Adds a silence; returns its id.
pub async fn add(
    db: &Db,
    rule_id: Option<i64>,
    subject: Option<&str>,
    ends_at: i64,
    reason: &str,
    created_by: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO alert_silences (rule_id, subject, ends_at, reason, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(rule_id)
    .bind(subject)
    .bind(ends_at)
    .bind(reason)
    .bind(created_by)
    .bind(now_ms())
    .fetch_one(&db.pool)
    .await
}

/// Ends a silence now (it stays listed until it is pruned). False when there is none.
pub async fn end(db: &Db, id: i64, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE alert_silences SET ends_at = $1 WHERE id = $2 AND ends_at > $1")
        .bind(now)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Silences not yet over at `now`, soonest end first.
pub async fn active(db: &Db, now: i64) -> sqlx::Result<Vec<Silence>> {
    let rows = sqlx::query(
        "SELECT id, rule_id, subject, ends_at, reason, created_by, created_at FROM alert_silences
         WHERE ends_at > $1 ORDER BY ends_at",
    )
    .bind(now)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| Silence {
            id: row.get("id"),
            rule_id: row.get("rule_id"),
            subject: row.get("subject"),
            ends_at: row.get("ends_at"),
            reason: row.get("reason"),
            created_by: row.get("created_by"),
            created_at: row.get("created_at"),
        })
        .collect())
}

/// Whether a silence in `silences` holds back notices of `rule_id` about `subject`.
pub fn covers(silences: &[Silence], rule_id: i64, subject: &str) -> bool {
    silences.iter().any(|s| s.rule_id.is_none_or(|r| r == rule_id) && s.subject.as_deref().is_none_or(|q| q == subject))
}

/// Deletes silences that ended more than `keep_ms` ago.
pub async fn prune(db: &Db, now: i64, keep_ms: i64) -> sqlx::Result<u64> {
    let done =
        sqlx::query("DELETE FROM alert_silences WHERE ends_at < $1").bind(now - keep_ms).execute(&db.pool).await?;
    Ok(done.rows_affected())
}
