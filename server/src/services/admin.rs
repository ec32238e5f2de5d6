//! Admin-only reads and changes: users and the audit log.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api_error::ApiError;
use crate::audit::{self, AuditEntry};
use crate::auth::Principal;
use crate::state::AppState;
use crate::users::{self, Role, UserError, UserSummary};

pub fn require_admin(principal: &Principal) -> Result<(), ApiError> {
    match principal.role {
        Role::Admin => Ok(()),
        _ => Err(ApiError::Forbidden("this needs the admin role".into())),
    }
}

impl From<UserError> for ApiError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::InvalidUsername => ApiError::invalid("username", error.to_string()),
            UserError::WeakPassword => ApiError::invalid("password", error.to_string()),
            UserError::Exists(_) => ApiError::Conflict { message: error.to_string(), existing_id: None },
            UserError::Hash(_) | UserError::Sql(_) => ApiError::Internal(anyhow::Error::new(error)),
        }
    }
}

pub async fn list_users(state: &AppState, principal: &Principal) -> Result<Vec<UserSummary>, ApiError> {
    require_admin(principal)?;
    Ok(users::list_users(&state.db).await?)
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: Role,
    #[serde(default)]
    pub allowed_queues: Vec<String>,
}

pub async fn add_user(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    new: NewUser,
) -> Result<i64, ApiError> {
    require_admin(principal)?;
    let outcome = users::create_user(&state.db, &new.username, &new.password, new.role).await;
    if let Ok(id) = &outcome {
        sqlx::query("UPDATE users SET allowed_queues = $1 WHERE id = $2")
            .bind(serde_json::to_string(&new.allowed_queues).unwrap_or_else(|_| "[]".into()))
            .bind(id)
            .execute(&state.db.pool)
            .await?;
    }
    let entry = AuditEntry {
        action: "user.add",
        target: new.username.clone(),
        params: json!({ "role": new.role, "allowed_queues": new.allowed_queues }),
        result: if outcome.is_ok() { "ok" } else { "failed" },
        client_addr: addr,
    };
    audit::record(&state.db, principal, entry).await?;
    Ok(outcome?)
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub allowed_queues: Option<Vec<String>>,
}

pub async fn change_user(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    username: &str,
    change: UserChange,
) -> Result<(), ApiError> {
    require_admin(principal)?;
    if username == principal.username
        && (change.disabled == Some(true) || change.role.is_some_and(|r| r != Role::Admin))
    {
        return Err(ApiError::invalid("username", "admins cannot disable or demote themselves"));
    }
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&state.db.pool)
        .await?;
    let id = exists.ok_or_else(|| ApiError::NotFound(format!("user {username}")))?;
    if let Some(role) = change.role {
        sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(id)
            .execute(&state.db.pool)
            .await?;
    }
    if let Some(disabled) = change.disabled {
        users::set_disabled(&state.db, username, disabled).await?;
    }
    if let Some(queues) = &change.allowed_queues {
        sqlx::query("UPDATE users SET allowed_queues = $1 WHERE id = $2")
            .bind(serde_json::to_string(queues).unwrap_or_else(|_| "[]".into()))
            .bind(id)
            .execute(&state.db.pool)
            .await?;
    }
    let entry = AuditEntry {
        action: "user.change",
        target: username.to_string(),
        params: json!({ "role": change.role, "disabled": change.disabled, "allowed_queues": change.allowed_queues }),
        result: "ok",
        client_addr: addr,
    };
    audit::record(&state.db, principal, entry).await?;
    Ok(())
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
    pub params: serde_json::Value,
    pub result: String,
    pub client_addr: Option<String>,
}

/// The audit log, newest first, `limit` entries before id `before` (a cursor).
pub async fn audit_log(
    state: &AppState,
    principal: &Principal,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRow>, ApiError> {
    require_admin(principal)?;
    type Row = (i64, i64, String, String, String, String, String, String, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, at, actor_name, actor_role, action, target, params, result, client_addr FROM audit_log
         WHERE id < $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit.clamp(1, 500))
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, at, actor, role, action, target, params, result, client_addr)| AuditRow {
            id,
            at,
            actor,
            role,
            action,
            target,
            params: serde_json::from_str(&params).unwrap_or(serde_json::Value::Null),
            result,
            client_addr,
        })
        .collect())
}
