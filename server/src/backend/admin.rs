//! The admin pages: audit log and user accounts.

use app::types::{AuditEntryView, AuditView, UserRow};

use app::error::AppError;

use super::{ServerBackend, client_addr};
use crate::services::admin::{NewUser, UserChange};
use crate::users::Role;

/// Audit entries per page.
const PAGE: i64 = 100;

fn role(text: &str) -> Result<Role, AppError> {
    Role::parse(text).ok_or_else(|| AppError::invalid("role", format!("unknown role {text:?}")))
}

pub(super) async fn audit_log(backend: &ServerBackend, before: Option<i64>) -> Result<AuditView, AppError> {
    let principal = backend.principal().await?;
    let rows = crate::services::admin::audit_log(&backend.state, &principal, before, PAGE).await?;
    let next = (rows.len() as i64 == PAGE).then(|| rows.last().map(|r| r.id)).flatten();
    Ok(AuditView {
        entries: rows
            .into_iter()
            .map(|r| AuditEntryView {
                id: r.id,
                at: r.at,
                actor: r.actor,
                role: r.role,
                action: r.action,
                target: r.target,
                params: r.params.to_string(),
                result: r.result,
                client_addr: r.client_addr,
            })
            .collect(),
        next,
    })
}

pub(super) async fn users(backend: &ServerBackend) -> Result<Vec<UserRow>, AppError> {
    let principal = backend.principal().await?;
    let users = crate::services::admin::list_users(&backend.state, &principal).await?;
    Ok(users
        .into_iter()
        .map(|u| UserRow {
            id: u.id,
            username: u.username,
            role: u.role,
            disabled: u.disabled,
            created_at: u.created_at,
        })
        .collect())
}

pub(super) async fn add_user(
    backend: &ServerBackend,
    username: String,
    password: String,
    role_name: String,
    csrf: String,
) -> Result<(), AppError> {
    let principal = backend.acting_principal(&csrf).await?;
    let new = NewUser { username, password, role: role(&role_name)?, allowed_jobs: Default::default() };
    crate::services::admin::add_user(&backend.state, &principal, Some(client_addr().await?), new)
        .await
        .map(|_| ())
        .map_err(Into::into)
}

pub(super) async fn change_user(
    backend: &ServerBackend,
    username: String,
    role_name: Option<String>,
    disabled: Option<bool>,
    csrf: String,
) -> Result<(), AppError> {
    let principal = backend.acting_principal(&csrf).await?;
    let role = match role_name.filter(|r| !r.is_empty()) {
        Some(name) => Some(role(&name)?),
        None => None,
    };
    let change = UserChange { role, disabled, allowed_jobs: None };
    crate::services::admin::change_user(&backend.state, &principal, Some(client_addr().await?), &username, change)
        .await
        .map_err(Into::into)
}
