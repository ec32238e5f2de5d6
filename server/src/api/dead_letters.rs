//! `/api/v1/dead-letters`: browse across queues; requeue or purge by selection or filter.

use axum::Json;
use axum::extract::State;
use hoist_queue::Job;
use serde::Deserialize;

use super::{ApiJson, ApiQuery};
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::client_addr::ClientAddr;
use crate::services::dead_letters::{self as service, DeadFilter, Selection};
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub queue: Option<String>,
    pub error: Option<String>,
    pub older_than_ms: Option<u64>,
    pub newer_than_ms: Option<u64>,
    pub limit: Option<usize>,
}

/// `GET /api/v1/dead-letters?queue=&error=&older_than_ms=&newer_than_ms=&limit=`
#[utoipa::path(get, path = "/api/v1/dead-letters", tag = "dead letters", params(ListQuery), responses((status = 200, body = Vec<hoist_queue::Job>), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<Job>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let filter =
        DeadFilter { queue: q.queue, error: q.error, older_than_ms: q.older_than_ms, newer_than_ms: q.newer_than_ms };
    Ok(Json(service::list(&state, &principal, &filter, limit).await?))
}

/// `POST /api/v1/dead-letters/requeue` with `{"jobs": {"queue", "ids"}}` or `{"filter": {...}}`
#[utoipa::path(post, path = "/api/v1/dead-letters/requeue", tag = "dead letters", request_body = crate::services::dead_letters::Selection, responses((status = 200, body = super::Affected), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn requeue(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiJson(selection): ApiJson<Selection>,
) -> Result<Json<super::Affected>, ApiError> {
    let affected = service::requeue_or_purge(&state, &principal, Some(addr.ip().to_string()), selection, false).await?;
    Ok(Json(super::Affected { affected }))
}

/// `POST /api/v1/dead-letters/purge`, same body as requeue.
#[utoipa::path(post, path = "/api/v1/dead-letters/purge", tag = "dead letters", request_body = crate::services::dead_letters::Selection, responses((status = 200, body = super::Affected), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn purge(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiJson(selection): ApiJson<Selection>,
) -> Result<Json<super::Affected>, ApiError> {
    let affected = service::requeue_or_purge(&state, &principal, Some(addr.ip().to_string()), selection, true).await?;
    Ok(Json(super::Affected { affected }))
}
