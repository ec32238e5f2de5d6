//! The dead-letter queue across all queues: browse with filters, requeue or purge a
//! selection or everything matching a filter.

use std::collections::BTreeMap;

use hoist_queue::{Job, JobState, Queue};
use serde::Deserialize;
use serde_json::json;

use crate::api_error::ApiError;
use crate::audit::{self, AuditEntry};
use crate::auth::Principal;
use crate::policy::{self, Action, authorize};
use crate::state::AppState;

/// Newest dead jobs read per queue when filtering (the dead set is capped by retention).
const SCAN_PER_QUEUE: u64 = 10_000;

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadFilter {
    pub queue: Option<String>,
    /// Case-insensitive text in the last error.
    pub error: Option<String>,
    /// Only jobs that died at least this long ago.
    pub older_than_ms: Option<u64>,
    /// Only jobs that died at most this long ago.
    pub newer_than_ms: Option<u64>,
}

impl DeadFilter {
    fn matches(&self, job: &Job, now: i64) -> bool {
        let died = job.finished_at.unwrap_or(0);
        let error_ok = self.error.as_ref().is_none_or(|needle| {
            let needle = needle.to_lowercase();
            job.last_error.as_ref().is_some_and(|e| e.message.to_lowercase().contains(&needle))
        });
        // Ages beyond i64 are older than any job (never a wrapped negative age that would
        // match every job).
        let age = |ms: u64| i64::try_from(ms).unwrap_or(i64::MAX);
        error_ok
            && self.older_than_ms.is_none_or(|ms| now.saturating_sub(died) >= age(ms))
            && self.newer_than_ms.is_none_or(|ms| now.saturating_sub(died) <= age(ms))
    }
}

/// Dead jobs matching the filter, newest first per queue, at most `limit`.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    filter: &DeadFilter,
    limit: usize,
) -> Result<Vec<Job>, ApiError> {
    authorize(principal, Action::ReadJobs)?;
    let queues = match &filter.queue {
        Some(q) => {
            crate::names::check_queue(q)?;
            vec![q.clone()]
        }
        None => Queue::list_all(&state.engine).await?,
    };
    let mut out = vec![];
    // An end user's dead jobs come from the engine's index of their jobs: no scan of
    // everyone's dead letters on their behalf.
    let owner = policy::listing_owner(principal, None);
    for name in queues {
        let queue = Queue::new(&state.engine, &name)?;
        // Finish times are Redis's: the age filter compares them with Redis's clock.
        let now = queue.redis_time().await?;
        if let Some(owner) = &owner {
            let page = queue.list_owned(owner, &[JobState::Dead], 0, limit.min(1000) as u64).await?;
            out.extend(page.jobs.into_iter().filter(|job| filter.matches(job, now)).take(limit - out.len()));
            if out.len() >= limit {
                break;
            }
            continue;
        }
        let mut offset = 0;
        while offset < SCAN_PER_QUEUE && out.len() < limit {
            let page = queue.list_jobs(JobState::Dead, offset, 500).await?;
            for job in page.jobs {
                if policy::may_see(principal, job.owner.as_deref()) && filter.matches(&job, now) && out.len() < limit {
                    out.push(job);
                }
            }
            match page.next {
                Some(next) => offset = next,
                None => break,
            }
        }
    }
    Ok(out)
}

/// Which dead jobs an action applies to.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Selection {
    /// These jobs of one queue.
    Jobs { queue: String, ids: Vec<String> },
    /// Everything the filter matches.
    Filter(DeadFilter),
}

/// Requeues (`purge = false`) or deletes the selected dead jobs; audited. Returns how many.
pub async fn requeue_or_purge(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    selection: Selection,
    purge: bool,
) -> Result<u64, ApiError> {
    authorize(principal, Action::ControlQueue)?;
    let mut by_queue: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let params = match &selection {
        Selection::Jobs { queue, ids } => {
            if ids.is_empty() || ids.len() > 10_000 {
                return Err(ApiError::invalid("ids", "select 1 to 10,000 jobs"));
            }
            by_queue.insert(queue.clone(), ids.clone());
            json!({ "queue": queue, "ids": ids.len() })
        }
        Selection::Filter(filter) => {
            for job in list(state, principal, filter, 100_000).await? {
                by_queue.entry(job.queue).or_default().push(job.id);
            }
            json!({ "queue": filter.queue, "error": filter.error, "older_than_ms": filter.older_than_ms,
                    "newer_than_ms": filter.newer_than_ms })
        }
    };
    let mut affected = 0;
    for (name, ids) in &by_queue {
        let queue = crate::services::jobs::queue(state, name)?;
        for chunk in ids.chunks(500) {
            affected += if purge {
                // Only jobs still dead when the deletion runs (one atomic step): a
                // selection naming another job, or one requeued meanwhile, is kept.
                queue.remove_in_state(chunk, JobState::Dead).await?
            } else {
                queue.requeue_dead(chunk).await?
            };
        }
    }
    let result = format!("ok: {affected} jobs");
    let action = if purge { "dead.purge" } else { "dead.requeue" };
    let entry = AuditEntry { action, target: "dead-letters".into(), params, result: &result, client_addr: addr };
    audit::record(&state.db, principal, entry).await?;
    Ok(affected)
}
