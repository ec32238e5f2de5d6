//! Jobs and queues: enqueue, look up, list, act on; with each role's rights.

use hoist_queue::{Enqueued, Job, JobOptions, JobPage, JobState, NewJob, Queue};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api_error::ApiError;
use crate::audit::{self, AuditEntry};
use crate::auth::Principal;
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

fn can_operate(principal: &Principal) -> Result<(), ApiError> {
    match principal.role {
        Role::Admin | Role::Operator => Ok(()),
        _ => Err(ApiError::Forbidden("this action needs the operator or admin role".into())),
    }
}

fn queue(state: &AppState, name: &str) -> Result<Queue, ApiError> {
    Ok(Queue::new(&state.engine, name)?)
}

/// A handle to enqueue with. The history's archive set is turned on for the queue first,
/// so none of the jobs added through this server ends uncopied.
pub(crate) async fn queue_to_enqueue(state: &AppState, name: &str) -> Result<Queue, ApiError> {
    let queue = queue(state, name)?;
    state.archiving.ensure(&queue).await?;
    Ok(queue)
}

/// An end user sees only their own jobs; to them another's job does not exist.
fn visible(principal: &Principal, job: &Job) -> bool {
    principal.role != Role::User || job.owner.as_deref() == Some(principal.user_id.to_string().as_str())
}

async fn allowed_queues(state: &AppState, principal: &Principal) -> Result<Vec<String>, ApiError> {
    let raw: String = sqlx::query_scalar("SELECT allowed_queues FROM users WHERE id = $1")
        .bind(principal.user_id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok(serde_json::from_str(&raw).unwrap_or_default())
}

/// Adds a job. Operators and admins enqueue anywhere; an end user only to the queues an
/// admin allowed them, and always as the job's owner; viewers never.
pub async fn enqueue(
    state: &AppState,
    principal: &Principal,
    queue_name: &str,
    request: EnqueueRequest,
) -> Result<Enqueued, ApiError> {
    let mut options = request.options;
    match principal.role {
        Role::Admin | Role::Operator => {}
        Role::User => {
            if !allowed_queues(state, principal).await?.iter().any(|q| q == queue_name) {
                return Err(ApiError::Forbidden(format!("you may not enqueue to {queue_name:?}")));
            }
            options.owner = Some(principal.user_id.to_string());
        }
        Role::Viewer => return Err(ApiError::Forbidden("viewers cannot enqueue".into())),
    }
    let queue = queue_to_enqueue(state, queue_name).await?;
    let enqueued = queue.enqueue(NewJob { name: request.name, payload: request.payload, options }).await?;
    Ok(enqueued)
}

pub async fn get_job(state: &AppState, principal: &Principal, queue_name: &str, id: &str) -> Result<Job, ApiError> {
    let job = queue(state, queue_name)?.get_job(id).await?;
    job.filter(|j| visible(principal, j)).ok_or_else(|| ApiError::NotFound(format!("job {id}")))
}

/// Which of a state's jobs to list.
#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    pub owner: Option<String>,
    pub name: Option<String>,
}

/// Jobs one filtered listing reads at most before it returns what it found (with a
/// cursor to go on): Redis has no index by owner or name, and a request must stay short.
/// The SQL history search is the indexed answer for finished jobs.
pub const FILTER_SCAN_LIMIT: u64 = 5_000;

/// A page of a queue's jobs in one state, newest first; `cursor` is an offset into the
/// state. With a filter (and always for end users, who see only their own jobs) it reads
/// on until `limit` jobs match or [`FILTER_SCAN_LIMIT`] were read; `next` then says where
/// to go on.
pub async fn list_jobs(
    state: &AppState,
    principal: &Principal,
    queue_name: &str,
    job_state: JobState,
    filter: JobFilter,
    cursor: u64,
    limit: u64,
) -> Result<JobPage, ApiError> {
    let mut filter = filter;
    if principal.role == Role::User {
        filter.owner = Some(principal.user_id.to_string());
    }
    let queue = queue(state, queue_name)?;
    if filter.owner.is_none() && filter.name.is_none() {
        return Ok(queue.list_jobs(job_state, cursor, limit).await?);
    }
    let matches = |job: &Job| {
        filter.owner.as_ref().is_none_or(|o| job.owner.as_ref() == Some(o))
            && filter.name.as_ref().is_none_or(|n| &job.name == n)
    };
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
    principal.require_staff()?;
    let mut out = vec![];
    for name in Queue::list_queues(&state.engine, "hoist").await? {
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
    principal.require_staff()?;
    if !(1..=14 * 24 * 60).contains(&minutes) {
        return Err(ApiError::invalid("minutes", "must be between 1 and 20160 (14 days)"));
    }
    let now = crate::db::now_ms() / 60_000;
    Ok(queue(state, queue_name)?.stats(now - minutes + 1, now).await?)
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
    if requests.is_empty() || requests.len() > MAX_BULK {
        return Err(ApiError::invalid("jobs", format!("send 1 to {MAX_BULK} jobs")));
    }
    let owner = match principal.role {
        Role::Admin | Role::Operator => None,
        Role::User => {
            if !allowed_queues(state, principal).await?.iter().any(|q| q == queue_name) {
                return Err(ApiError::Forbidden(format!("you may not enqueue to {queue_name:?}")));
            }
            Some(principal.user_id.to_string())
        }
        Role::Viewer => return Err(ApiError::Forbidden("viewers cannot enqueue".into())),
    };
    let jobs = requests
        .into_iter()
        .map(|r| {
            let mut options = r.options;
            if owner.is_some() {
                options.owner = owner.clone();
            }
            NewJob { name: r.name, payload: r.payload, options }
        })
        .collect();
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
    can_operate(principal)?;
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
#[serde(tag = "action", rename_all = "kebab-case")]
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
    can_operate(principal)?;
    let queue = queue(state, queue_name)?;
    let outcome: Result<serde_json::Value, ApiError> = async {
        match (action, job_id) {
            ("cancel", Some(id)) => Ok(json!({ "outcome": format!("{:?}", queue.cancel(id).await?).to_lowercase() })),
            ("retry", Some(id)) => queue.retry_job(id).await.map(|_| json!({})).map_err(Into::into),
            ("promote", Some(id)) => queue.promote(id).await.map(|_| json!({})).map_err(Into::into),
            ("remove", Some(id)) => queue.remove(id).await.map(|_| json!({})).map_err(Into::into),
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
