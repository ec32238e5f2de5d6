//! Bank connections: end users see and sync their own; staff see all, operators sync any.

use std::time::Duration;

use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::processors::sync::{self, store};
use crate::state::AppState;
use crate::users::Role;

/// First retry delay of syncs raised through the API.
const RETRY_BASE: Duration = Duration::from_secs(5);

fn visible(principal: &Principal, connection: &store::Connection) -> bool {
    principal.role != Role::User || connection.owner == principal.user_id.to_string()
}

pub async fn list(state: &AppState, principal: &Principal) -> Result<Vec<store::Connection>, ApiError> {
    let owner = (principal.role == Role::User).then(|| principal.user_id.to_string());
    Ok(store::connections(&state.db, owner.as_deref()).await?)
}

pub async fn get(state: &AppState, principal: &Principal, id: i64) -> Result<store::Connection, ApiError> {
    store::connection(&state.db, id)
        .await?
        .filter(|c| visible(principal, c))
        .ok_or_else(|| ApiError::NotFound(format!("connection {id}")))
}

/// Queues a sync of the connection; returns the job id.
pub async fn sync_now(state: &AppState, principal: &Principal, id: i64) -> Result<String, ApiError> {
    if principal.role == Role::Viewer {
        return Err(ApiError::Forbidden("viewers cannot start a sync".into()));
    }
    let connection = get(state, principal, id).await?;
    if connection.status == "requires_reauth" {
        return Err(ApiError::Conflict {
            message: "the connection needs the user to authorize it again".into(),
            existing_id: None,
        });
    }
    let queue = crate::services::jobs::queue_to_enqueue(state, sync::QUEUE).await?;
    let enqueued = sync::enqueue_sync(&queue, RETRY_BASE, id, &connection.owner, None, None).await?;
    Ok(enqueued.id)
}
