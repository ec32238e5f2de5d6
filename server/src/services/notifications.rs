//! Raising notifications: checked here, delivered by the notifications processor.

use hoist_queue::{Enqueued, NewJob};

use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::policy::{Action, authorize};
use crate::processors::notifications::{self, SignInNotice};
use crate::state::AppState;

/// Queues a sign-in notice. Services (operator or admin tokens) raise them; the same
/// `event_id` twice gives the first job back (`duplicate`), and an 11th notice for one
/// user within an hour is refused with 429.
pub async fn sign_in(state: &AppState, principal: &Principal, notice: SignInNotice) -> Result<Enqueued, ApiError> {
    authorize(principal, Action::RaiseNotifications)?;
    if notice.user_id.trim().is_empty() {
        return Err(ApiError::invalid("user_id", "user_id is required"));
    }
    if notice.email.parse::<lettre::message::Mailbox>().is_err() {
        return Err(ApiError::invalid("email", "not an email address"));
    }
    if notice.ip.trim().is_empty() {
        return Err(ApiError::invalid("ip", "ip is required"));
    }
    if let Some(zone) = &notice.timezone
        && zone.parse::<chrono_tz::Tz>().is_err()
    {
        return Err(ApiError::invalid("timezone", format!("unknown time zone {zone:?}")));
    }
    if notice.event_id.as_deref().is_some_and(|e| e.trim().is_empty()) {
        return Err(ApiError::invalid("event_id", "must not be empty"));
    }
    let dedup = notice.event_id.as_ref().map(|e| format!("sign-in:{e}"));
    let options = notifications::job_options(&notice.user_id, dedup);
    let mut notice = notice;
    notice.at.get_or_insert_with(crate::db::now_ms);
    let payload = serde_json::to_value(&notice).map_err(anyhow::Error::from)?;
    let queue = crate::services::jobs::queue_to_enqueue(state, &state.queue_names.notifications).await?;
    Ok(queue.enqueue(NewJob::new(notifications::SIGN_IN_NOTICE, payload).with_options(options)).await?)
}
