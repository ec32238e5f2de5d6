//! Searching the SQL job history, with each role's view of it.

use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::history::{self, HistoryPage, HistoryQuery};
use crate::policy::{self, Action, authorize};
use crate::state::AppState;

/// Finished jobs matching the query, newest first. End users search only their own
/// jobs, whatever owner they ask for.
pub async fn search(state: &AppState, principal: &Principal, mut query: HistoryQuery) -> Result<HistoryPage, ApiError> {
    authorize(principal, Action::ReadJobs)?;
    query.owner = policy::listing_owner(principal, query.owner.take());
    history::search(&state.db, &query).await?.map_err(|bad| ApiError::invalid(bad.field, bad.message))
}
