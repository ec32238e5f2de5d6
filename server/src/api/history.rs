//! `/api/v1/history`: search finished jobs in SQL; `/api/v1/history/quarantine`: the
//! records the database refused.

use axum::Json;
use axum::extract::State;

use super::ApiQuery;
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::history::{HistoryPage, HistoryQuery, QuarantinePage, QuarantineQuery};
use crate::services::history as service;
use crate::state::AppState;

/// `GET /api/v1/history?id=&queue=&name=&owner=&status=&from=&to=&q=&cursor=&limit=`
#[utoipa::path(get, path = "/api/v1/history", tag = "history", params(crate::history::HistoryQuery), responses((status = 200, body = crate::history::HistoryPage), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    Ok(Json(service::search(&state, &principal, query).await?))
}

/// `GET /api/v1/history/quarantine?queue=&cursor=&limit=` (admin only)
///
/// Finished jobs whose history record the database refused (e.g. a NUL character in a
/// name on PostgreSQL), newest first: kept here instead of blocking their queue's copy.
/// `limit` is 1 to 500 (default 50); pass `next` as `cursor` for the next page.
#[utoipa::path(get, path = "/api/v1/history/quarantine", tag = "history", params(crate::history::QuarantineQuery), responses((status = 200, body = crate::history::QuarantinePage), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not the admin role (or the token lacks `users:admin`)", body = crate::openapi::ErrorBody)))]
pub async fn quarantine(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<QuarantineQuery>,
) -> Result<Json<QuarantinePage>, ApiError> {
    Ok(Json(crate::services::history_quarantine::list(&state, &principal, query).await?))
}
