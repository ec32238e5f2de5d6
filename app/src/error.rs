//! The error of every server function: the REST API's error body, so a refused call looks
//! the same whichever door it came in by (`{"error": {"code", "message", "field"?}}`). The
//! server turns `code` into the HTTP status (401, 403, 400, …) when it answers.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// `invalid`, `unauthenticated`, `forbidden`, `not_found`, `conflict`, … (the API's codes).
    pub code: String,
    pub message: String,
    /// The input at fault, for `invalid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl AppError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        AppError { error: ErrorDetail { code: code.to_string(), message: message.into(), field: None } }
    }

    /// Bad input in `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut error = AppError::new("invalid", message);
        error.error.field = Some(field.to_string());
        error
    }

    pub fn internal(message: impl Into<String>) -> Self {
        AppError::new("internal", message)
    }

    /// The message to show.
    pub fn message(&self) -> &str {
        &self.error.message
    }

    /// The HTTP status the code stands for.
    pub fn status(&self) -> u16 {
        match self.error.code.as_str() {
            "invalid" => 400,
            "unauthenticated" | "bad_credentials" => 401,
            "forbidden" => 403,
            "not_found" => 404,
            "method_not_allowed" => 405,
            "conflict" => 409,
            "payload_too_large" => 413,
            "rate_limited" => 429,
            "unavailable" => 503,
            _ => 500,
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error.message)
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The client sent arguments that do not parse, or left one out.
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::Deserialization(message) => {
                AppError::invalid("body", message)
            }
            ServerFnErrorErr::MissingArg(name) => AppError::invalid(&name, format!("{name} is required")),
            ServerFnErrorErr::Registration(message) => AppError::new("not_found", message),
            ServerFnErrorErr::UnsupportedRequestMethod(message) => AppError::new("method_not_allowed", message),
            // In the browser: the server could not be reached or answered nonsense.
            ServerFnErrorErr::Request(message) => AppError::new("unavailable", message),
            other => AppError::internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_apis() {
        let error = AppError::invalid("state", "unknown state");
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            serde_json::json!({ "error": { "code": "invalid", "message": "unknown state", "field": "state" } })
        );
        assert_eq!(error.status(), 400);
        assert_eq!(AppError::new("forbidden", "no").status(), 403);
        assert_eq!(AppError::from_server_fn_error(ServerFnErrorErr::Args("x".into())).status(), 400);
    }
}
