//! Queue health: the counts plus warnings an operator should act on.

use app::i18n::{I18n, Language};
use app::types::HealthWarning;
use hoist_queue::Counts;
use serde::Serialize;

use crate::api_error::ApiError;
use crate::state::AppState;

/// When a queue counts as unhealthy. Defaults from the seeds; per queue from
/// `hoist.toml` or the environment, e.g. `HOIST_QUEUE_EMAILS_MAX_WAITING=5000`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HealthThresholds {
    pub max_dead: u64,
    pub max_waiting: u64,
    pub max_active_age_ms: i64,
}

impl HealthThresholds {
    pub fn of(settings: &crate::settings::QueueSettings) -> Self {
        HealthThresholds {
            max_dead: settings.max_failed.value,
            max_waiting: settings.max_waiting.value,
            max_active_age_ms: i64::try_from(settings.max_active.value.as_millis()).unwrap_or(i64::MAX),
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct QueueHealth {
    pub queue: String,
    pub healthy: bool,
    pub paused: bool,
    pub counts: Counts,
    /// What is wrong, in English words.
    pub warnings: Vec<String>,
    /// The same, as data: `{"kind": "too_many_dead" | "too_many_waiting", "count",
    /// "limit"}` or `{"kind": "active_too_long", "seconds", "limit_seconds"}` (the
    /// dashboard words them in the page's language).
    #[schema(value_type = Vec<Object>)]
    pub issues: Vec<HealthWarning>,
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
    let thresholds = HealthThresholds::of(&state.settings.queue(queue_name));
    let mut issues = vec![];
    if counts.dead > thresholds.max_dead {
        issues.push(HealthWarning::TooManyDead { count: counts.dead, limit: thresholds.max_dead });
    }
    if counts.waiting > thresholds.max_waiting {
        issues.push(HealthWarning::TooManyWaiting { count: counts.waiting, limit: thresholds.max_waiting });
    }
    // Start times are Redis's: compare them with Redis's clock, not this server's.
    if let Some(started) = queue.oldest_active_started_at().await?
        && let running_for = queue.redis_time().await? - started
        && running_for > thresholds.max_active_age_ms
    {
        issues.push(HealthWarning::ActiveTooLong {
            seconds: (running_for / 1000).max(0) as u64,
            limit_seconds: (thresholds.max_active_age_ms / 1000).max(0) as u64,
        });
    }
    let warnings: Vec<String> = issues.iter().map(|issue| issue.text(I18n::new(Language::En))).collect();
    Ok(QueueHealth {
        queue: queue_name.to_string(),
        healthy: warnings.is_empty() && !counts.paused,
        paused: counts.paused,
        counts,
        warnings,
        issues,
        thresholds,
    })
}
