//! `/api/v1/queues/{queue}/settings`: a queue's effective settings and their sources.

use axum::Json;
use axum::extract::State;

use super::ApiPath;
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::services::settings::{self as service, QueueSettingsView};
use crate::state::AppState;

/// Each setting in force for the queue in this server (`hoist.toml`, the environment
/// over it, the defaults under it) and where it came from.
#[utoipa::path(get, path = "/api/v1/queues/{queue}/settings", tag = "queues", params(("queue" = String, Path, description = "Queue name")), responses((status = 200, body = QueueSettingsView), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role", body = crate::openapi::ErrorBody)))]
pub async fn settings(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(queue): ApiPath<String>,
) -> Result<Json<QueueSettingsView>, ApiError> {
    Ok(Json(service::queue_settings(&state, &principal, &queue)?))
}
