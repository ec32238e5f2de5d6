//! `/api/v1/users` and `/api/v1/audit` (admin only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::{ApiJson, ApiPath, ApiQuery};
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::client_addr::ClientAddr;
use crate::services::admin::{self as service, AuditRow, NewUser, UserChange};
use crate::state::AppState;
use crate::users::UserSummary;

#[utoipa::path(get, path = "/api/v1/users", tag = "admin", responses((status = 200, body = Vec<crate::users::UserSummary>), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<UserSummary>>, ApiError> {
    Ok(Json(service::list_users(&state, &principal).await?))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = crate::services::admin::NewUser, responses((status = 201, body = super::Created), (status = 409, description = "Username taken", body = crate::openapi::ErrorBody), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn add_user(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiJson(new): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<super::Created>), ApiError> {
    let id = service::add_user(&state, &principal, Some(addr.ip().to_string()), new).await?;
    Ok((StatusCode::CREATED, Json(super::Created { id })))
}

#[utoipa::path(patch, path = "/api/v1/users/{username}", tag = "admin", params(("username" = String, Path)), request_body = crate::services::admin::UserChange, responses((status = 204, description = "Changed"), (status = 404, body = crate::openapi::ErrorBody), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn change_user(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath(username): ApiPath<String>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<StatusCode, ApiError> {
    service::change_user(&state, &principal, Some(addr.ip().to_string()), &username, change).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "admin", params(AuditQuery), responses((status = 200, body = Vec<crate::services::admin::AuditRow>), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn audit_log(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditRow>>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 500"));
    }
    Ok(Json(service::audit_log(&state, &principal, query.before, limit).await?))
}
