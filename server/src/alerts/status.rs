//! What the Alerts page shows: the breaches open now (firing or pending) and the recent
//! firing and resolved notices.

use serde::Serialize;
use sqlx::Row;

use super::rules::RuleKind;
use crate::db::Db;

/// A breach that has not cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OpenAlert {
    pub rule_id: i64,
    pub kind: RuleKind,
    /// The queue, or `""` for the whole system.
    pub subject: String,
    /// `pending` (not yet for its period) or `firing`.
    pub state: String,
    /// When the breach began (epoch ms).
    pub since: i64,
    /// When it fired, for a firing one.
    pub fired_at: Option<i64>,
    /// The latest measure.
    pub value: i64,
    pub threshold: i64,
    pub window_ms: i64,
}

/// A notice that was sent (or held back by a silence).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AlertEvent {
    pub id: i64,
    pub rule_id: i64,
    pub kind: RuleKind,
    pub subject: String,
    /// `firing` or `resolved`.
    pub transition: String,
    pub value: i64,
    pub threshold: i64,
    /// Epoch ms.
    pub at: i64,
    pub silenced: bool,
}

/// Open breaches, firing first, then by when they began.
pub async fn open(db: &Db) -> sqlx::Result<Vec<OpenAlert>> {
    let rows = sqlx::query(
        "SELECT s.rule_id, r.kind, s.subject, s.state, s.since, s.fired_at, s.value, r.threshold, r.window_ms
         FROM alert_states s JOIN alert_rules r ON r.id = s.rule_id
         ORDER BY s.state = 'pending', s.since, s.subject",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            Some(OpenAlert {
                rule_id: row.get("rule_id"),
                kind: RuleKind::parse(&row.get::<String, _>("kind"))?,
                subject: row.get("subject"),
                state: row.get("state"),
                since: row.get("since"),
                fired_at: row.get("fired_at"),
                value: row.get("value"),
                threshold: row.get("threshold"),
                window_ms: row.get("window_ms"),
            })
        })
        .collect())
}

/// The `limit` latest notices, newest first.
pub async fn recent(db: &Db, limit: i64) -> sqlx::Result<Vec<AlertEvent>> {
    let rows = sqlx::query(
        "SELECT id, rule_id, kind, subject, transition, value, threshold, at, silenced FROM alert_events
         ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            Some(AlertEvent {
                id: row.get("id"),
                rule_id: row.get("rule_id"),
                kind: RuleKind::parse(&row.get::<String, _>("kind"))?,
                subject: row.get("subject"),
                transition: row.get("transition"),
                value: row.get("value"),
                threshold: row.get("threshold"),
                at: row.get("at"),
                silenced: row.get::<i64, _>("silenced") == 1,
            })
        })
        .collect())
}
