//! Jobs and queues: enqueue, look up, list, act on; with each role's rights.

use hoist_queue::{Enqueued, Job, JobOptions, JobPage, JobState, NewJob, Queue};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api_error::ApiError;
use crate::audit::{self, AuditEntry};
use crate::auth::Principal;
use crate::policy::{self, Action, AllowedJobs, authorize};
use crate::state::AppState;
use crate::users::Role;

/// What a client sends to enqueue a job.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    pub name: String,
    #[serde(default)]
    pub payload: serde_json::Value,
    #[serde(default)]
    pub options: JobOptions,
}

/// A queue and its counts.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct QueueSummary {
    pub name: String,
    pub counts: hoist_queue::Counts,
}

/// A queue a caller named (its name checked: visible, no `/`).
pub(crate) fn queue(state: &AppState, name: &str) -> Result<Queue, ApiError> {
    crate::names::check_queue(name)?;
    let config = state.settings.queue(name).queue_config(state.engine.key_prefix());
    Ok(Queue::with_config(&state.engine, name, config)?)
}

/// Report jobs are for admins ([`Action::Reports`]): they read the audit log and every
/// owner's figures, and email the admins; so jobs added to the reports queue, or copied
/// or retried there with another payload, are too.
fn authorize_reports_queue(state: &AppState, principal: &Principal, queue_name: &str) -> Result<(), ApiError> {
    if queue_name == state.queue_names.reports {
        authorize(principal, Action::Reports)?;
    }
    Ok(())
}

/// A handle to enqueue with. The history's archive set is turned on for the queue first,
/// so none of the jobs added through this server ends uncopied.
pub(crate) async fn queue_to_enqueue(state: &AppState, name: &str) -> Result<Queue, ApiError> {
    let queue = queue(state, name)?;
    state.archiving.ensure(&queue).await?;
    Ok(queue)
}

/// The job names an admin allowed an end user to enqueue (staff: none needed).
async fn allowed_jobs(state: &AppState, principal: &Principal) -> Result<AllowedJobs, ApiError> {
    if principal.role != Role::User {
        return Ok(AllowedJobs::new());
    }
    let raw: String = sqlx::query_scalar("SELECT allowed_jobs FROM users WHERE id = $1")
        .bind(principal.user_id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok(serde_json::from_str(&raw).unwrap_or_default())
}

/// Checks a job a client sends and turns it into the engine's: its name, its dedup key,
/// and for end users the policy's limits (allowed names, options, owner, dedup namespace).
fn new_job(
    principal: &Principal,
    allowed: &AllowedJobs,
    queue: &str,
    request: EnqueueRequest,
    settings: &crate::settings::QueueSettings,
) -> Result<NewJob, ApiError> {
    crate::names::check("name", &request.name, crate::names::MAX_JOB_NAME)?;
    let mut options = request.options;
    if let Some(key) = &options.dedup_key {
        crate::names::check("options.dedup_key", key, policy::MAX_DEDUP_KEY)?;
    }
    if let Some(group) = &options.group {
        crate::names::check("options.group", group, hoist_queue::MAX_GROUP_BYTES)?;
        if group.len() > hoist_queue::MAX_GROUP_BYTES {
            return Err(ApiError::invalid("options.group", "a group is at most 200 bytes"));
        }
    }
    policy::restrict_end_user_job(principal, allowed, queue, &request.name, &mut options)?;
    // The queue's attempts, backoff and timeout where the job left the engine's.
    let options = settings.job_options(options);
    Ok(NewJob::new(request.name, request.payload).with_options(options))
}

/// Adds a job. Operators and admins enqueue anything anywhere; an end user only the job
/// names an admin allowed them, within the policy's limits, always as the job's owner;
/// viewers never.
pub async fn enqueue(
    state: &AppState,
    principal: &Principal,
    queue_name: &str,
    request: EnqueueRequest,
) -> Result<Enqueued, ApiError> {
    authorize(principal, Action::Enqueue)?;
    authorize_reports_queue(state, principal, queue_name)?;
    let settings = state.settings.queue(queue_name);
    let job = new_job(principal, &allowed_jobs(state, principal).await?, queue_name, request, &settings)?;
    if let Some(connection_id) = end_user_sync(state, principal, queue_name, &job)? {
        let id = crate::services::connections::sync_now(state, principal, connection_id).await?;
        return Ok(Enqueued { id, duplicate: false });
    }
    let queue = queue_to_enqueue(state, queue_name).await?;
    Ok(queue.enqueue(job).await?)
}

/// An end user's `sync-connection` goes through the same door as "Sync now": the
/// connection must be theirs, and a sync of it that waits or runs is returned instead of
/// adding another (so no user floods the provider, or holds another's connection key).
fn end_user_sync(state: &AppState, principal: &Principal, queue: &str, job: &NewJob) -> Result<Option<i64>, ApiError> {
    use crate::processors::sync;
    if principal.role != Role::User || queue != state.queue_names.sync || job.name != sync::SYNC_CONNECTION {
        return Ok(None);
    }
    let id = job.payload.get("connection_id").and_then(serde_json::Value::as_i64);
    id.map(Some).ok_or_else(|| ApiError::invalid("payload.connection_id", "the connection to sync, a number"))
}

pub async fn get_job(state: &AppState, principal: &Principal, queue_name: &str, id: &str) -> Result<Job, ApiError> {
    authorize(principal, Action::ReadJobs)?;
    let job = queue(state, queue_name)?.get_job(id).await?;
    job.filter(|j| policy::may_see(principal, j.owner.as_deref()))
        .ok_or_else(|| ApiError::NotFound(format!("job {id}")))
}

/// Which of a state's jobs to list.
#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    pub owner: Option<String>,
    pub name: Option<String>,
}

/// Jobs one listing filtered by name reads at most before it returns what it found (with
/// a cursor to go on): Redis has no index by name, and a request must stay short. The SQL
/// history search is the indexed answer for finished jobs. Only staff filter by name
/// without an owner; a listing by owner reads the engine's owner index instead.
pub const FILTER_SCAN_LIMIT: u64 = 5_000;

/// A page of a queue's jobs in one state, newest first.
///
/// By owner (always for end users, who see only their own jobs): the engine's index of
/// the owner's jobs, so it reads only that owner's jobs, `total` counts only theirs, and
/// `cursor` is an offset into their index; a name filter then keeps the page's matches.
/// Otherwise `cursor` is an offset into the state; with a name filter it reads on until
/// `limit` jobs match or [`FILTER_SCAN_LIMIT`] were read, and `next` says where to go on.
pub async fn list_jobs(
    state: &AppState,
    principal: &Principal,
    queue_name: &str,
    job_state: JobState,
    filter: JobFilter,
    cursor: u64,
    limit: u64,
) -> Result<JobPage, ApiError> {
    authorize(principal, Action::ReadJobs)?;
    let mut filter = filter;
    filter.owner = policy::listing_owner(principal, filter.owner);
    let queue = queue(state, queue_name)?;
    if let Some(owner) = &filter.owner {
        let mut page = queue.list_owned(owner, &[job_state], cursor, limit).await?;
        if let Some(name) = &filter.name {
            page.jobs.retain(|job| &job.name == name);
        }
        return Ok(page);
    }
    let Some(name) = &filter.name else {
        return Ok(queue.list_jobs(job_state, cursor, limit).await?);
    };
    let matches = |job: &Job| &job.name == name;
    let mut jobs = vec![];
    let mut offset = cursor;
    const CHUNK: u64 = 200;
    let (next, total) = loop {
        let page = queue.list_jobs(job_state, offset, CHUNK).await?;
        // Where the next page starts: after the last job returned, or after this chunk.
        // (A job deleted meanwhile shifts positions down, so this can repeat a job on the
        // next page but never skip one.)
        let mut consumed = page.next.unwrap_or(page.total).max(offset);
        for (i, job) in page.jobs.into_iter().enumerate() {
            if matches(&job) {
                jobs.push(job);
                if jobs.len() as u64 == limit {
                    consumed = offset + i as u64 + 1;
                    break;
                }
            }
        }
        let done = jobs.len() as u64 == limit || page.next.is_none() || consumed - cursor >= FILTER_SCAN_LIMIT;
        if done {
            break ((consumed < page.total).then_some(consumed), page.total);
        }
        offset = consumed;
    };
    Ok(JobPage { jobs, next, total })
}

pub async fn list_queues(state: &AppState, principal: &Principal) -> Result<Vec<QueueSummary>, ApiError> {
    authorize(principal, Action::WatchQueues)?;
    let mut out = vec![];
    for name in Queue::list_all(&state.engine).await? {
        let counts = queue(state, &name)?.counts().await?;
        out.push(QueueSummary { name, counts });
    }
    Ok(out)
}

/// Completed, failed, dead and run time per minute for the last `minutes`, oldest first.
pub async fn queue_metrics(
    state: &AppState,
    principal: &Principal,
    queue_name: &str,
    minutes: i64,
) -> Result<Vec<hoist_queue::MinuteStats>, ApiError> {
    authorize(principal, Action::WatchQueues)?;
    if !(1..=14 * 24 * 60).contains(&minutes) {
        return Err(ApiError::invalid("minutes", "must be between 1 and 20160 (14 days)"));
    }
    Ok(queue(state, queue_name)?.recent_stats(minutes as u32).await?)
}

/// Most jobs one bulk request may carry.
pub const MAX_BULK: usize = 1000;

/// Adds many jobs in one round trip, all or none.
pub async fn enqueue_bulk(
    state: &AppState,
    principal: &Principal,
    queue_name: &str,
    requests: Vec<EnqueueRequest>,
) -> Result<Vec<Enqueued>, ApiError> {
    authorize(principal, Action::Enqueue)?;
    authorize_reports_queue(state, principal, queue_name)?;
    if requests.is_empty() || requests.len() > MAX_BULK {
        return Err(ApiError::invalid("jobs", format!("send 1 to {MAX_BULK} jobs")));
    }
    let allowed = allowed_jobs(state, principal).await?;
    let settings = state.settings.queue(queue_name);
    let jobs = requests
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let checked = new_job(principal, &allowed, queue_name, r, &settings).and_then(|job| {
                match end_user_sync(state, principal, queue_name, &job)? {
                    Some(_) => Err(ApiError::Forbidden(
                        "sync one connection at a time (POST /api/v1/connections/{id}/sync)".into(),
                    )),
                    None => Ok(job),
                }
            });
            checked.map_err(|e| e.within(&format!("jobs[{i}]")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(queue_to_enqueue(state, queue_name).await?.enqueue_bulk(jobs).await?)
}

/// Bulk queue maintenance by an operator, audited: drain, clean by state and age, retry
/// all dead or cancelled jobs. Returns how many jobs it touched.
pub async fn maintain(
    state: &AppState,
    principal: &Principal,
    client_addr: Option<String>,
    queue_name: &str,
    action: Maintenance,
) -> Result<u64, ApiError> {
    authorize(principal, Action::ControlQueue)?;
    let queue = queue(state, queue_name)?;
    let (name, params) = match &action {
        Maintenance::Drain { include_delayed } => ("drain", json!({ "include_delayed": include_delayed })),
        Maintenance::Clean { state, older_than_ms } => {
            ("clean", json!({ "state": state, "older_than_ms": older_than_ms }))
        }
        Maintenance::RetryAll { from } => ("retry-all", json!({ "from": from })),
    };
    let outcome: Result<u64, ApiError> = match action {
        Maintenance::Drain { include_delayed } => queue.drain(include_delayed).await.map_err(Into::into),
        Maintenance::Clean { state, older_than_ms } => {
            queue.clean(state, std::time::Duration::from_millis(older_than_ms)).await.map_err(Into::into)
        }
        Maintenance::RetryAll { from } => queue.retry_all(from).await.map_err(Into::into),
    };
    let result = match &outcome {
        Ok(n) => format!("ok: {n} jobs"),
        Err(_) => "failed".to_string(),
    };
    let entry = AuditEntry { action: name, target: queue_name.to_string(), params, result: &result, client_addr };
    audit::record(&state.db, principal, entry).await?;
    outcome
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Maintenance {
    Drain {
        #[serde(default)]
        include_delayed: bool,
    },
    Clean {
        state: JobState,
        #[serde(default)]
        older_than_ms: u64,
    },
    RetryAll {
        from: JobState,
    },
}

/// A job or queue action by an operator: done, then written to the audit log with its
/// outcome (failures too).
pub async fn act(
    state: &AppState,
    principal: &Principal,
    client_addr: Option<String>,
    queue_name: &str,
    job_id: Option<&str>,
    action: &'static str,
) -> Result<serde_json::Value, ApiError> {
    let queue = queue(state, queue_name)?;
    if let Some(id) = job_id {
        hide_others_job(&queue, principal, id).await?;
    }
    authorize(principal, if job_id.is_some() { Action::ActOnJob } else { Action::ControlQueue })?;
    let outcome: Result<serde_json::Value, ApiError> = async {
        match (action, job_id) {
            ("cancel", Some(id)) => Ok(json!({ "outcome": format!("{:?}", queue.cancel(id).await?).to_lowercase() })),
            ("retry", Some(id)) => queue.retry_job(id).await.map(|_| json!({})).map_err(Into::into),
            ("promote", Some(id)) => queue.promote(id).await.map(|_| json!({})).map_err(Into::into),
            ("remove", Some(id)) => {
                queue.remove(id).await?;
                // Its search row would otherwise wait for a search or the sweep to drop it.
                crate::history::forget_live(&state.db, queue_name, &[id.to_string()])
                    .await
                    .map_err(anyhow::Error::from)?;
                Ok(json!({}))
            }
            ("pause", None) => Ok(json!({ "changed": queue.pause().await? })),
            ("resume", None) => Ok(json!({ "changed": queue.resume().await? })),
            _ => Err(ApiError::invalid("action", format!("unknown action {action}"))),
        }
    }
    .await;
    let target = match job_id {
        Some(id) => format!("{queue_name}/{id}"),
        None => queue_name.to_string(),
    };
    let result = if outcome.is_ok() { "ok" } else { "failed" };
    let entry = AuditEntry { action, target, params: json!({}), result, client_addr };
    audit::record(&state.db, principal, entry).await?;
    outcome
}

/// To an end user another's job does not exist, whatever they try to do with it: 404
/// before any role check.
async fn hide_others_job(queue: &Queue, principal: &Principal, id: &str) -> Result<(), ApiError> {
    if principal.role == Role::User
        && !queue.get_job(id).await?.is_some_and(|job| policy::may_see(principal, job.owner.as_deref()))
    {
        return Err(ApiError::NotFound(format!("job {id}")));
    }
    Ok(())
}

/// A dead or cancelled job's payload, edited by an operator, and the job retried with it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryEdited {
    /// Replaces the job's payload (JSON; at most the queue's payload size).
    pub payload: serde_json::Value,
}

/// Retries a dead or cancelled job with a new payload (the fix for the input it died
/// of); audited as `retry-edited` with the new payload's size (not its content).
pub async fn retry_edited(
    state: &AppState,
    principal: &Principal,
    client_addr: Option<String>,
    queue_name: &str,
    id: &str,
    request: RetryEdited,
) -> Result<serde_json::Value, ApiError> {
    let queue = queue(state, queue_name)?;
    hide_others_job(&queue, principal, id).await?;
    authorize(principal, Action::ActOnJob)?;
    authorize_reports_queue(state, principal, queue_name)?;
    let bytes = serde_json::to_string(&request.payload).map(|text| text.len()).unwrap_or_default();
    let outcome = queue.retry_with_payload(id, &request.payload).await.map(|_| json!({})).map_err(ApiError::from);
    let params = json!({ "payload_bytes": bytes });
    audit_job_action(state, principal, client_addr, "retry-edited", (queue_name, id), params, outcome.is_ok()).await?;
    outcome
}

/// Enqueues a copy of a job (`NewJob::like`: same name, payload and options, not its
/// dedup key), to run now; audited as `duplicate` with the copy's id.
pub async fn duplicate(
    state: &AppState,
    principal: &Principal,
    client_addr: Option<String>,
    queue_name: &str,
    id: &str,
) -> Result<Enqueued, ApiError> {
    // Rights first: turning the queue's archiving on writes to Redis.
    let queue = queue(state, queue_name)?;
    hide_others_job(&queue, principal, id).await?;
    authorize(principal, Action::ActOnJob)?;
    authorize_reports_queue(state, principal, queue_name)?;
    let outcome = match queue.get_job(id).await? {
        Some(job) => match queue_to_enqueue(state, queue_name).await {
            Ok(queue) => queue.enqueue(NewJob::like(&job)).await.map_err(ApiError::from),
            Err(error) => Err(error),
        },
        None => Err(ApiError::NotFound(format!("job {id}"))),
    };
    let params = json!({ "new_id": outcome.as_ref().map(|e| e.id.clone()).ok() });
    audit_job_action(state, principal, client_addr, "duplicate", (queue_name, id), params, outcome.is_ok()).await?;
    outcome
}

/// Writes one job action to the audit log, done or failed.
async fn audit_job_action(
    state: &AppState,
    principal: &Principal,
    client_addr: Option<String>,
    action: &'static str,
    (queue_name, id): (&str, &str),
    params: serde_json::Value,
    done: bool,
) -> Result<(), ApiError> {
    let result = if done { "ok" } else { "failed" };
    let entry = AuditEntry { action, target: format!("{queue_name}/{id}"), params, result, client_addr };
    audit::record(&state.db, principal, entry).await?;
    Ok(())
}
