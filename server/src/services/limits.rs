//! A queue's limits, obeyed by every worker of it together: a cap on its active jobs,
//! on job starts per window, on the jobs each process runs at once, and on the active
//! jobs of any one group. They live in
//! Redis and each claim reads the first two, so a change takes effect in every process
//! at its next claim; idle workers are woken at once so a raised limit starts more jobs
//! right away, and every process hears a per-process change over Pub/Sub.

use hoist_queue::QueueLimits;
use serde_json::json;

use crate::api_error::ApiError;
use crate::audit::{self, AuditEntry};
use crate::auth::Principal;
use crate::policy::{Action, authorize};
use crate::state::AppState;

/// The engine's bounds (`Queue::set_limits` checks them too, naming only `rate`), checked
/// here so each refusal names its own field (input that is
/// refused changes nothing and is not audited).
fn check(limits: &QueueLimits) -> Result<(), ApiError> {
    use hoist_queue::{MAX_CONCURRENCY_LIMIT, MAX_OPTION_DURATION, MAX_PROCESS_CONCURRENCY, MAX_RATE_LIMIT};
    if limits.concurrency.is_some_and(|n| !(1..=MAX_CONCURRENCY_LIMIT).contains(&n)) {
        return Err(ApiError::invalid(
            "concurrency",
            "the cap on active jobs must be 1 to 100,000 (pause the queue to stop it)",
        ));
    }
    if limits.process_concurrency.is_some_and(|n| !(1..=MAX_PROCESS_CONCURRENCY).contains(&n)) {
        return Err(ApiError::invalid("process_concurrency", "each process's concurrency must be 1 to 10,000"));
    }
    if limits.group_concurrency.is_some_and(|n| !(1..=MAX_CONCURRENCY_LIMIT).contains(&n)) {
        return Err(ApiError::invalid("group_concurrency", "the cap on each group's active jobs must be 1 to 100,000"));
    }
    if let Some(rate) = limits.rate {
        if !(1..=MAX_RATE_LIMIT).contains(&rate.max) {
            return Err(ApiError::invalid("rate.max", "the most starts per window must be 1 to 1,000,000"));
        }
        if rate.per.is_zero() || rate.per > MAX_OPTION_DURATION {
            return Err(ApiError::invalid("rate.per", "the window must be 1 ms to 365 days"));
        }
    }
    Ok(())
}

/// The limits in force on `queue_name` (none set: no cap).
pub async fn limits(state: &AppState, principal: &Principal, queue_name: &str) -> Result<QueueLimits, ApiError> {
    authorize(principal, Action::WatchQueues)?;
    let queue = crate::services::jobs::queue(state, queue_name)?;
    Ok(queue.limits().await?)
}

/// Replaces `queue_name`'s limits (`None` parts remove that limit); audited as
/// `queue.limits` with the new values.
pub async fn set_limits(
    state: &AppState,
    principal: &Principal,
    client_addr: Option<String>,
    queue_name: &str,
    limits: QueueLimits,
) -> Result<QueueLimits, ApiError> {
    authorize(principal, Action::ControlQueue)?;
    let queue = crate::services::jobs::queue(state, queue_name)?;
    check(&limits)?;
    let outcome = queue.set_limits(&limits).await;
    let params = json!({
        "concurrency": limits.concurrency,
        "rate": limits.rate.map(|rate| json!({ "max": rate.max, "per_ms": rate.per.as_millis() as u64 })),
        "process_concurrency": limits.process_concurrency,
        "group_concurrency": limits.group_concurrency,
    });
    let result = if outcome.is_ok() { "ok" } else { "failed" };
    let entry = AuditEntry { action: "queue.limits", target: queue_name.to_string(), params, result, client_addr };
    audit::record(&state.db, principal, entry).await?;
    outcome?;
    Ok(queue.limits().await?)
}
