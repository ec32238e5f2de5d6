//! One search over every job, live or finished, with each role's view of it.

use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::db::now_ms;
use crate::policy::{self, Action, authorize};
use crate::search::{self, DEFAULT_LIMIT, SearchPage, SearchRequest, Term};
use crate::state::AppState;

/// Jobs matching the query: live ones first (newest first), then finished ones (newest
/// ending first). End users search only their own jobs, whatever the query says.
pub async fn search(state: &AppState, principal: &Principal, request: SearchRequest) -> Result<SearchPage, ApiError> {
    authorize(principal, Action::ReadJobs)?;
    let query = parse_for(principal, &request.q)?;
    if !state.history.enabled() {
        return Err(ApiError::Conflict {
            message: "search reads the job history's index, and history is off (HOIST_HISTORY_DAYS=0)".into(),
            existing_id: None,
        });
    }
    let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
    search::search(&state.db, &state.engine, &query, request.cursor.as_deref(), limit)
        .await?
        .map_err(|bad| ApiError::invalid(bad.field, bad.message))
}

/// The query as `principal` may run it: an end user's is limited to their own jobs.
pub fn parse_for(principal: &Principal, text: &str) -> Result<search::Query, ApiError> {
    let mut query = search::parse(text, now_ms()).map_err(|e| ApiError::invalid("q", e.to_string()))?;
    if let Some(owner) = policy::listing_owner(principal, None) {
        query.terms.push(Term::Owner(vec![owner]));
    }
    Ok(query)
}
