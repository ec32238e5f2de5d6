//! The admin pages: audit log and user accounts.

use app::types::{AuditEntryView, AuditView, UserRow};

use app::error::AppError;

use super::{ServerBackend, client_addr};
use crate::policy::AllowedJobs;
use crate::services::admin::{NewUser, UserChange};
use crate::users::Role;

/// `queue/job-name` entries, comma-separated, as the users page shows them.
fn format_allowed(allowed: &AllowedJobs) -> String {
    let entries: Vec<String> =
        allowed.iter().flat_map(|(queue, names)| names.iter().map(move |name| format!("{queue}/{name}"))).collect();
    entries.join(", ")
}

/// The users page's `queue/job-name, …` back into allowed jobs (empty: nothing allowed).
fn parse_allowed(text: &str) -> Result<AllowedJobs, AppError> {
    let mut allowed = AllowedJobs::new();
    for entry in text.split([',', ' ', '\n']).map(str::trim).filter(|e| !e.is_empty()) {
        let (queue, name) = entry.split_once('/').filter(|(q, n)| !q.is_empty() && !n.is_empty()).ok_or_else(|| {
            AppError::invalid("allowed_jobs", format!("{entry:?}: write each allowed job as queue/job-name"))
        })?;
        let names = allowed.entry(queue.to_string()).or_default();
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    Ok(allowed)
}

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
            allowed_jobs: format_allowed(&u.allowed_jobs),
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
    allowed_jobs: Option<String>,
    csrf: String,
) -> Result<(), AppError> {
    let principal = backend.acting_principal(&csrf).await?;
    let role = match role_name.filter(|r| !r.is_empty()) {
        Some(name) => Some(role(&name)?),
        None => None,
    };
    let allowed_jobs = allowed_jobs.as_deref().map(parse_allowed).transpose()?;
    let change = UserChange { role, disabled, allowed_jobs };
    crate::services::admin::change_user(&backend.state, &principal, Some(client_addr().await?), &username, change)
        .await
        .map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_jobs_read_and_print_as_queue_slash_name() {
        let allowed = parse_allowed("sync/sync-connection, demo/a demo/b,sync/sync-connection").unwrap();
        assert_eq!(allowed.len(), 2);
        assert_eq!(allowed["demo"], ["a", "b"]);
        assert_eq!(format_allowed(&allowed), "demo/a, demo/b, sync/sync-connection");
        assert!(parse_allowed("").unwrap().is_empty());
        let error = parse_allowed("sync").unwrap_err();
        assert_eq!(error.error.field.as_deref(), Some("allowed_jobs"));
        assert!(parse_allowed("/x").is_err() && parse_allowed("q/").is_err());
    }
}
