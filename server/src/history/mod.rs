//! Job history in SQL. Every job that ends (completed, dead, cancelled) is copied from
//! the engine's archive set in batches, so the dashboard can search jobs long after Redis
//! retention dropped them. The engine keeps a finished job until it is copied, so a
//! writer that was down (a restart, an outage of the database) loses no record; copies
//! are upserts keyed by queue and job id, so two writers or a repeated batch never make a
//! second row.
//!
//! - `copier`: the loop that reads finished jobs from Redis and writes them, a batch
//!   read while the one before is written, queues side by side;
//! - `write`: the SQL of one batch (one multi-row statement) and pruning;
//! - `quarantine`: records the database refused, kept aside with its reason;
//! - `search`: the SQL search of finished jobs;
//! - `sweep`: drops live rows of jobs gone from Redis.

mod copier;
mod quarantine;
mod search;
mod sweep;
mod write;

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use hoist_queue::{Job, JobState, Queue};
use serde::{Deserialize, Serialize};

pub use copier::{BATCH, INDEX_MIN_AGE, copy_all, copy_batch, index_queue, run_writer, writers_for};
pub use quarantine::{
    MAX_QUARANTINE_PAGE, QuarantinePage, QuarantineQuery, QuarantinedRecord, quarantine, quarantined,
};
pub use search::{BadQuery, HistoryPage, HistoryQuery, search};
pub use sweep::{SWEEP_STEP, SweepCursor, sweep_live_rows};
pub use write::{LIVE, forget, forget_live, index_live, is_data_error, prune, record};

/// History settings: `HOIST_HISTORY_DAYS` (0 turns history off).
#[derive(Clone, Copy, Debug)]
pub struct HistoryConfig {
    pub retention: Option<Duration>,
}

impl HistoryConfig {
    pub fn from_days(days: u32) -> Self {
        HistoryConfig { retention: (days > 0).then(|| Duration::from_secs(u64::from(days) * 86_400)) }
    }

    pub fn enabled(&self) -> bool {
        self.retention.is_some()
    }
}

/// Turns on the engine's archive set for each queue once per process, before this
/// process enqueues to it or works on it, so no ending slips by uncopied.
#[derive(Debug, Default)]
pub struct Archiving {
    enabled: bool,
    flagged: Mutex<HashSet<String>>,
}

impl Archiving {
    pub fn new(enabled: bool) -> Self {
        Archiving { enabled, flagged: Mutex::default() }
    }

    pub async fn ensure(&self, queue: &Queue) -> hoist_queue::Result<()> {
        if !self.enabled || self.flagged.lock().expect("flagged queues").contains(queue.name()) {
            return Ok(());
        }
        queue.set_archiving(true).await?;
        self.flagged.lock().expect("flagged queues").insert(queue.name().to_string());
        Ok(())
    }
}

/// One finished job as the history keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryRecord {
    pub queue: String,
    pub job_id: String,
    pub name: String,
    pub owner: Option<String>,
    /// `completed`, `dead` or `cancelled`.
    pub status: String,
    pub payload: serde_json::Value,
    pub result: Option<serde_json::Value>,
    /// The last error, for dead jobs (and jobs that failed before they completed).
    pub error: Option<serde_json::Value>,
    /// Every failed attempt's error.
    pub errors: serde_json::Value,
    pub attempts: u32,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: i64,
    pub duration_ms: Option<i64>,
}

impl HistoryRecord {
    /// The record of a finished job; `None` for a job that is not (or no longer) finished.
    pub fn of(job: &Job) -> Option<Self> {
        Self::from_job(job.clone())
    }

    /// [`HistoryRecord::of`], taking the job apart instead of copying it.
    pub fn from_job(job: Job) -> Option<Self> {
        let status = match job.state {
            JobState::Completed | JobState::Dead | JobState::Cancelled | JobState::Expired => {
                job.state.as_str().to_string()
            }
            _ => return None,
        };
        let finished_at = job.finished_at?;
        Some(HistoryRecord {
            error: job.last_error.as_ref().and_then(|e| serde_json::to_value(e).ok()),
            errors: serde_json::to_value(&job.errors).unwrap_or_default(),
            queue: job.queue,
            job_id: job.id,
            name: job.name,
            owner: job.owner,
            status,
            payload: job.payload,
            result: job.result,
            attempts: job.attempts,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at,
            duration_ms: job.started_at.map(|s| finished_at - s),
        })
    }
}
