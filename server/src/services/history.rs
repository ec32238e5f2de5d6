//! Searching the SQL job history, with each role's view of it.

use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::history::{self, HistoryPage, HistoryQuery};
use crate::state::AppState;
use crate::users::Role;

/// Finished jobs matching the query, newest first. End users search only their own
/// jobs, whatever owner they ask for.
pub async fn search(state: &AppState, principal: &Principal, mut query: HistoryQuery) -> Result<HistoryPage, ApiError> {
    if principal.role == Role::User {
        query.owner = Some(principal.user_id.to_string());
    }
    history::search(&state.db, &query).await?.map_err(|bad| ApiError::invalid(bad.field, bad.message))
}
