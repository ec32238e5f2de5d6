//! `/api/v1/reports`: usage, performance and audit reports (admins).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiJson, ApiPath, ApiQuery};
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::client_addr::ClientAddr;
use app::reports::ReportList;

use crate::services::reports::{self as service, DownloadRequest, ListRequest, ReportRun, RunRequest};
use crate::state::AppState;

/// Stored reports, newest first.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ListRequest), responses((status = 200, body = ReportList), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not an admin", body = crate::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(request): ApiQuery<ListRequest>,
) -> Result<Json<ReportList>, ApiError> {
    Ok(Json(service::list(&state, &principal, request).await?))
}

/// Runs reports now over a period (default: the previous month); they are stored when
/// the returned job completes, on a process running the `reports` processor.
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports", request_body = RunRequest, responses((status = 202, body = ReportRun), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not an admin, or CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn run(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiJson(request): ApiJson<RunRequest>,
) -> Result<(StatusCode, Json<ReportRun>), ApiError> {
    let run = service::run(&state, &principal, Some(addr.ip().to_string()), request).await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// One report with its figures.
#[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "reports", params(("id" = i64, Path, description = "Report id")), responses((status = 200, body = app::reports::Report), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not an admin", body = crate::openapi::ErrorBody), (status = 404, description = "No such report", body = crate::openapi::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<app::reports::Report>, ApiError> {
    Ok(Json(service::get(&state, &principal, id).await?))
}

/// A report as a file: all of it as JSON, or one of its tables as CSV.
#[utoipa::path(get, path = "/api/v1/reports/{id}/download", tag = "reports", params(("id" = i64, Path, description = "Report id"), DownloadRequest), responses((status = 200, description = "The report as JSON, or one table as CSV", content((app::reports::Report = "application/json"), (String = "text/csv"))), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not an admin", body = crate::openapi::ErrorBody), (status = 404, description = "No such report", body = crate::openapi::ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(request): ApiQuery<DownloadRequest>,
) -> Result<Response, ApiError> {
    let file = service::download(&state, &principal, id, request).await?;
    let headers = [
        (header::CONTENT_TYPE, file.content_type.to_string()),
        (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", file.file_name)),
    ];
    Ok((headers, file.body).into_response())
}
