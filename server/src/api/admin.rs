//! `/api/v1/users` and `/api/v1/audit` (admin only).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, ApiQuery};
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::services::admin::{self as service, AuditRow, NewUser, UserChange};
use crate::state::AppState;
use crate::users::UserSummary;

pub async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<UserSummary>>, ApiError> {
    Ok(Json(service::list_users(&state, &principal).await?))
}

pub async fn add_user(
    State(state): State<AppState>,
    principal: Principal,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    ApiJson(new): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = service::add_user(&state, &principal, Some(addr.ip().to_string()), new).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

pub async fn change_user(
    State(state): State<AppState>,
    principal: Principal,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(username): Path<String>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<StatusCode, ApiError> {
    service::change_user(&state, &principal, Some(addr.ip().to_string()), &username, change).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct AuditQuery {
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

pub async fn audit_log(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditRow>>, ApiError> {
    Ok(Json(service::audit_log(&state, &principal, query.before, query.limit.unwrap_or(100)).await?))
}
