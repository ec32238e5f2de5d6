//! The search page: one query over every job, and autocomplete.

use app::error::AppError;
use app::types::{SearchRow, SearchView};

use super::ServerBackend;
use crate::search::SearchRequest;
use crate::search::suggest::SuggestRequest;

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
