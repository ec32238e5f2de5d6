//! Job history records the database refused (see [`crate::history::quarantine`]): admins
//! only, since a record holds any user's payload and the database's error.

use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::history::{self, QuarantinePage, QuarantineQuery};
use crate::policy::{Action, authorize};
use crate::state::AppState;

/// Quarantined records, newest first. Admin only: the one staff-only action that is not
/// about changing queues is administering users and the audit log, and quarantined
/// records are records of the same kind (the system's, about everyone).
pub async fn list(state: &AppState, principal: &Principal, query: QuarantineQuery) -> Result<QuarantinePage, ApiError> {
    authorize(principal, Action::AdministerUsers)?;
    history::quarantined(&state.db, &query).await?.map_err(|bad| ApiError::invalid(bad.field, bad.message))
}
