//! The audit log: every operator action, who did it, to what, and how it went.

use serde_json::Value;

use crate::auth::Principal;
use crate::db::{Db, now_ms};

/// One entry; written after the action, with its outcome.
pub struct AuditEntry<'a> {
    pub action: &'a str,
    pub target: String,
    pub params: Value,
    pub result: &'a str,
    pub client_addr: Option<String>,
}

pub async fn record(db: &Db, principal: &Principal, entry: AuditEntry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor_name, actor_role, action, target, params, result, client_addr)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(now_ms())
    .bind(principal.user_id)
    .bind(&principal.username)
    .bind(principal.role.as_str())
    .bind(entry.action)
    .bind(entry.target)
    .bind(entry.params.to_string())
    .bind(entry.result)
    .bind(entry.client_addr)
    .execute(&db.pool)
    .await?;
    Ok(())
}
