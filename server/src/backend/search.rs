//! The search page: one query over every job, and autocomplete.

use app::error::AppError;
use std::time::{Duration, Instant};

use app::types::{BulkResultView, MatchCountView, SavedSearchView, SearchRow, SearchView};

use super::ServerBackend;
use crate::search::SearchRequest;
use crate::search::suggest::SuggestRequest;
use crate::services::search::{BulkAction, BulkRequest, SaveRequest};

/// Hits per page on the dashboard.
const PAGE: u32 = 50;

pub(super) async fn search(backend: &ServerBackend, q: String, cursor: Option<String>) -> Result<SearchView, AppError> {
    let principal = backend.principal().await?;
    let request = SearchRequest { q, cursor: cursor.filter(|c| !c.is_empty()), limit: Some(PAGE) };
    let page = crate::services::search::search(&backend.state, &principal, request).await?;
    Ok(SearchView {
        rows: page
            .hits
            .into_iter()
            .map(|hit| SearchRow {
                error: hit.error.as_ref().and_then(|e| e.get("message")).and_then(|m| m.as_str()).map(str::to_string),
                queue: hit.queue,
                job_id: hit.job_id,
                name: hit.name,
                owner: hit.owner,
                state: hit.state,
                attempts: hit.attempts,
                created_at: hit.created_at,
                finished_at: hit.finished_at,
            })
            .collect(),
        next: page.next,
    })
}

pub(super) async fn suggestions(backend: &ServerBackend, q: String) -> Result<Vec<String>, AppError> {
    let principal = backend.principal().await?;
    let typed = q.clone();
    let found = crate::services::search::suggestions(&backend.state, &principal, SuggestRequest { q }).await?;
    let head = typed.get(..found.from).unwrap_or_default();
    Ok(found.values.into_iter().map(|value| format!("{head}{value}")).collect())
}

fn count_view(count: crate::search::MatchCount) -> MatchCountView {
    MatchCountView { count: count.count, at_least: count.at_least }
}

pub(super) async fn count(backend: &ServerBackend, q: String) -> Result<MatchCountView, AppError> {
    let principal = backend.principal().await?;
    Ok(count_view(crate::services::search::count(&backend.state, &principal, &q).await?))
}

/// How long one click acts before it answers with where to go on.
const ACT_FOR: Duration = Duration::from_secs(10);

pub(super) async fn act(
    backend: &ServerBackend,
    q: String,
    action: String,
    cursor: Option<String>,
    csrf: String,
) -> Result<BulkResultView, AppError> {
    let principal = backend.acting_principal(&csrf).await?;
    let bulk = match action.as_str() {
        "retry" => BulkAction::Retry,
        "cancel" => BulkAction::Cancel,
        "requeue" => BulkAction::Requeue,
        "delete" => BulkAction::Delete,
        other => return Err(AppError::invalid("action", format!("unknown action {other:?}"))),
    };
    let started = Instant::now();
    let mut result = BulkResultView { action, matched: 0, changed: 0, next: cursor.filter(|c| !c.is_empty()) };
    loop {
        let request = BulkRequest { q: q.clone(), action: bulk, confirm: true, cursor: result.next.take() };
        let outcome = crate::services::search::act(&backend.state, &principal, None, request).await?;
        result.matched += outcome.matched;
        result.changed += outcome.changed;
        result.next = outcome.next;
        if result.next.is_none() || started.elapsed() >= ACT_FOR {
            return Ok(result);
        }
    }
}

pub(super) async fn saved(backend: &ServerBackend) -> Result<Vec<SavedSearchView>, AppError> {
    let principal = backend.principal().await?;
    let saved = crate::services::search::saved(&backend.state, &principal).await?;
    Ok(saved
        .into_iter()
        .map(|s| SavedSearchView {
            id: s.search.id,
            name: s.search.name,
            q: s.search.q,
            count: s.count.map(count_view),
        })
        .collect())
}

pub(super) async fn save(backend: &ServerBackend, name: String, q: String, csrf: String) -> Result<(), AppError> {
    let principal = backend.acting_principal(&csrf).await?;
    crate::services::search::save(&backend.state, &principal, SaveRequest { name, q }).await?;
    Ok(())
}

pub(super) async fn delete_saved(backend: &ServerBackend, id: i64, csrf: String) -> Result<(), AppError> {
    let principal = backend.acting_principal(&csrf).await?;
    Ok(crate::services::search::delete_saved(&backend.state, &principal, id).await?)
}
