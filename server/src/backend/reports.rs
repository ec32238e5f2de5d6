//! The Reports pages.

use app::error::AppError;
use app::reports::{Report, ReportKind, ReportList};

use super::{ServerBackend, client_addr};
use crate::services::reports::{self as service, ListRequest, RunRequest};

/// Reports per page.
const PAGE: u32 = 50;

pub(super) async fn list(backend: &ServerBackend, before: Option<i64>) -> Result<ReportList, AppError> {
    let principal = backend.principal().await?;
    Ok(service::list(&backend.state, &principal, ListRequest { limit: Some(PAGE), before }).await?)
}

pub(super) async fn get(backend: &ServerBackend, id: i64) -> Result<Report, AppError> {
    let principal = backend.principal().await?;
    Ok(service::get(&backend.state, &principal, id).await?)
}

/// A day box of the form: empty is none, else `YYYY-MM-DD`.
fn day(field: &str, text: &str) -> Result<Option<chrono::NaiveDate>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| AppError::invalid(field, format!("{text:?} is not a day (YYYY-MM-DD)")))
}

pub(super) async fn run(
    backend: &ServerBackend,
    kind: String,
    from: String,
    to: String,
    email: bool,
    csrf: String,
) -> Result<(String, String), AppError> {
    let principal = backend.acting_principal(&csrf).await?;
    let kinds = match kind.trim() {
        "" => vec![],
        name => vec![ReportKind::parse(name).ok_or_else(|| AppError::invalid("kind", format!("no report {name:?}")))?],
    };
    let request = RunRequest { kinds, from: day("from", &from)?, to: day("to", &to)?, email };
    let run = service::run(&backend.state, &principal, Some(client_addr().await?), request).await?;
    Ok((run.queue, run.job_id))
}
