//! Schedules: everyone signed in reads them; operators and admins change them (audited).

use hoist_queue::{Enqueued, FireRecord, ScheduleInfo, ScheduleSpec, Scheduler};
use serde::Serialize;
use serde_json::json;

use crate::api_error::ApiError;
use crate::audit::{self, AuditEntry};
use crate::auth::Principal;
use crate::policy::{Action, authorize};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ScheduleDetail {
    #[serde(flatten)]
    pub info: ScheduleInfo,
    pub recent_fires: Vec<FireRecord>,
}

fn scheduler(state: &AppState) -> Scheduler {
    Scheduler::new(&state.engine)
}

fn not_found(error: hoist_queue::QueueError, name: &str) -> ApiError {
    match error {
        hoist_queue::QueueError::NotFound { .. } => ApiError::NotFound(format!("schedule {name}")),
        other => other.into(),
    }
}

pub async fn list(state: &AppState, principal: &Principal) -> Result<Vec<ScheduleInfo>, ApiError> {
    authorize(principal, Action::WatchQueues)?;
    Ok(scheduler(state).list().await?)
}

pub async fn get(state: &AppState, principal: &Principal, name: &str) -> Result<ScheduleDetail, ApiError> {
    authorize(principal, Action::WatchQueues)?;
    detail(state, name).await
}

async fn detail(state: &AppState, name: &str) -> Result<ScheduleDetail, ApiError> {
    let scheduler = scheduler(state);
    let info = scheduler.get(name).await?.ok_or_else(|| ApiError::NotFound(format!("schedule {name}")))?;
    let recent_fires = scheduler.history(name, 20).await?;
    Ok(ScheduleDetail { info, recent_fires })
}

/// Every schedule with its `fires` most recent fires (the list is read once).
pub async fn list_with_recent(
    state: &AppState,
    principal: &Principal,
    fires: usize,
) -> Result<Vec<ScheduleDetail>, ApiError> {
    authorize(principal, Action::WatchQueues)?;
    let scheduler = scheduler(state);
    let mut out = vec![];
    for info in scheduler.list().await? {
        let recent_fires = scheduler.history(&info.spec.name, fires).await?;
        out.push(ScheduleDetail { info, recent_fires });
    }
    Ok(out)
}

/// Creates or replaces the schedule `name` (the path wins over a name in the body), and
/// returns it as stored.
pub async fn upsert(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    name: &str,
    mut spec: ScheduleSpec,
) -> Result<ScheduleDetail, ApiError> {
    authorize(principal, Action::ChangeSchedules)?;
    crate::names::check("name", name, crate::names::MAX_SCHEDULE_NAME)?;
    crate::names::check_queue(&spec.queue)?;
    crate::names::check("job.name", &spec.job.name, crate::names::MAX_JOB_NAME)?;
    spec.name = name.to_string();
    let outcome = scheduler(state).upsert(&spec).await;
    let entry = AuditEntry {
        action: "schedule.upsert",
        target: name.to_string(),
        params: json!({ "cron": spec.cron, "timezone": spec.timezone, "queue": spec.queue }),
        result: if outcome.is_ok() { "ok" } else { "failed" },
        client_addr: addr,
    };
    audit::record(&state.db, principal, entry).await?;
    outcome?;
    detail(state, name).await
}

/// pause, resume, run (now) or remove; audited.
pub async fn act(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    name: &str,
    action: &'static str,
) -> Result<Vec<Enqueued>, ApiError> {
    authorize(principal, Action::ChangeSchedules)?;
    let scheduler = scheduler(state);
    let outcome: Result<Vec<Enqueued>, ApiError> = match action {
        "pause" => scheduler.pause(name).await.map(|_| vec![]).map_err(|e| not_found(e, name)),
        "resume" => scheduler.resume(name).await.map(|_| vec![]).map_err(|e| not_found(e, name)),
        "run" => scheduler.trigger(name).await.map_err(|e| not_found(e, name)),
        "remove" => match scheduler.remove(name).await {
            Ok(true) => Ok(vec![]),
            Ok(false) => Err(ApiError::NotFound(format!("schedule {name}"))),
            Err(e) => Err(e.into()),
        },
        _ => Err(ApiError::NotFound(format!("action {action}"))),
    };
    let entry = AuditEntry {
        action: match action {
            "pause" => "schedule.pause",
            "resume" => "schedule.resume",
            "run" => "schedule.run",
            _ => "schedule.remove",
        },
        target: name.to_string(),
        params: json!({}),
        result: if outcome.is_ok() { "ok" } else { "failed" },
        client_addr: addr,
    };
    audit::record(&state.db, principal, entry).await?;
    outcome
}
