//! The processes page: every process that runs workers or the scheduler; quiet and stop.

use app::error::AppError;
use app::types::{ProcessJobRow, ProcessQueueRow, ProcessRow};
use hoist_queue::{ProcessCommand, ProcessState};

use super::{ServerBackend, client_addr};

pub(super) async fn list(backend: &ServerBackend) -> Result<Vec<ProcessRow>, AppError> {
    let principal = backend.principal().await?;
    let processes = crate::services::processes::list(&backend.state, &principal).await?;
    let own = backend.state.own_process.get();
    Ok(processes
        .into_iter()
        .map(|p| ProcessRow {
            this_server: own == Some(&p.id),
            state: match p.state {
                ProcessState::Running => "running",
                ProcessState::Quiet => "quiet",
                ProcessState::Stopping => "stopping",
                ProcessState::Stopped => "stopped",
            }
            .to_string(),
            id: p.id,
            host: p.host,
            pid: p.pid,
            kind: p.kind,
            version: p.version,
            started_at: p.started_at,
            last_seen: p.last_seen,
            gone: p.gone,
            scheduler: p.scheduler,
            queues: p
                .queues
                .into_iter()
                .map(|q| ProcessQueueRow {
                    queue: q.queue,
                    concurrency: q.concurrency,
                    configured_concurrency: q.configured_concurrency,
                    running: q.running,
                    accepting: q.accepting,
                })
                .collect(),
            jobs: p
                .jobs
                .into_iter()
                .map(|j| ProcessJobRow { queue: j.queue, id: j.id, name: j.name, started_at: j.started_at })
                .collect(),
            running: p.running,
        })
        .collect())
}

pub(super) async fn command(
    backend: &ServerBackend,
    id: String,
    command: String,
    csrf: String,
) -> Result<(), AppError> {
    let principal = backend.acting_principal(&csrf).await?;
    let command = match command.as_str() {
        "quiet" => ProcessCommand::Quiet,
        "stop" => ProcessCommand::Stop,
        other => return Err(AppError::invalid("command", format!("unknown command {other:?}"))),
    };
    crate::services::processes::command(&backend.state, &principal, Some(client_addr().await?), &id, command)
        .await
        .map(|_| ())
        .map_err(Into::into)
}
