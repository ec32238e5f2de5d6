//! The dashboard's server functions (Leptos, at `/api/<name>`) keep the REST API's rules at
//! their door: a POST must come from this site's own pages (`Origin`, or without it
//! `Referer`), which refuses login CSRF and every other cross-site state change; and a
//! refused call answers with the status its error code stands for and the API's JSON
//! body — Leptos itself answers every server-function error with 500.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;

use crate::state::AppState;

/// Largest error body read back to find its code (errors are short messages).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Whether `path` is a server function's (the REST API lives under `/api/v1/`).
pub fn is_server_function(path: &str) -> bool {
    path.starts_with("/api/") && !path.starts_with("/api/v1/")
}

/// Middleware for every route; acts on server functions only.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !is_server_function(request.uri().path()) {
        return next.run(request).await;
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD)
        && let Err(error) = crate::origin::check_same_origin(request.headers(), &state.allowed_origins, true)
    {
        return error.into_response();
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return crate::api_error::ApiError::Internal(anyhow::anyhow!("server function error body unreadable"))
            .into_response();
    };
    if let Ok(error) = serde_json::from_slice::<app::error::AppError>(&bytes) {
        parts.status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_function_paths() {
        assert!(is_server_function("/api/sign_in"));
        assert!(!is_server_function("/api/v1/queues"));
        assert!(!is_server_function("/queues/a"));
    }
}
