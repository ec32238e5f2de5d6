//! `/api/v1/connections`: bank connections and their syncs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::ApiPath;
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::processors::sync::store::Connection;
use crate::services::connections as service;
use crate::state::AppState;

/// 202 reply to a sync request: the job to watch.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SyncStarted {
    pub job_id: String,
    pub connection_id: i64,
}

/// The `{id}` of a connection's path (named, so a bad value's error names `id`).
#[derive(serde::Deserialize)]
pub struct ConnectionId {
    pub id: i64,
}

#[utoipa::path(get, path = "/api/v1/connections", tag = "connections",
    responses((status = 200, body = Vec<Connection>), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn list(State(state): State<AppState>, principal: Principal) -> Result<Json<Vec<Connection>>, ApiError> {
    Ok(Json(service::list(&state, &principal).await?))
}

#[utoipa::path(get, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = i64, Path)),
    responses((status = 200, body = Connection), (status = 400, description = "The id is not a number", body = crate::openapi::ErrorBody), (status = 404, description = "No such connection, or not yours", body = crate::openapi::ErrorBody),
        (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(ConnectionId { id }): ApiPath<ConnectionId>,
) -> Result<Json<Connection>, ApiError> {
    Ok(Json(service::get(&state, &principal, id).await?))
}

#[utoipa::path(post, path = "/api/v1/connections/{id}/sync", tag = "connections", params(("id" = i64, Path)),
    responses((status = 202, body = SyncStarted), (status = 400, description = "The id is not a number", body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody),
        (status = 409, description = "The connection needs re-authorization", body = crate::openapi::ErrorBody),
        (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody)))]
pub async fn sync(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(ConnectionId { id }): ApiPath<ConnectionId>,
) -> Result<(StatusCode, Json<SyncStarted>), ApiError> {
    let job_id = service::sync_now(&state, &principal, id).await?;
    Ok((StatusCode::ACCEPTED, Json(SyncStarted { job_id, connection_id: id })))
}
