//! A queue's effective settings and where each came from (`hoist.toml`, the
//! environment, a default), for staff: the queue page and `GET
//! /api/v1/queues/{queue}/settings`.

use serde::Serialize;

use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::policy::{Action, authorize};
use crate::settings::SettingRow;
use crate::state::AppState;

/// `GET /api/v1/queues/{queue}/settings`
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct QueueSettingsView {
    pub queue: String,
    /// The configuration file this server read, if any.
    pub file: Option<String>,
    pub settings: Vec<SettingRow>,
}

/// The rows of `queue`'s settings.
pub fn rows(state: &AppState, principal: &Principal, queue: &str) -> Result<Vec<SettingRow>, ApiError> {
    authorize(principal, Action::WatchQueues)?;
    crate::names::check_queue(queue)?;
    Ok(state.settings.queue(queue).rows())
}

pub fn queue_settings(state: &AppState, principal: &Principal, queue: &str) -> Result<QueueSettingsView, ApiError> {
    Ok(QueueSettingsView {
        queue: queue.to_string(),
        file: state.settings.file_name().map(str::to_string),
        settings: rows(state, principal, queue)?,
    })
}
