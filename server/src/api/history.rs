//! `/api/v1/history`: search finished jobs in SQL.

use axum::Json;
use axum::extract::State;

use super::ApiQuery;
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::history::{HistoryPage, HistoryQuery};
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
