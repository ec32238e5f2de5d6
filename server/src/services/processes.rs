//! The processes that run workers and the scheduler (`hoist serve`, `hoist worker`, an
//! embedding application): listed from the engine's registry, and quieted or stopped
//! through Redis. Commands are audited as `process.quiet` and `process.stop`.

use hoist_queue::{MAX_PROCESS_ID_BYTES, ProcessCommand, ProcessInfo, ProcessRegistry};
use serde_json::json;

use crate::api_error::ApiError;
use crate::audit::{self, AuditEntry};
use crate::auth::Principal;
use crate::policy::{Action, authorize};
use crate::state::AppState;

/// Every process that checked in within the last ten minutes, oldest first; gone and
/// stopped ones included (marked), so a crash is seen before it is forgotten.
pub async fn list(state: &AppState, principal: &Principal) -> Result<Vec<ProcessInfo>, ApiError> {
    authorize(principal, Action::WatchQueues)?;
    Ok(ProcessRegistry::new(&state.engine).list().await?)
}

/// Sends `command` to process `id`: 404 when it is not registered, 409 when it is gone,
/// stopping or stopped (nothing would act on it). Returns the process as it was.
pub async fn command(
    state: &AppState,
    principal: &Principal,
    client_addr: Option<String>,
    id: &str,
    command: ProcessCommand,
) -> Result<ProcessInfo, ApiError> {
    authorize(principal, Action::ControlQueue)?;
    if id.is_empty() || id.len() > MAX_PROCESS_ID_BYTES {
        return Err(ApiError::invalid("id", format!("a process id is 1 to {MAX_PROCESS_ID_BYTES} bytes")));
    }
    let registry = ProcessRegistry::new(&state.engine);
    let process = registry
        .list()
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("process {id}")))?;
    // A `hoist serve` or an embedding application serves the dashboard and API: stopping
    // one takes a replica down.
    if command == ProcessCommand::Stop && process.kind != "worker" {
        authorize(principal, Action::StopServer)?;
    }
    if !process.listens() {
        let why = if process.gone { "has stopped checking in" } else { "is stopping or has stopped" };
        return Err(ApiError::Conflict { message: format!("process {id} {why}"), existing_id: None });
    }
    let sent = registry.send(id, command).await;
    let params = json!({ "host": process.host, "pid": process.pid, "kind": process.kind });
    let result = match &sent {
        Ok(true) => "ok",
        _ => "failed",
    };
    let action = match command {
        ProcessCommand::Quiet => "process.quiet",
        ProcessCommand::Stop => "process.stop",
    };
    let entry = AuditEntry { action, target: id.to_string(), params, result, client_addr };
    audit::record(&state.db, principal, entry).await?;
    if !sent? {
        // Forgotten between the read and the send.
        return Err(ApiError::NotFound(format!("process {id}")));
    }
    Ok(process)
}
