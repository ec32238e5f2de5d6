//! `/api/v1/dead-letters`: browse across queues; requeue or purge by selection or filter.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use hoist_queue::Job;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, ApiQuery};
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::services::dead_letters::{self as service, DeadFilter, Selection};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct ListQuery {
    pub queue: Option<String>,
    pub error: Option<String>,
    pub older_than_ms: Option<u64>,
    pub newer_than_ms: Option<u64>,
    pub limit: Option<usize>,
}

/// `GET /api/v1/dead-letters?queue=&error=&older_than_ms=&newer_than_ms=&limit=`
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
pub async fn requeue(
    State(state): State<AppState>,
    principal: Principal,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    ApiJson(selection): ApiJson<Selection>,
) -> Result<Json<Value>, ApiError> {
    let n = service::requeue_or_purge(&state, &principal, Some(addr.ip().to_string()), selection, false).await?;
    Ok(Json(json!({ "affected": n })))
}

/// `POST /api/v1/dead-letters/purge`, same body as requeue.
pub async fn purge(
    State(state): State<AppState>,
    principal: Principal,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    ApiJson(selection): ApiJson<Selection>,
) -> Result<Json<Value>, ApiError> {
    let n = service::requeue_or_purge(&state, &principal, Some(addr.ip().to_string()), selection, true).await?;
    Ok(Json(json!({ "affected": n })))
}
