//! Bank connections: end users see and sync their own; staff see all, operators sync any.

use std::time::Duration;

use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::policy::{self, Action, authorize};
use crate::processors::sync::{self, store};
use crate::state::AppState;

/// First retry delay of syncs raised through the API.
const RETRY_BASE: Duration = Duration::from_secs(5);

pub async fn list(state: &AppState, principal: &Principal) -> Result<Vec<store::Connection>, ApiError> {
    authorize(principal, Action::ReadJobs)?;
    let owner = policy::listing_owner(principal, None);
    Ok(store::connections(&state.db, owner.as_deref()).await?)
}

pub async fn get(state: &AppState, principal: &Principal, id: i64) -> Result<store::Connection, ApiError> {
    authorize(principal, Action::ReadJobs)?;
    visible(state, principal, id).await
}

/// The connection if the caller may see it (for an end user: theirs), else not found.
async fn visible(state: &AppState, principal: &Principal, id: i64) -> Result<store::Connection, ApiError> {
    store::connection(&state.db, id)
        .await?
        .filter(|c| policy::may_see(principal, Some(&c.owner)))
        .ok_or_else(|| ApiError::NotFound(format!("connection {id}")))
}

/// Queues a sync of the connection; returns the job id.
pub async fn sync_now(state: &AppState, principal: &Principal, id: i64) -> Result<String, ApiError> {
    authorize(principal, Action::SyncConnection)?;
    let connection = visible(state, principal, id).await?;
    if connection.status == "requires_reauth" {
        return Err(ApiError::Conflict {
            message: "the connection needs the user to authorize it again".into(),
            existing_id: None,
        });
    }
    let queue = crate::services::jobs::queue_to_enqueue(state, &state.queue_names.sync).await?;
    let enqueued = sync::enqueue_sync(&queue, RETRY_BASE, id, &connection.owner, None, None).await?;
    Ok(enqueued.id)
}
