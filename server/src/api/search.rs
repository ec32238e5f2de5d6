//! `/api/v1/search`: one search over every job, live or finished.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiJson, ApiPath, ApiQuery};
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::client_addr::ClientAddr;
use crate::search::saved::SavedSearch;
use crate::search::suggest::{SuggestRequest, Suggestions};
use crate::search::{MatchCount, SearchPage, SearchRequest};
use crate::services::search as service;
use crate::services::search::{BulkOutcome, BulkRequest, ExportRequest, SaveRequest, SavedWithCount};
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

/// `GET /api/v1/search/suggestions?q=`
///
/// Autocomplete: what the last word of `q` could become — qualifiers, queue names,
/// states, job names, owners (staff only), times, payload paths of recent jobs. Each
/// value replaces `q` from byte `from` on.
#[utoipa::path(get, path = "/api/v1/search/suggestions", tag = "search", params(SuggestRequest), responses((status = 200, body = Suggestions), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role", body = crate::openapi::ErrorBody)))]
pub async fn suggestions(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(request): ApiQuery<SuggestRequest>,
) -> Result<Json<Suggestions>, ApiError> {
    Ok(Json(service::suggestions(&state, &principal, request).await?))
}

/// `GET /api/v1/search/count?q=`
///
/// How many jobs `q` matches: finished ones and live ones counted in the index; when `q`
/// names a state, live jobs are read from Redis, up to 20,000 (then `at_least`).
#[utoipa::path(get, path = "/api/v1/search/count", tag = "search", params(SuggestRequest), responses((status = 200, body = MatchCount), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role", body = crate::openapi::ErrorBody), (status = 409, description = "Job history is off", body = crate::openapi::ErrorBody)))]
pub async fn count(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(request): ApiQuery<SuggestRequest>,
) -> Result<Json<MatchCount>, ApiError> {
    Ok(Json(service::count(&state, &principal, &request.q).await?))
}

/// `POST /api/v1/search/actions` `{q, action, confirm: true, cursor?}`
///
/// Retries, cancels, requeues (as new jobs) or deletes the jobs `q` matches: up to 5,000
/// matches per request, in pages of 200; pass `next` back as `cursor` until it is absent.
/// Audited once per request. Count first (`/api/v1/search/count`): `confirm` must be true.
#[utoipa::path(post, path = "/api/v1/search/actions", tag = "search", request_body = BulkRequest, responses((status = 200, body = BulkOutcome), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody), (status = 409, description = "Job history is off", body = crate::openapi::ErrorBody)))]
pub async fn act(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiJson(request): ApiJson<BulkRequest>,
) -> Result<Json<BulkOutcome>, ApiError> {
    Ok(Json(service::act(&state, &principal, Some(addr.ip().to_string()), request).await?))
}

/// `GET /api/v1/search/export?q=&format=jsonl|csv`
///
/// Every job `q` matches (at most 1,000,000), streamed as JSON lines (the hits of
/// `/api/v1/search`) or CSV (payload, result and error as JSON text), live first.
#[utoipa::path(get, path = "/api/v1/search/export", tag = "search", params(ExportRequest), responses((status = 200, description = "The matches, as JSON lines or CSV", content((String = "application/x-ndjson"), (String = "text/csv"))), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role", body = crate::openapi::ErrorBody), (status = 409, description = "Job history is off", body = crate::openapi::ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(request): ApiQuery<ExportRequest>,
) -> Result<Response, ApiError> {
    let format = request.format.unwrap_or_default();
    let chunks = service::export(&state, &principal, &request)?;
    let headers = [
        (header::CONTENT_TYPE, format.content_type().to_string()),
        (header::CONTENT_DISPOSITION, format!("attachment; filename=\"hoist-jobs.{}\"", format.extension())),
    ];
    Ok((headers, Body::from_stream(chunks)).into_response())
}

/// `GET /api/v1/search/saved`: the caller's saved searches, each with its count now.
#[utoipa::path(get, path = "/api/v1/search/saved", tag = "search", responses((status = 200, body = Vec<SavedWithCount>), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role", body = crate::openapi::ErrorBody)))]
pub async fn saved(State(state): State<AppState>, principal: Principal) -> Result<Json<Vec<SavedWithCount>>, ApiError> {
    Ok(Json(service::saved(&state, &principal).await?))
}

/// `POST /api/v1/search/saved` `{name, q}`: saves a search for the caller (at most 20;
/// a name saved again is replaced).
#[utoipa::path(post, path = "/api/v1/search/saved", tag = "search", request_body = SaveRequest, responses((status = 200, body = SavedSearch), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody), (status = 409, description = "20 saved already", body = crate::openapi::ErrorBody)))]
pub async fn save(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<SaveRequest>,
) -> Result<Json<SavedSearch>, ApiError> {
    Ok(Json(service::save(&state, &principal, request).await?))
}

/// `DELETE /api/v1/search/saved/{id}`: deletes one of the caller's saved searches.
#[utoipa::path(delete, path = "/api/v1/search/saved/{id}", tag = "search", params(("id" = i64, Path, description = "The saved search")), responses((status = 204, description = "Deleted"), (status = 400, description = "The id is not a number", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody), (status = 404, description = "No saved search of yours with that id", body = crate::openapi::ErrorBody)))]
pub async fn delete_saved(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    service::delete_saved(&state, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
