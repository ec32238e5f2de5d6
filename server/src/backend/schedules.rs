//! The schedules page: every schedule with its recent fires; pause, resume, run now.

use app::types::{FireView, ScheduleRow};

use app::error::AppError;

use super::{ServerBackend, client_addr};

/// Fires shown per schedule.
const RECENT_FIRES: usize = 5;

pub(super) async fn list(backend: &ServerBackend) -> Result<Vec<ScheduleRow>, AppError> {
    // The request's language, for the expressions in words.
    let language = app::i18n::request_language();
    let principal = backend.principal().await?;
    let details = crate::services::schedules::list_with_recent(&backend.state, &principal, RECENT_FIRES).await?;
    let mut rows = Vec::with_capacity(details.len());
    for crate::services::schedules::ScheduleDetail { info, recent_fires } in details {
        rows.push(ScheduleRow {
            recent: recent_fires
                .into_iter()
                .map(|f| FireView { fired_at: f.fired_at, jobs: f.job_ids.len(), manual: f.manual, by: f.by })
                .collect(),
            name: info.spec.name,
            cron_words: crate::cron_words::describe(&info.spec.cron, language),
            cron: info.spec.cron,
            timezone: info.spec.timezone,
            queue: info.spec.queue,
            job_name: info.spec.job.name,
            paused: info.paused,
            enabled: info.spec.enabled,
            last_tick: info.last_tick,
            next_tick: info.next_tick,
            runs: info.runs,
        });
    }
    Ok(rows)
}

pub(super) async fn act(backend: &ServerBackend, name: String, action: String, csrf: String) -> Result<(), AppError> {
    let principal = backend.acting_principal(&csrf).await?;
    let action = match action.as_str() {
        "pause" => "pause",
        "resume" => "resume",
        "run" => "run",
        other => return Err(AppError::invalid("action", format!("unknown action {other:?}"))),
    };
    crate::services::schedules::act(&backend.state, &principal, Some(client_addr().await?), &name, action)
        .await
        .map(|_| ())
        .map_err(Into::into)
}
