//! The one error type of the HTTP API: every error answers with its status and the same
//! JSON shape, `{"error": {"code", "message", "field"?, "existing_id"?}}`.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hoist_queue::QueueError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid username or password")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{message}")]
    Conflict { message: String, existing_id: Option<String> },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("too many requests; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid { field: field.into(), message: message.into() }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid"),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::InvalidQueueName { .. } => ApiError::invalid("queue", error.to_string()),
            QueueError::InvalidOption { field, .. } => ApiError::invalid(field, error.to_string()),
            QueueError::PayloadTooLarge { .. } => ApiError::PayloadTooLarge(error.to_string()),
            QueueError::NotFound { id } => ApiError::NotFound(format!("job {id}")),
            QueueError::WrongState { .. } | QueueError::ActiveJobs => {
                ApiError::Conflict { message: error.to_string(), existing_id: None }
            }
            QueueError::RateLimited { retry_after } => ApiError::RateLimited { retry_after },
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::Internal(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(cause) = &self {
            // The client gets a clean message; the detail goes to the log.
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let mut body = json!({ "code": code, "message": self.to_string() });
        match &self {
            ApiError::Invalid { field, .. } => body["field"] = json!(field),
            ApiError::Conflict { existing_id: Some(id), .. } => body["existing_id"] = json!(id),
            _ => {}
        }
        let mut response = (status, Json(json!({ "error": body }))).into_response();
        if let ApiError::RateLimited { retry_after } = &self
            && let Ok(value) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
