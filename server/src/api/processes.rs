//! `/api/v1/processes`: the processes running workers and the scheduler, and quiet or
//! stop for each.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hoist_queue::{ProcessCommand, ProcessInfo};
use serde::Serialize;

use super::ApiPath;
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::client_addr::ClientAddr;
use crate::services::processes as service;
use crate::state::AppState;

/// The processes that checked in within the last ten minutes.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProcessList {
    pub processes: Vec<ProcessInfo>,
}

/// What was sent to which process.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CommandSent {
    pub process: String,
    pub command: ProcessCommand,
}

#[utoipa::path(get, path = "/api/v1/processes", tag = "processes", responses((status = 200, body = ProcessList), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role", body = crate::openapi::ErrorBody)))]
pub async fn list(State(state): State<AppState>, principal: Principal) -> Result<Json<ProcessList>, ApiError> {
    Ok(Json(ProcessList { processes: service::list(&state, &principal).await? }))
}

/// `quiet`: the process takes no new jobs and finishes its running ones. `stop`: it
/// shuts down gracefully. Delivered through Redis; the process acts within moments.
#[utoipa::path(post, path = "/api/v1/processes/{id}/{command}", tag = "processes", params(("id" = String, Path, description = "Process id"), ("command" = String, Path, description = "quiet or stop")), responses((status = 202, body = CommandSent), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "Not allowed for this role, or CSRF header missing", body = crate::openapi::ErrorBody), (status = 404, description = "No such process or command", body = crate::openapi::ErrorBody), (status = 409, description = "The process is gone or stopped", body = crate::openapi::ErrorBody)))]
pub async fn command(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    ApiPath((id, command)): ApiPath<(String, String)>,
) -> Result<(StatusCode, Json<CommandSent>), ApiError> {
    let command = match command.as_str() {
        "quiet" => ProcessCommand::Quiet,
        "stop" => ProcessCommand::Stop,
        other => return Err(ApiError::NotFound(format!("command {other}"))),
    };
    let process = service::command(&state, &principal, Some(addr.ip().to_string()), &id, command).await?;
    Ok((StatusCode::ACCEPTED, Json(CommandSent { process: process.id, command })))
}
