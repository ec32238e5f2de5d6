//! `/api/v1/schedules`: list, get (with recent fires), put, delete, pause, resume, run.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hoist_queue::{ScheduleInfo, ScheduleSpec};
use serde_json::{Value, json};

use super::{ApiJson, ApiPath};
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::client_addr::ClientAddr;
use crate::services::schedules::{self as service, ScheduleDetail};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", responses((status = 200, body = Vec<hoist_queue::ScheduleInfo>), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn list(State(state): State<AppState>, principal: Principal) -> Result<Json<Vec<ScheduleInfo>>, ApiError> {
    Ok(Json(service::list(&state, &principal).await?))
}

#[utoipa::path(get, path = "/api/v1/schedules/{name}", tag = "schedules", params(("name" = String, Path)), responses((status = 200, body = crate::services::schedules::ScheduleDetail), (status = 404, body = crate::openapi::ErrorBody), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<ScheduleDetail>, ApiError> {
    Ok(Json(service::get(&state, &principal, &name).await?))
}

#[utoipa::path(put, path = "/api/v1/schedules/{name}", tag = "schedules", params(("name" = String, Path)), request_body = hoist_queue::ScheduleSpec, responses((status = 200, body = crate::services::schedules::ScheduleDetail), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath(name): ApiPath<String>,
    ApiJson(spec): ApiJson<ScheduleSpec>,
) -> Result<Json<ScheduleDetail>, ApiError> {
    Ok(Json(service::upsert(&state, &principal, Some(addr.ip().to_string()), &name, spec).await?))
}

#[utoipa::path(delete, path = "/api/v1/schedules/{name}", tag = "schedules", params(("name" = String, Path)), responses((status = 204, description = "Removed"), (status = 404, body = crate::openapi::ErrorBody), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    service::act(&state, &principal, Some(addr.ip().to_string()), &name, "remove").await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/schedules/{name}/{action}", tag = "schedules", params(("name" = String, Path), ("action" = String, Path, description = "pause, resume or run")), responses((status = 200, body = Object), (status = 404, body = crate::openapi::ErrorBody), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn action(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath((name, action)): ApiPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let action = match action.as_str() {
        "pause" => "pause",
        "resume" => "resume",
        "run" => "run",
        other => return Err(ApiError::NotFound(format!("action {other}"))),
    };
    let enqueued = service::act(&state, &principal, Some(addr.ip().to_string()), &name, action).await?;
    Ok(Json(json!({ "jobs": enqueued })))
}
