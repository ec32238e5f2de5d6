//! `/api/v1/queues/{queue}/limits`: the limits every worker of a queue obeys together.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use hoist_queue::{QueueLimits, RateLimit};
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiPath};
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::client_addr::ClientAddr;
use crate::services::limits as service;
use crate::state::AppState;

/// A queue's limits across all its workers; `null` parts are not limited.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most jobs active at once across every worker (1 to 100,000).
    #[schema(required, nullable, minimum = 1, maximum = 100000)]
    #[serde(deserialize_with = "super::required_nullable")]
    pub concurrency: Option<u32>,
    /// Most job starts per window across every worker.
    #[schema(required, nullable)]
    #[serde(deserialize_with = "super::required_nullable")]
    pub rate: Option<Rate>,
    /// Jobs each process runs at once (1 to 10,000), in place of the concurrency it was
    /// started with; `null`: each its own. Every process applies a change within moments.
    #[schema(required, nullable, minimum = 1, maximum = 10000)]
    #[serde(deserialize_with = "super::required_nullable")]
    pub process_concurrency: Option<u32>,
    /// Most jobs of any one group (`options.group`) active at once across every worker
    /// (1 to 100,000); `null`: no cap. Groups are served in turn either way.
    #[schema(required, nullable, minimum = 1, maximum = 100000)]
    #[serde(deserialize_with = "super::required_nullable")]
    pub group_concurrency: Option<u32>,
}

/// `max` job starts per `per_ms` milliseconds.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// 1 to 1,000,000.
    #[schema(minimum = 1, maximum = 1000000)]
    pub max: u32,
    /// The window, in milliseconds (1 to 365 days).
    #[schema(minimum = 1, maximum = 31536000000_u64)]
    pub per_ms: u64,
}

impl From<QueueLimits> for Limits {
    fn from(limits: QueueLimits) -> Self {
        Limits {
            concurrency: limits.concurrency,
            rate: limits.rate.map(|rate| Rate { max: rate.max, per_ms: rate.per.as_millis() as u64 }),
            process_concurrency: limits.process_concurrency,
            group_concurrency: limits.group_concurrency,
        }
    }
}

impl From<Limits> for QueueLimits {
    fn from(limits: Limits) -> Self {
        QueueLimits {
            concurrency: limits.concurrency,
            rate: limits.rate.map(|rate| RateLimit { max: rate.max, per: Duration::from_millis(rate.per_ms) }),
            process_concurrency: limits.process_concurrency,
            group_concurrency: limits.group_concurrency,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/queues/{queue}/limits", tag = "queues", params(("queue" = String, Path, description = "Queue name")), responses((status = 200, body = Limits), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role", body = crate::openapi::ErrorBody)))]
pub async fn limits(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(queue): ApiPath<String>,
) -> Result<Json<Limits>, ApiError> {
    Ok(Json(service::limits(&state, &principal, &queue).await?.into()))
}

/// Replaces the queue's limits; every process obeys them from its next claim, and idle
/// workers are woken at once.
#[utoipa::path(put, path = "/api/v1/queues/{queue}/limits", tag = "queues", params(("queue" = String, Path, description = "Queue name")), request_body = Limits, responses((status = 200, description = "The limits now in force", body = Limits), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn set_limits(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath(queue): ApiPath<String>,
    ApiJson(limits): ApiJson<Limits>,
) -> Result<Json<Limits>, ApiError> {
    let set = service::set_limits(&state, &principal, Some(addr.ip().to_string()), &queue, limits.into())
        .await
        .map_err(|error| match error {
            // The engine names the window `rate.per`; here it is `rate.per_ms`.
            ApiError::Invalid { field, message } if field == "rate.per" => {
                ApiError::Invalid { field: "rate.per_ms".into(), message }
            }
            other => other,
        })?;
    Ok(Json(set.into()))
}
