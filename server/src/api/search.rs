//! `/api/v1/search`: one search over every job, live or finished.

use axum::Json;
use axum::extract::State;

use super::ApiQuery;
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::search::{SearchPage, SearchRequest};
use crate::services::search as service;
use crate::state::AppState;

/// `GET /api/v1/search?q=&cursor=&limit=`
///
/// Jobs matching `q`, live ones first (newest first, in their state now), then finished
/// ones (newest ending first). The language: `queue:`, `state:`, `name:`, `owner:`, `id:`
/// (comma-separated values: any matches), `error:`, `before:`/`after:` (a date, a UTC
/// time or an age such as `2h`), `payload.path:value`, and free text. End users see only
/// their own jobs. A page may hold fewer hits than `limit` while `next` is set; pass
/// `next` as `cursor` to go on. 409 when job history is off (the index lives there).
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchRequest), responses((status = 200, body = SearchPage), (status = 400, description = "Invalid input; `error.field` names it (`q`, `cursor`, `limit`)", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role", body = crate::openapi::ErrorBody), (status = 409, description = "Job history is off", body = crate::openapi::ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(request): ApiQuery<SearchRequest>,
) -> Result<Json<SearchPage>, ApiError> {
    Ok(Json(service::search(&state, &principal, request).await?))
}
