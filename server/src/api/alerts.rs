//! `/api/v1/alerts`: what fires and what fired, the rules and the silences; admins change
//! rules and silences.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::{ApiJson, ApiPath};
use crate::alerts::rules::Rule;
use crate::alerts::silences::Silence;
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::client_addr::ClientAddr;
use crate::services::alerts::{self as service, AlertsOverview, NewRule, NewSilence, RuleFigures};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", responses((status = 200, body = AlertsOverview), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role", body = crate::openapi::ErrorBody)))]
pub async fn overview(State(state): State<AppState>, principal: Principal) -> Result<Json<AlertsOverview>, ApiError> {
    Ok(Json(service::overview(&state, &principal).await?))
}

/// Changes a rule's threshold, window, pending period and switch.
#[utoipa::path(put, path = "/api/v1/alerts/rules/{id}", tag = "alerts", params(("id" = i64, Path, description = "Rule id")), request_body = RuleFigures, responses((status = 200, body = Rule), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not an admin, or CSRF header missing", body = crate::openapi::ErrorBody), (status = 404, description = "No such rule", body = crate::openapi::ErrorBody)))]
pub async fn update_rule(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath(id): ApiPath<i64>,
    ApiJson(figures): ApiJson<RuleFigures>,
) -> Result<Json<Rule>, ApiError> {
    Ok(Json(service::update_rule(&state, &principal, Some(addr.ip().to_string()), id, figures).await?))
}

/// Adds a rule for one queue, in place of the every-queue rule of its kind there.
#[utoipa::path(post, path = "/api/v1/alerts/rules", tag = "alerts", request_body = NewRule, responses((status = 201, body = Rule), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not an admin, or CSRF header missing", body = crate::openapi::ErrorBody), (status = 409, description = "The queue has a rule of this kind", body = crate::openapi::ErrorBody)))]
pub async fn add_rule(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiJson(new): ApiJson<NewRule>,
) -> Result<(StatusCode, Json<Rule>), ApiError> {
    Ok((StatusCode::CREATED, Json(service::add_rule(&state, &principal, Some(addr.ip().to_string()), new).await?)))
}

/// Deletes a queue's own rule; the every-queue rule applies there again.
#[utoipa::path(delete, path = "/api/v1/alerts/rules/{id}", tag = "alerts", params(("id" = i64, Path, description = "Rule id")), responses((status = 204, description = "Deleted"), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not an admin, or CSRF header missing", body = crate::openapi::ErrorBody), (status = 404, description = "No such queue rule", body = crate::openapi::ErrorBody)))]
pub async fn delete_rule(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    service::delete_rule(&state, &principal, Some(addr.ip().to_string()), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Silences a rule (or every rule) about a subject (or every subject) for a while.
#[utoipa::path(post, path = "/api/v1/alerts/silences", tag = "alerts", request_body = NewSilence, responses((status = 201, body = Silence), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not an admin, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn add_silence(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiJson(new): ApiJson<NewSilence>,
) -> Result<(StatusCode, Json<Silence>), ApiError> {
    Ok((StatusCode::CREATED, Json(service::add_silence(&state, &principal, Some(addr.ip().to_string()), new).await?)))
}

/// Ends a silence now.
#[utoipa::path(delete, path = "/api/v1/alerts/silences/{id}", tag = "alerts", params(("id" = i64, Path, description = "Silence id")), responses((status = 204, description = "Ended"), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not an admin, or CSRF header missing", body = crate::openapi::ErrorBody), (status = 404, description = "No such silence still on", body = crate::openapi::ErrorBody)))]
pub async fn end_silence(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    service::end_silence(&state, &principal, Some(addr.ip().to_string()), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
