//! `/api/v1/queues/...`: enqueue, get, list and act on jobs; list, pause and resume queues.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hoist_queue::{Job, JobPage, JobState};
use serde::Deserialize;
use serde_json::Value;

use super::{ApiJson, ApiPath, ApiQuery};
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::client_addr::ClientAddr;
use crate::services::jobs::{self as service, EnqueueRequest, QueueSummary};
use crate::state::AppState;

/// `POST /api/v1/queues/{queue}/jobs` → 202 with the id; 409 with the existing id when
/// the dedup key is taken.
#[utoipa::path(post, path = "/api/v1/queues/{queue}/jobs", tag = "jobs", params(("queue" = String, Path, description = "Queue name")), request_body = crate::services::jobs::EnqueueRequest, responses((status = 202, body = super::Accepted), (status = 409, description = "The dedup key is taken; `error.existing_id` is the job", body = crate::openapi::ErrorBody), (status = 413, body = crate::openapi::ErrorBody), (status = 429, description = "Rate limit of the job's key; see Retry-After", body = crate::openapi::ErrorBody), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn enqueue_job(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(queue): ApiPath<String>,
    ApiJson(request): ApiJson<EnqueueRequest>,
) -> Result<(StatusCode, Json<super::Accepted>), ApiError> {
    let enqueued = service::enqueue(&state, &principal, &queue, request).await?;
    if enqueued.duplicate {
        return Err(ApiError::Conflict {
            message: "a job with this dedup key exists".into(),
            existing_id: Some(enqueued.id),
        });
    }
    Ok((StatusCode::ACCEPTED, Json(super::Accepted { id: enqueued.id, queue })))
}

/// `GET /api/v1/queues/{queue}/jobs/{id}`
#[utoipa::path(get, path = "/api/v1/queues/{queue}/jobs/{id}", tag = "jobs", params(("queue" = String, Path, description = "Queue name"), ("id" = String, Path, description = "Job id")), responses((status = 200, body = hoist_queue::Job), (status = 404, description = "No such job, or not yours", body = crate::openapi::ErrorBody), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn get_job(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((queue, id)): ApiPath<(String, String)>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(service::get_job(&state, &principal, &queue, &id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// waiting (default), delayed, retrying, active, completed, dead, cancelled or expired.
    pub state: Option<String>,
    /// Only this owner's jobs (end users always see only their own).
    pub owner: Option<String>,
    /// Only jobs with this name.
    pub name: Option<String>,
    /// `next` of the previous page.
    pub cursor: Option<u64>,
    /// 1 to 500 (default 50).
    pub limit: Option<u64>,
}

/// `GET /api/v1/queues/{queue}/jobs?state=waiting&owner=&name=&cursor=0&limit=50`
#[utoipa::path(get, path = "/api/v1/queues/{queue}/jobs", tag = "jobs", params(("queue" = String, Path, description = "Queue name"), ListQuery), responses((status = 200, body = hoist_queue::JobPage), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn list_jobs(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(queue): ApiPath<String>,
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
    let filter = service::JobFilter { owner: query.owner, name: query.name };
    Ok(Json(service::list_jobs(&state, &principal, &queue, job_state, filter, query.cursor.unwrap_or(0), limit).await?))
}

/// `GET /api/v1/queues`
#[utoipa::path(get, path = "/api/v1/queues", tag = "queues", responses((status = 200, body = Vec<crate::services::jobs::QueueSummary>), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn list_queues(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<QueueSummary>>, ApiError> {
    Ok(Json(service::list_queues(&state, &principal).await?))
}

/// `POST /api/v1/queues/{queue}/jobs/{id}/{action}` (cancel, retry, promote) and
/// `DELETE /api/v1/queues/{queue}/jobs/{id}`.
#[utoipa::path(post, path = "/api/v1/queues/{queue}/jobs/{id}/{action}", tag = "jobs", params(("queue" = String, Path, description = "Queue name"), ("id" = String, Path, description = "Job id"), ("action" = String, Path, description = "cancel, retry or promote")), responses((status = 200, body = Object), (status = 404, body = crate::openapi::ErrorBody), (status = 409, description = "Not possible in the job's state", body = crate::openapi::ErrorBody), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn job_action(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath((queue, id, action)): ApiPath<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let action = match action.as_str() {
        "cancel" => "cancel",
        "retry" => "retry",
        "promote" => "promote",
        other => return Err(ApiError::NotFound(format!("action {other}"))),
    };
    Ok(Json(service::act(&state, &principal, Some(addr.ip().to_string()), &queue, Some(&id), action).await?))
}

/// `POST /api/v1/queues/{queue}/jobs/{id}/retry-edited`: a dead or cancelled job retried
/// with a new payload.
#[utoipa::path(post, path = "/api/v1/queues/{queue}/jobs/{id}/retry-edited", tag = "jobs", params(("queue" = String, Path, description = "Queue name"), ("id" = String, Path, description = "Job id")), request_body = crate::services::jobs::RetryEdited, responses((status = 200, body = Object), (status = 404, body = crate::openapi::ErrorBody), (status = 409, description = "The job is not dead or cancelled", body = crate::openapi::ErrorBody), (status = 413, description = "The payload is over the queue's size", body = crate::openapi::ErrorBody), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn retry_edited(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath((queue, id)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<service::RetryEdited>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(service::retry_edited(&state, &principal, Some(addr.ip().to_string()), &queue, &id, request).await?))
}

/// `POST /api/v1/queues/{queue}/jobs/{id}/duplicate` → 202 with the copy's id.
#[utoipa::path(post, path = "/api/v1/queues/{queue}/jobs/{id}/duplicate", tag = "jobs", params(("queue" = String, Path, description = "Queue name"), ("id" = String, Path, description = "Job id")), responses((status = 202, body = super::Accepted), (status = 404, body = crate::openapi::ErrorBody), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn duplicate(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath((queue, id)): ApiPath<(String, String)>,
) -> Result<(StatusCode, Json<super::Accepted>), ApiError> {
    let copy = service::duplicate(&state, &principal, Some(addr.ip().to_string()), &queue, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(super::Accepted { id: copy.id, queue })))
}

#[utoipa::path(delete, path = "/api/v1/queues/{queue}/jobs/{id}", tag = "jobs", params(("queue" = String, Path, description = "Queue name"), ("id" = String, Path, description = "Job id")), responses((status = 204, description = "Removed"), (status = 404, body = crate::openapi::ErrorBody), (status = 409, description = "Active jobs are cancelled, not removed", body = crate::openapi::ErrorBody), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn remove_job(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath((queue, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service::act(&state, &principal, Some(addr.ip().to_string()), &queue, Some(&id), "remove").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/queues/{queue}/pause` and `/resume`
#[utoipa::path(post, path = "/api/v1/queues/{queue}/{action}", tag = "queues", params(("queue" = String, Path, description = "Queue name"), ("action" = String, Path, description = "pause or resume")), responses((status = 200, body = Object), (status = 404, description = "No such action", body = crate::openapi::ErrorBody), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn queue_action(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath((queue, action)): ApiPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let action = match action.as_str() {
        "pause" => "pause",
        "resume" => "resume",
        other => return Err(ApiError::NotFound(format!("action {other}"))),
    };
    Ok(Json(service::act(&state, &principal, Some(addr.ip().to_string()), &queue, None, action).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub jobs: Vec<EnqueueRequest>,
}

/// `POST /api/v1/queues/{queue}/jobs/bulk` `{"jobs": [...]}` → 202 with each id and
/// whether it was a duplicate; all or none.
#[utoipa::path(post, path = "/api/v1/queues/{queue}/jobs/bulk", tag = "jobs", params(("queue" = String, Path, description = "Queue name")), request_body = BulkRequest, responses((status = 202, body = super::BulkAccepted), (status = 413, body = crate::openapi::ErrorBody), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn enqueue_bulk(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(queue): ApiPath<String>,
    ApiJson(request): ApiJson<BulkRequest>,
) -> Result<(StatusCode, Json<super::BulkAccepted>), ApiError> {
    let jobs = service::enqueue_bulk(&state, &principal, &queue, request.jobs).await?;
    Ok((StatusCode::ACCEPTED, Json(super::BulkAccepted { queue, jobs })))
}

/// `GET /api/v1/queues/{queue}/health`
#[utoipa::path(get, path = "/api/v1/queues/{queue}/health", tag = "queues", params(("queue" = String, Path, description = "Queue name")), responses((status = 200, body = crate::services::health::QueueHealth), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn queue_health(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(queue): ApiPath<String>,
) -> Result<Json<crate::services::health::QueueHealth>, ApiError> {
    Ok(Json(crate::services::health::queue_health(&state, &principal, &queue).await?))
}

/// `POST /api/v1/queues/{queue}/maintenance` with `{"action": "drain" | "clean" |
/// "retry-all", ...}` → how many jobs it touched.
#[utoipa::path(post, path = "/api/v1/queues/{queue}/maintenance", tag = "queues", params(("queue" = String, Path, description = "Queue name")), request_body = crate::services::jobs::Maintenance, responses((status = 200, body = super::Affected), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn maintenance(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath(queue): ApiPath<String>,
    ApiJson(action): ApiJson<service::Maintenance>,
) -> Result<Json<super::Affected>, ApiError> {
    let affected = service::maintain(&state, &principal, Some(addr.ip().to_string()), &queue, action).await?;
    Ok(Json(super::Affected { affected }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// How many minutes back from now (default 60, at most 14 days).
    pub minutes: Option<i64>,
}

/// `GET /api/v1/queues/{queue}/metrics?minutes=60`: completed, failed, dead and run time
/// per minute, oldest first.
#[utoipa::path(get, path = "/api/v1/queues/{queue}/metrics", tag = "queues", params(("queue" = String, Path, description = "Queue name"), MetricsQuery), responses((status = 200, body = Vec<hoist_queue::MinuteStats>), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn metrics(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(queue): ApiPath<String>,
    ApiQuery(query): ApiQuery<MetricsQuery>,
) -> Result<Json<Vec<hoist_queue::MinuteStats>>, ApiError> {
    Ok(Json(service::queue_metrics(&state, &principal, &queue, query.minutes.unwrap_or(60)).await?))
}
