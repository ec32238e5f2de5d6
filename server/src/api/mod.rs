//! The REST API under `/api/v1`: thin handlers over the services.

pub mod admin;
pub mod connections;
pub mod dead_letters;
pub mod history;
pub mod jobs;
pub mod notifications;
pub mod schedules;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};

use crate::api_error::ApiError;

/// 202 reply to an enqueue.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub id: String,
    pub queue: String,
}

/// 202 reply to a bulk enqueue: every job's id and whether it was a duplicate.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct BulkAccepted {
    pub queue: String,
    pub jobs: Vec<hoist_queue::Enqueued>,
}

/// How many jobs an operation touched.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Affected {
    pub affected: u64,
}

/// The id of something created.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Created {
    pub id: i64,
}

/// `Json` whose rejections answer in the API's error shape, naming the field at fault.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `Query` whose rejections answer in the API's error shape, naming the parameter.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let message = rejection.body_text();
        // "Failed to deserialize query string: from: invalid digit found in string", or
        // "... unknown field `x`, expected ...".
        let field = match message.split('`').nth(1) {
            Some(name) => name.to_string(),
            None => message
                .split_once("query string: ")
                .and_then(|(_, rest)| rest.split_once(':'))
                .map(|(name, _)| name.trim().to_string())
                .unwrap_or_else(|| "query".to_string()),
        };
        ApiError::Invalid { field, message }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let message = rejection.body_text();
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::PayloadTooLarge(message);
        }
        // serde names the culprit in backticks: "missing field `name`", "unknown field `x`".
        let field = message.split('`').nth(1).unwrap_or("body").to_string();
        ApiError::Invalid { field, message }
    }
}
