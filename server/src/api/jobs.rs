//! `/api/v1/queues/...`: enqueue, get, list and act on jobs; list, pause and resume queues.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use hoist_queue::{Job, JobPage, JobState};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, ApiQuery};
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::services::jobs::{self as service, EnqueueRequest, QueueSummary};
use crate::state::AppState;

/// `POST /api/v1/queues/{queue}/jobs` → 202 with the id; 409 with the existing id when
/// the dedup key is taken.
pub async fn enqueue_job(
    State(state): State<AppState>,
    principal: Principal,
    Path(queue): Path<String>,
    ApiJson(request): ApiJson<EnqueueRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let enqueued = service::enqueue(&state, &principal, &queue, request).await?;
    if enqueued.duplicate {
        return Err(ApiError::Conflict {
            message: "a job with this dedup key exists".into(),
            existing_id: Some(enqueued.id),
        });
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": enqueued.id, "queue": queue }))))
}

/// `GET /api/v1/queues/{queue}/jobs/{id}`
pub async fn get_job(
    State(state): State<AppState>,
    principal: Principal,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(service::get_job(&state, &principal, &queue, &id).await?))
}

#[derive(Deserialize)]
pub struct ListQuery {
    pub state: Option<String>,
    pub cursor: Option<u64>,
    pub limit: Option<u64>,
}

/// `GET /api/v1/queues/{queue}/jobs?state=waiting&cursor=0&limit=50`
pub async fn list_jobs(
    State(state): State<AppState>,
    principal: Principal,
    Path(queue): Path<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<JobPage>, ApiError> {
    let job_state = match query.state.as_deref() {
        None => JobState::Waiting,
        Some(s) => JobState::parse(s).ok_or_else(|| ApiError::invalid("state", format!("unknown state {s:?}")))?,
    };
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 500"));
    }
    Ok(Json(service::list_jobs(&state, &principal, &queue, job_state, query.cursor.unwrap_or(0), limit).await?))
}

/// `GET /api/v1/queues`
pub async fn list_queues(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<QueueSummary>>, ApiError> {
    Ok(Json(service::list_queues(&state, &principal).await?))
}

/// `POST /api/v1/queues/{queue}/jobs/{id}/{action}` (cancel, retry, promote) and
/// `DELETE /api/v1/queues/{queue}/jobs/{id}`.
pub async fn job_action(
    State(state): State<AppState>,
    principal: Principal,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path((queue, id, action)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let action = match action.as_str() {
        "cancel" => "cancel",
        "retry" => "retry",
        "promote" => "promote",
        other => return Err(ApiError::NotFound(format!("action {other}"))),
    };
    Ok(Json(service::act(&state, &principal, Some(addr.ip().to_string()), &queue, Some(&id), action).await?))
}

pub async fn remove_job(
    State(state): State<AppState>,
    principal: Principal,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path((queue, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service::act(&state, &principal, Some(addr.ip().to_string()), &queue, Some(&id), "remove").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/queues/{queue}/pause` and `/resume`
pub async fn queue_action(
    State(state): State<AppState>,
    principal: Principal,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path((queue, action)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let action = match action.as_str() {
        "pause" => "pause",
        "resume" => "resume",
        other => return Err(ApiError::NotFound(format!("action {other}"))),
    };
    Ok(Json(service::act(&state, &principal, Some(addr.ip().to_string()), &queue, None, action).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub jobs: Vec<EnqueueRequest>,
}

/// `POST /api/v1/queues/{queue}/jobs/bulk` `{"jobs": [...]}` → 202 with each id and
/// whether it was a duplicate; all or none.
pub async fn enqueue_bulk(
    State(state): State<AppState>,
    principal: Principal,
    Path(queue): Path<String>,
    ApiJson(request): ApiJson<BulkRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let enqueued = service::enqueue_bulk(&state, &principal, &queue, request.jobs).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "queue": queue, "jobs": enqueued }))))
}

/// `GET /api/v1/queues/{queue}/health`
pub async fn queue_health(
    State(state): State<AppState>,
    _principal: Principal,
    Path(queue): Path<String>,
) -> Result<Json<crate::services::health::QueueHealth>, ApiError> {
    Ok(Json(crate::services::health::queue_health(&state, &queue, crate::db::now_ms()).await?))
}

/// `POST /api/v1/queues/{queue}/maintenance` with `{"action": "drain" | "clean" |
/// "retry-all", ...}` → how many jobs it touched.
pub async fn maintenance(
    State(state): State<AppState>,
    principal: Principal,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(queue): Path<String>,
    ApiJson(action): ApiJson<service::Maintenance>,
) -> Result<Json<Value>, ApiError> {
    let affected = service::maintain(&state, &principal, Some(addr.ip().to_string()), &queue, action).await?;
    Ok(Json(json!({ "affected": affected })))
}

#[derive(Deserialize)]
pub struct MetricsQuery {
    /// How many minutes back from now (default 60, at most 14 days).
    pub minutes: Option<i64>,
}

/// `GET /api/v1/queues/{queue}/metrics?minutes=60`: completed, failed, dead and run time
/// per minute, oldest first.
pub async fn metrics(
    State(state): State<AppState>,
    _principal: Principal,
    Path(queue): Path<String>,
    ApiQuery(query): ApiQuery<MetricsQuery>,
) -> Result<Json<Vec<hoist_queue::MinuteStats>>, ApiError> {
    let minutes = query.minutes.unwrap_or(60);
    if !(1..=14 * 24 * 60).contains(&minutes) {
        return Err(ApiError::invalid("minutes", "must be between 1 and 20160 (14 days)"));
    }
    let now = crate::db::now_ms() / 60_000;
    let queue = hoist_queue::Queue::new(&state.engine, &queue)?;
    Ok(Json(queue.stats(now - minutes + 1, now).await?))
}
