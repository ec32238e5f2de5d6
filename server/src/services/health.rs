//! Queue health: the counts plus warnings an operator should act on.

use hoist_queue::Counts;
use serde::Serialize;

use crate::api_error::ApiError;
use crate::state::AppState;

/// When a queue counts as unhealthy. Defaults from the seeds; per queue from the
/// environment, e.g. `HOIST_QUEUE_EMAILS_MAX_WAITING=5000`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HealthThresholds {
    pub max_dead: u64,
    pub max_waiting: u64,
    pub max_active_age_ms: i64,
}

impl HealthThresholds {
    pub fn for_queue(queue: &str) -> Self {
        let var = |name: &str| {
            let key = format!("HOIST_QUEUE_{}_{name}", queue.to_uppercase().replace(['-', '.', ':'], "_"));
            std::env::var(key).ok().and_then(|v| v.parse::<i64>().ok())
        };
        HealthThresholds {
            max_dead: var("MAX_FAILED").map_or(100, |v| v.max(0) as u64),
            max_waiting: var("MAX_WAITING").map_or(1000, |v| v.max(0) as u64),
            max_active_age_ms: var("MAX_ACTIVE_SECONDS").map_or(5 * 60_000, |v| v.saturating_mul(1000)),
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct QueueHealth {
    pub queue: String,
    pub healthy: bool,
    pub paused: bool,
    pub counts: Counts,
    pub warnings: Vec<String>,
    pub thresholds: HealthThresholds,
}

pub async fn queue_health(
    state: &AppState,
    principal: &crate::auth::Principal,
    queue_name: &str,
) -> Result<QueueHealth, ApiError> {
    crate::policy::authorize(principal, crate::policy::Action::WatchQueues)?;
    let queue = crate::services::jobs::queue(state, queue_name)?;
    let counts = queue.counts().await?;
    let thresholds = HealthThresholds::for_queue(queue_name);
    let mut warnings = vec![];
    if counts.dead > thresholds.max_dead {
        warnings
            .push(format!("{} failed jobs in the dead-letter queue (more than {})", counts.dead, thresholds.max_dead));
    }
    if counts.waiting > thresholds.max_waiting {
        warnings.push(format!("{} jobs waiting (more than {})", counts.waiting, thresholds.max_waiting));
    }
    // Start times are Redis's: compare them with Redis's clock, not this server's.
    if let Some(started) = queue.oldest_active_started_at().await?
        && let running_for = queue.redis_time().await? - started
        && running_for > thresholds.max_active_age_ms
    {
        warnings.push(format!(
            "a job has been active for {} s (more than {} s)",
            running_for / 1000,
            thresholds.max_active_age_ms / 1000
        ));
    }
    Ok(QueueHealth {
        queue: queue_name.to_string(),
        healthy: warnings.is_empty() && !counts.paused,
        paused: counts.paused,
        counts,
        warnings,
        thresholds,
    })
}
