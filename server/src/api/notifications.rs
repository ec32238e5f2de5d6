//! `/api/v1/notifications`: raise notifications for the notifications processor.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::ApiJson;
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::processors::notifications::SignInNotice;
use crate::services::notifications as service;
use crate::state::AppState;

/// 202 reply: the job, and whether this event had been raised before.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Raised {
    pub id: String,
    pub duplicate: bool,
}

/// `POST /api/v1/notifications/sign-in`
#[utoipa::path(post, path = "/api/v1/notifications/sign-in", tag = "notifications", request_body = SignInNotice,
    responses((status = 202, body = Raised),
        (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody),
        (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody),
        (status = 429, description = "Ten notifications for this user in the last hour; see Retry-After", body = crate::openapi::ErrorBody)))]
pub async fn sign_in(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(notice): ApiJson<SignInNotice>,
) -> Result<(StatusCode, Json<Raised>), ApiError> {
    let enqueued = service::sign_in(&state, &principal, notice).await?;
    Ok((StatusCode::ACCEPTED, Json(Raised { id: enqueued.id, duplicate: enqueued.duplicate })))
}
