//! Admin-only reads and changes: users and the audit log.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api_error::ApiError;
use crate::audit::{self, AuditEntry};
use crate::auth::Principal;
use crate::policy::{Action, AllowedJobs, authorize};
use crate::state::AppState;
use crate::users::{self, Role, UserError, UserSummary};

impl From<UserError> for ApiError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::InvalidUsername => ApiError::invalid("username", error.to_string()),
            UserError::WeakPassword => ApiError::invalid("password", error.to_string()),
            UserError::Exists(_) => ApiError::Conflict { message: error.to_string(), existing_id: None },
            UserError::Busy(busy) => ApiError::Unavailable { retry_after: busy.retry_after },
            UserError::Hash(_) | UserError::Sql(_) => ApiError::Internal(anyhow::Error::new(error)),
        }
    }
}

pub async fn list_users(state: &AppState, principal: &Principal) -> Result<Vec<UserSummary>, ApiError> {
    authorize(principal, Action::AdministerUsers)?;
    Ok(users::list_users(&state.db).await?)
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: Role,
    /// Job names an end user may enqueue, per queue: `{"sync": ["sync-connection"]}`.
    #[serde(default)]
    pub allowed_jobs: AllowedJobs,
}

/// Most queues, and job names per queue, one user's `allowed_jobs` may list.
pub const MAX_ALLOWED_ENTRIES: usize = 100;

fn check_allowed_jobs(allowed: &AllowedJobs) -> Result<(), ApiError> {
    if allowed.len() > MAX_ALLOWED_ENTRIES {
        return Err(ApiError::invalid("allowed_jobs", format!("at most {MAX_ALLOWED_ENTRIES} queues")));
    }
    for (queue, names) in allowed {
        hoist_queue::validate_queue_name(queue).map_err(|e| ApiError::invalid("allowed_jobs", e.to_string()))?;
        if names.len() > MAX_ALLOWED_ENTRIES {
            return Err(ApiError::invalid(
                "allowed_jobs",
                format!("at most {MAX_ALLOWED_ENTRIES} job names per queue"),
            ));
        }
        for name in names {
            crate::names::check("allowed_jobs", name, crate::names::MAX_JOB_NAME)?;
        }
    }
    Ok(())
}

async fn store_allowed_jobs(state: &AppState, id: i64, allowed: &AllowedJobs) -> Result<(), ApiError> {
    sqlx::query("UPDATE users SET allowed_jobs = $1 WHERE id = $2")
        .bind(serde_json::to_string(allowed).map_err(anyhow::Error::from)?)
        .bind(id)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

pub async fn add_user(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    new: NewUser,
) -> Result<i64, ApiError> {
    authorize(principal, Action::AdministerUsers)?;
    check_allowed_jobs(&new.allowed_jobs)?;
    let outcome = users::create_user(&state.db, &new.username, &new.password, new.role).await;
    if let Ok(id) = &outcome {
        store_allowed_jobs(state, *id, &new.allowed_jobs).await?;
    }
    let entry = AuditEntry {
        action: "user.add",
        target: new.username.clone(),
        params: json!({ "role": new.role, "allowed_jobs": new.allowed_jobs }),
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
    pub allowed_jobs: Option<AllowedJobs>,
}

pub async fn change_user(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    username: &str,
    change: UserChange,
) -> Result<(), ApiError> {
    authorize(principal, Action::AdministerUsers)?;
    if let Some(allowed) = &change.allowed_jobs {
        check_allowed_jobs(allowed)?;
    }
    if username == principal.username
        && (change.disabled == Some(true) || change.role.is_some_and(|r| r != Role::Admin))
    {
        return Err(ApiError::invalid("username", "admins cannot disable or demote themselves"));
    }
    let exists: Option<(i64, String)> = sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&state.db.pool)
        .await?;
    let (id, hash) = exists.ok_or_else(|| ApiError::NotFound(format!("user {username}")))?;
    if change.role.is_some() && hash == crate::auth::host::HOST_ACCOUNT {
        // The host application's sign-in says which role its users have, at every request.
        return Err(ApiError::invalid(
            "role",
            "this user signs in through the host application, which sets their role; disable them here or change their role there",
        ));
    }
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
    if let Some(allowed) = &change.allowed_jobs {
        store_allowed_jobs(state, id, allowed).await?;
    }
    let entry = AuditEntry {
        action: "user.change",
        target: username.to_string(),
        params: json!({ "role": change.role, "disabled": change.disabled, "allowed_jobs": change.allowed_jobs }),
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
    authorize(principal, Action::AdministerUsers)?;
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
