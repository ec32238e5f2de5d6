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
    /// Refused because of one field's value (an option end users may not set).
    #[error("{message}")]
    ForbiddenField { field: String, message: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{message}")]
    Conflict { message: String, existing_id: Option<String> },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("too many requests; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    /// The server is too busy for this now (e.g. password checks); try again shortly.
    #[error("server busy; retry in {} s", retry_after.as_secs().max(1))]
    Unavailable { retry_after: Duration },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid { field: field.into(), message: message.into() }
    }

    /// The same error with its field named inside `prefix` (`jobs[3]` + `name` →
    /// `jobs[3].name`), for errors about one item of a list.
    pub fn within(self, prefix: &str) -> Self {
        match self {
            ApiError::Invalid { field, message } => ApiError::Invalid { field: format!("{prefix}.{field}"), message },
            ApiError::ForbiddenField { field, message } => {
                ApiError::ForbiddenField { field: format!("{prefix}.{field}"), message }
            }
            other => other,
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid"),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            ApiError::Forbidden(_) | ApiError::ForbiddenField { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
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

impl ApiError {
    /// The status and the JSON body of the answer (an internal error's cause is logged
    /// here; the client gets a clean message).
    pub fn parts(&self) -> (StatusCode, serde_json::Value) {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let mut body = json!({ "code": code, "message": self.to_string() });
        match self {
            ApiError::Invalid { field, .. } | ApiError::ForbiddenField { field, .. } => body["field"] = json!(field),
            ApiError::Conflict { existing_id: Some(id), .. } => body["existing_id"] = json!(id),
            _ => {}
        }
        (status, json!({ "error": body }))
    }
}

/// Middleware: every error answer under `/api/v1/` has the API's JSON body, also those
/// written by the framework rather than a handler (an unknown route, a wrong method, a
/// timeout, a refused WebSocket upgrade). Those bodies are plain text; the text becomes
/// the message and the status picks the code.
pub async fn json_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let under_api = request.uri().path().starts_with("/api/v1/") || request.uri().path() == "/api/v1";
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !under_api || is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(bytes) if !bytes.is_empty() && !bytes.starts_with(b"<") => {
            String::from_utf8_lossy(&bytes).trim().to_string()
        }
        _ => status.canonical_reason().unwrap_or("error").to_string(),
    };
    let code = match status {
        StatusCode::BAD_REQUEST => "invalid",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "invalid",
    };
    let message = if status == StatusCode::NOT_FOUND { "no such route".to_string() } else { text };
    let mut body = json!({ "code": code, "message": message });
    if code == "invalid" {
        body["field"] = json!("request");
    }
    let mut response = (status, Json(json!({ "error": body }))).into_response();
    for (name, value) in parts.headers.iter() {
        if matches!(*name, header::RETRY_AFTER | header::ALLOW) {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.parts();
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited { retry_after } | ApiError::Unavailable { retry_after } = &self
            && let Ok(value) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
