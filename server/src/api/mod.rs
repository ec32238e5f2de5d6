//! The REST API under `/api/v1`: thin handlers over the services.

pub mod admin;
pub mod dead_letters;
pub mod jobs;
pub mod schedules;

use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;

use crate::api_error::ApiError;

/// `Json` whose rejections answer in the API's error shape, naming the field at fault.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

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
