//! The plain data of the engine: jobs, states, options, progress, events. No I/O here.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::trace_context::TraceContext;

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Ready to run, in priority then FIFO order.
    Waiting,
    /// Scheduled for later.
    Delayed,
    /// Failed an attempt and waits out its backoff before the next.
    Retrying,
    /// Held by a worker under a lease.
    Active,
    Completed,
    /// Failed permanently or ran out of attempts: the dead-letter queue.
    Dead,
    Cancelled,
    /// Not started by its deadline (`JobOptions::expires_in`): it never runs.
    Expired,
}

impl JobState {
    pub const ALL: [JobState; 8] = [
        JobState::Waiting,
        JobState::Delayed,
        JobState::Retrying,
        JobState::Active,
        JobState::Completed,
        JobState::Dead,
        JobState::Cancelled,
        JobState::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "waiting",
            JobState::Delayed => "delayed",
            JobState::Retrying => "retrying",
            JobState::Active => "active",
            JobState::Completed => "completed",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
            JobState::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        JobState::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Completed, dead and cancelled jobs never run again unless retried by hand.
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Completed | JobState::Dead | JobState::Cancelled | JobState::Expired)
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long to wait before the next attempt of a failed job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields, from = "BackoffFields")]
pub enum Backoff {
    /// Retry at once.
    None,
    /// The same delay before every retry.
    Fixed {
        #[serde(with = "crate::serde_millis::millis")]
        #[cfg_attr(feature = "openapi", schema(value_type = u64))]
        delay: Duration,
    },
    /// `base * 2^(attempt-1)`, at most `cap`, shortened by up to `jitter` (0..=1) at random
    /// so that jobs failing together do not retry together.
    Exponential {
        #[serde(with = "crate::serde_millis::millis")]
        #[cfg_attr(feature = "openapi", schema(value_type = u64))]
        base: Duration,
        #[serde(with = "crate::serde_millis::millis")]
        #[cfg_attr(feature = "openapi", schema(value_type = u64))]
        cap: Duration,
        jitter: f64,
    },
}

/// [`Backoff`] as it is read: `none` as an empty struct variant, so that a field sent with
/// it is refused like any other unknown field (serde lets a unit variant of an internally
/// tagged enum ignore the rest of the object).
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum BackoffFields {
    None {},
    Fixed {
        #[serde(with = "crate::serde_millis::millis")]
        delay: Duration,
    },
    Exponential {
        #[serde(with = "crate::serde_millis::millis")]
        base: Duration,
        #[serde(with = "crate::serde_millis::millis")]
        cap: Duration,
        jitter: f64,
    },
}

impl From<BackoffFields> for Backoff {
    fn from(fields: BackoffFields) -> Self {
        match fields {
            BackoffFields::None {} => Backoff::None,
            BackoffFields::Fixed { delay } => Backoff::Fixed { delay },
            BackoffFields::Exponential { base, cap, jitter } => Backoff::Exponential { base, cap, jitter },
        }
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::Exponential { base: Duration::from_secs(1), cap: Duration::from_secs(3600), jitter: 0.2 }
    }
}

impl Backoff {
    /// The compact form stored on the job and read by the failing script.
    pub(crate) fn encode(&self) -> String {
        match self {
            Backoff::None => "none".into(),
            Backoff::Fixed { delay } => format!("fixed:{}", delay.as_millis()),
            Backoff::Exponential { base, cap, jitter } => {
                format!("exponential:{}:{}:{}", base.as_millis(), cap.as_millis(), jitter)
            }
        }
    }

    pub(crate) fn decode(value: &str) -> Backoff {
        let mut parts = value.split(':');
        let kind = parts.next().unwrap_or_default();
        let mut num = || parts.next().and_then(|p| p.parse::<f64>().ok()).unwrap_or(0.0);
        match kind {
            "fixed" => Backoff::Fixed { delay: Duration::from_millis(num() as u64) },
            "exponential" => {
                let base = Duration::from_millis(num() as u64);
                let cap = Duration::from_millis(num() as u64);
                Backoff::Exponential { base, cap, jitter: num() }
            }
            _ => Backoff::None,
        }
    }

    /// The delay before retry number `attempt` (1-based) for a jitter sample in 0..1;
    /// the same formula as `fail_jobs.lua`, for documentation and tests.
    pub fn delay(&self, attempt: u32, sample: f64) -> Duration {
        match self {
            Backoff::None => Duration::ZERO,
            Backoff::Fixed { delay } => *delay,
            Backoff::Exponential { base, cap, jitter } => {
                let raw = base.as_millis() as f64 * 2f64.powi(attempt.saturating_sub(1) as i32);
                let capped = raw.min(cap.as_millis() as f64);
                Duration::from_millis((capped * (1.0 - jitter * sample)).floor() as u64)
            }
        }
    }
}

/// Options of one job; every field has a sensible default. A field this version does not
/// know is an error naming it (`{"priorty": 5}` is refused, not ignored); options
/// serialized by this or an earlier version (schedules keep theirs in Redis) read back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct JobOptions {
    /// 0 (default) runs first, 1000 last; FIFO within a priority. On a queue whose jobs
    /// carry groups ([`JobOptions::group`]) it orders the jobs of each group; the groups
    /// take turns regardless.
    pub priority: u16,
    /// Run no earlier than this long from now.
    #[serde(with = "crate::serde_millis::opt_millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
    pub delay: Option<Duration>,
    /// Attempts in all, the first included (default 3).
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// An attempt running longer is cancelled and counts as failed.
    #[serde(with = "crate::serde_millis::opt_millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
    pub timeout: Option<Duration>,
    /// While a job with this key exists (see `dedup_scope`), enqueueing another returns
    /// the existing one. 1 to 512 bytes without control characters, not starting with
    /// `#` (the engine's own entries in the dedup index start with it).
    pub dedup_key: Option<String>,
    /// How long `dedup_key` holds: while the job exists (default) or only until it
    /// finishes.
    pub dedup_scope: DedupScope,
    /// The user the job belongs to (1 to 200 bytes); end users see only their own jobs.
    /// An owned job is in the queue's index of the owner's jobs (`Queue::list_owned`)
    /// until it is deleted.
    pub owner: Option<String>,
    /// How many times the job may lose its worker (lease expired) before it is dead.
    pub max_stalls: u32,
    /// A sliding-window limit shared by every job naming the same key (e.g. at most 10
    /// per owner per hour); enqueueing beyond it fails with `RateLimited`.
    pub rate_limit: Option<KeyRateLimit>,
    /// The job must start within this long of being enqueued (1 ms to 365 days, longer
    /// than `delay`); one not started by then ends [`JobState::Expired`] instead of
    /// running late. Its first attempt counts: a retry after a failed start is not held
    /// to it.
    #[serde(with = "crate::serde_millis::opt_millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
    pub expires_in: Option<Duration>,
    /// The group the job belongs to (a tenant, an organisation; 1 to 200 bytes without
    /// control characters). Once a queue has had a job with a group, its workers serve
    /// the groups in turn, one job each, so one group's backlog does not hold back
    /// another's jobs, and [`QueueLimits::group_concurrency`] caps each group's active
    /// jobs. Priority orders jobs within a group.
    #[serde(default)]
    pub group: Option<String>,
}

/// How long a job's dedup key keeps other jobs with the same key from being added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DedupScope {
    /// While the job holding the key exists, finished or not: a completed job keeps its
    /// key until retention (or remove, clean, ...) deletes it.
    #[default]
    Retained,
    /// Only while the job holding the key is waiting, delayed, retrying or active: once it
    /// completed, died or was cancelled, enqueueing the same key adds a new job, which
    /// takes the key over ("run now" buttons: one run at a time, a new one after it).
    /// Decided when the new job is enqueued, by its own scope.
    Unfinished,
}

/// At most `max` jobs per `per` for one key of a queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyRateLimit {
    pub key: String,
    pub max: u32,
    #[serde(with = "crate::serde_millis::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub per: Duration,
}

/// Limits every worker of a queue obeys together; stored in Redis.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueLimits {
    /// Most jobs active at once across all workers.
    pub concurrency: Option<u32>,
    /// Most job starts per window across all workers.
    pub rate: Option<RateLimit>,
    /// Jobs each worker of the queue (one per process, in `hoist serve` and `hoist
    /// worker`) runs at once, in place of the concurrency it was started with (`None`:
    /// each its own). Workers hear a change at once and apply it to their next claim;
    /// jobs already running finish.
    #[serde(default)]
    pub process_concurrency: Option<u32>,
    /// Most jobs of any one group ([`JobOptions::group`]) active at once across all
    /// workers (`None`: no cap). Groups are served in turn either way.
    #[serde(default)]
    pub group_concurrency: Option<u32>,
}

/// `max` starts per `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimit {
    pub max: u32,
    #[serde(with = "crate::serde_millis::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub per: Duration,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            priority: 0,
            delay: None,
            max_attempts: 3,
            backoff: Backoff::default(),
            timeout: None,
            dedup_key: None,
            dedup_scope: DedupScope::Retained,
            owner: None,
            max_stalls: 1,
            rate_limit: None,
            expires_in: None,
            group: None,
        }
    }
}

/// Highest priority number (runs last).
pub const MAX_PRIORITY: u16 = 1000;

/// The longest delay, timeout, backoff or rate-limit window a job may ask for (365 days):
/// beyond it a time stops being a plan and starts overflowing clocks.
pub const MAX_OPTION_DURATION: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

/// A job to enqueue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewJob {
    pub name: String,
    pub payload: serde_json::Value,
    #[serde(default)]
    pub options: JobOptions,
    /// The trace the job continues. Unset, and with the `opentelemetry` feature, enqueue
    /// takes the current span's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceContext>,
}

impl NewJob {
    pub fn new(name: impl Into<String>, payload: serde_json::Value) -> Self {
        NewJob { name: name.into(), payload, options: JobOptions::default(), trace: None }
    }

    pub fn with_options(mut self, options: JobOptions) -> Self {
        self.options = options;
        self
    }

    /// Continues the given trace instead of the current span's.
    pub fn with_trace(mut self, trace: TraceContext) -> Self {
        self.trace = Some(trace);
        self
    }

    /// A new job like `job`: the same name, payload, priority, attempts, backoff, timeout,
    /// owner, stall limit and time to start within (counted from now), to run now. Not its dedup key (the copy would dedupe to the
    /// original) nor its trace (the copy starts its own).
    ///
    /// ```no_run
    /// # async fn example(queue: hoist_queue::Queue, id: &str) -> hoist_queue::Result<()> {
    /// if let Some(job) = queue.get_job(id).await? {
    ///     let copy = queue.enqueue(hoist_queue::NewJob::like(&job)).await?;
    ///     println!("duplicated {id} as {}", copy.id);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn like(job: &Job) -> Self {
        let options = JobOptions {
            priority: job.priority,
            max_attempts: job.max_attempts,
            backoff: job.backoff.clone(),
            timeout: job.timeout_ms.map(Duration::from_millis),
            owner: job.owner.clone(),
            group: job.group.clone(),
            max_stalls: job.max_stalls,
            expires_in: job.expires_at.map(|at| Duration::from_millis(at.saturating_sub(job.created_at).max(1) as u64)),
            ..JobOptions::default()
        };
        NewJob::new(job.name.clone(), job.payload.clone()).with_options(options)
    }
}

/// What enqueueing one job did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enqueued {
    pub id: String,
    /// True when a job with the same dedup key already existed and is returned instead.
    pub duplicate: bool,
}

/// What a handler reports while it works: stage, message, percent, counters, ETA.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Progress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, i64>,
    /// Estimated milliseconds until done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_ms: Option<u64>,
}

impl Progress {
    pub fn stage(stage: impl Into<String>) -> Self {
        Progress { stage: Some(stage.into()), ..Default::default() }
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn percent(mut self, percent: f64) -> Self {
        self.percent = Some(percent.clamp(0.0, 100.0));
        self
    }

    pub fn counter(mut self, name: impl Into<String>, value: i64) -> Self {
        self.counters.insert(name.into(), value);
        self
    }

    pub fn eta(mut self, remaining: Duration) -> Self {
        self.eta_ms = Some(remaining.as_millis() as u64);
        self
    }
}

/// One failed attempt, as kept on the job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorRecord {
    pub attempt: u32,
    /// Epoch ms.
    pub at: i64,
    /// `retryable`, `permanent`, `timeout`, `panic` or `stalled`.
    pub kind: String,
    pub message: String,
    /// The error's source chain, outermost first.
    #[serde(default)]
    pub causes: Vec<String>,
}

/// A snapshot of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    pub id: String,
    pub queue: String,
    pub name: String,
    pub payload: serde_json::Value,
    pub owner: Option<String>,
    /// The job's group ([`JobOptions::group`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub state: JobState,
    pub priority: u16,
    /// Attempts started so far.
    pub attempts: u32,
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub timeout_ms: Option<u64>,
    pub dedup_key: Option<String>,
    pub max_stalls: u32,
    pub stalls: u32,
    /// Epoch ms.
    pub created_at: i64,
    pub run_at: i64,
    pub started_at: Option<i64>,
    /// The deadline to start by (epoch ms, Redis's clock), for a job enqueued with
    /// `expires_in`.
    pub expires_at: Option<i64>,
    /// The worker that ran (or runs) the latest attempt.
    #[serde(default)]
    pub worker: Option<String>,
    pub finished_at: Option<i64>,
    pub progress: Option<Progress>,
    pub result: Option<serde_json::Value>,
    pub last_error: Option<ErrorRecord>,
    /// Every failed attempt, oldest first (filled by `Queue::get_job`).
    pub errors: Vec<ErrorRecord>,
    /// The job's log lines, oldest first (filled by `Queue::get_job`).
    pub logs: Vec<String>,
    pub cancel_requested: bool,
    /// The trace of the code that enqueued the job; its span in the worker is a child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceContext>,
}

/// Jobs per state, and whether the queue is paused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counts {
    pub waiting: u64,
    pub delayed: u64,
    pub retrying: u64,
    pub active: u64,
    pub completed: u64,
    pub dead: u64,
    pub cancelled: u64,
    pub expired: u64,
    pub paused: bool,
}

impl Counts {
    pub fn get(&self, state: JobState) -> u64 {
        match state {
            JobState::Waiting => self.waiting,
            JobState::Delayed => self.delayed,
            JobState::Retrying => self.retrying,
            JobState::Active => self.active,
            JobState::Completed => self.completed,
            JobState::Dead => self.dead,
            JobState::Cancelled => self.cancelled,
            JobState::Expired => self.expired,
        }
    }
}

/// One entry of a queue's event stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Stream position; pass it back to resume after this event.
    pub position: String,
    pub queue: String,
    /// `added`, `active`, `progress`, `completed`, `retrying`, `dead`, `stalled`,
    /// `cancelled`, `cancelling`, `paused`, `resumed`, `waiting`, `delayed`, `removed`,
    /// `cleaned`, or a custom event name published by a handler.
    pub kind: String,
    /// Empty for queue-level events (paused, resumed, cleaned).
    pub job_id: String,
    /// Epoch ms.
    pub at: i64,
    /// The event's other fields (attempt, progress JSON, duration_ms, ...).
    pub fields: BTreeMap<String, String>,
}

/// Jobs finished in one minute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MinuteStats {
    /// Minutes since the Unix epoch.
    pub minute: i64,
    pub completed: u64,
    /// Failed attempts (each retry counts).
    pub failed: u64,
    /// Jobs that went to the dead-letter queue.
    pub dead: u64,
    /// Failed attempts that were scheduled to run again.
    pub retried: u64,
    /// Sum of the run times of completed jobs.
    pub duration_ms: u64,
    /// Run times of completed jobs, by bucket.
    pub run_ms: crate::TimingHistogram,
    /// How long completed jobs waited to start once they could run, by bucket.
    pub wait_ms: crate::TimingHistogram,
    /// Jobs waiting to run, as sampled once in the minute (`Queue::sample_backlog`, which
    /// workers call); `None` for a minute nobody sampled.
    pub waiting: Option<u64>,
}

/// A queue's running totals since it was made (or last obliterated), by Redis, across
/// every process: they only grow, so Prometheus' `rate()` works on them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueTotals {
    pub completed: u64,
    /// Failed attempts (each retry counts).
    pub failed: u64,
    /// Failed attempts that were scheduled to run again.
    pub retried: u64,
    /// Attempts whose worker stopped renewing the lease (a crash, a kill).
    pub stalled: u64,
    /// Jobs that went to the dead-letter queue.
    pub dead: u64,
    /// Sum of the run times of completed jobs.
    pub duration_ms: u64,
}

impl MinuteStats {
    pub fn mean_duration_ms(&self) -> Option<f64> {
        (self.completed > 0).then(|| self.duration_ms as f64 / self.completed as f64)
    }
}

/// A finished job waiting to be copied to a history store, as
/// [`Queue::unarchived`](crate::Queue::unarchived) lists it: pass `id` and `finished_at`
/// back to [`Queue::mark_archived`](crate::Queue::mark_archived) once it is copied (or
/// kept elsewhere).
#[derive(Clone, Debug)]
pub struct Unarchived {
    pub id: String,
    /// The finish time it was archived at.
    pub finished_at: i64,
    /// The job, or what is stored of it when the engine cannot read it (written by hand
    /// or damaged): a history writer keeps that aside rather than stop at it.
    pub job: std::result::Result<Job, UnreadableJob>,
}

/// Live jobs a search index has not read since they were added, retried or failed, as
/// [`Queue::unindexed`](crate::Queue::unindexed) lists them.
#[derive(Clone, Debug)]
pub struct Unindexed {
    /// Redis's time before the jobs were read: a row written from them is at least this
    /// fresh, so it must not replace a record of an ending at or after this time.
    pub seen_at: i64,
    /// Every entry read (id, time it was queued): pass them to
    /// [`Queue::mark_indexed`](crate::Queue::mark_indexed) once the jobs are indexed.
    pub listed: Vec<(String, i64)>,
    /// The listed jobs still live when listed entries were read, as read just after
    /// (one may have ended in between: that ending is the history copy's to record).
    pub jobs: Vec<Job>,
}

/// What a queue holds for its history store, as [`Queue::history_backlog`](crate::Queue::history_backlog)
/// counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryBacklog {
    /// Finished jobs waiting to be copied (kept in Redis until they are).
    pub unarchived: u64,
    /// Live jobs listed for the search index and not read yet.
    pub unindexed: u64,
}

/// What a Redis server is set to do about memory and persistence, as
/// [`RedisConnection::server_settings`](crate::RedisConnection::server_settings) reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServerSettings {
    /// `maxmemory-policy` (`unknown` when `INFO` does not say).
    pub maxmemory_policy: String,
    /// Whether the append-only file is on.
    pub aof_enabled: bool,
    /// Whether RDB snapshots are configured (`save` rules); `None` when `CONFIG GET` is
    /// not allowed, as on most managed Redis services.
    pub rdb_snapshots: Option<bool>,
}

impl ServerSettings {
    /// Whether Redis may delete keys (jobs among them) under memory pressure: every
    /// policy but `noeviction`. BullMQ refuses such a Redis too.
    pub fn evicts_keys(&self) -> bool {
        matches!(
            self.maxmemory_policy.as_str(),
            "allkeys-lru"
                | "allkeys-lfu"
                | "allkeys-random"
                | "volatile-lru"
                | "volatile-lfu"
                | "volatile-random"
                | "volatile-ttl"
        )
    }

    /// Whether a restart of Redis is known to lose everything: no AOF and no snapshots.
    pub fn keeps_nothing(&self) -> bool {
        !self.aof_enabled && self.rdb_snapshots == Some(false)
    }
}

/// A stored job the engine cannot read: its fields as stored, and why.
#[derive(Clone, Debug, Serialize)]
pub struct UnreadableJob {
    pub fields: std::collections::BTreeMap<String, String>,
    pub reason: String,
}

/// A page of jobs and where the next one starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobPage {
    pub jobs: Vec<Job>,
    /// Offset of the next page, if there is one.
    pub next: Option<u64>,
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_round_trips_through_its_stored_form() {
        for backoff in [
            Backoff::None,
            Backoff::Fixed { delay: Duration::from_millis(1500) },
            Backoff::Exponential { base: Duration::from_secs(5), cap: Duration::from_secs(60), jitter: 0.25 },
        ] {
            assert_eq!(Backoff::decode(&backoff.encode()), backoff);
        }
    }

    #[test]
    fn exponential_backoff_doubles_caps_and_jitters_down() {
        let b = Backoff::Exponential { base: Duration::from_secs(5), cap: Duration::from_secs(30), jitter: 0.5 };
        assert_eq!(b.delay(1, 0.0), Duration::from_secs(5));
        assert_eq!(b.delay(2, 0.0), Duration::from_secs(10));
        assert_eq!(b.delay(3, 0.0), Duration::from_secs(20));
        assert_eq!(b.delay(4, 0.0), Duration::from_secs(30), "capped");
        assert_eq!(b.delay(2, 1.0), Duration::from_secs(5), "full jitter halves it");
    }

    #[test]
    fn unknown_option_fields_are_refused_by_name() {
        let err = serde_json::from_str::<NewJob>(r#"{"name": "x", "payload": {}, "options": {"priorty": 5}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("priorty"), "{err}");
        let err =
            serde_json::from_str::<JobOptions>(r#"{"rate_limit": {"key": "k", "max": 1, "per": 1000, "burst": 2}}"#)
                .unwrap_err()
                .to_string();
        assert!(err.contains("burst"), "{err}");
        let err = serde_json::from_str::<JobOptions>(r#"{"backoff": {"type": "fixed", "delay": 5, "cap": 9}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cap"), "{err}");
        let err =
            serde_json::from_str::<JobOptions>(r#"{"backoff": {"type": "none", "delay": 5}}"#).unwrap_err().to_string();
        assert!(err.contains("delay"), "{err}");
        let err = serde_json::from_str::<JobOptions>(r#"{"dedup_scope": "forever"}"#).unwrap_err().to_string();
        assert!(err.contains("forever"), "{err}");
        let err = serde_json::from_str::<JobOptions>(r#"{"backoff": {"type": "linear"}}"#).unwrap_err().to_string();
        assert!(err.contains("linear"), "{err}");
    }

    #[test]
    fn known_option_fields_still_read_with_defaults_for_the_rest() {
        let read: JobOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(read, JobOptions::default());
        let read: JobOptions = serde_json::from_str(
            r#"{"priority": 3, "backoff": {"type": "exponential", "base": 100, "cap": 1000, "jitter": 0.5},
                "dedup_key": "k", "dedup_scope": "unfinished", "owner": "42",
                "rate_limit": {"key": "owner:42", "max": 10, "per": 3600000}}"#,
        )
        .unwrap();
        assert_eq!(read.priority, 3);
        assert_eq!(read.dedup_scope, DedupScope::Unfinished);
        assert_eq!(
            read.backoff,
            Backoff::Exponential { base: Duration::from_millis(100), cap: Duration::from_secs(1), jitter: 0.5 }
        );
        let read: JobOptions = serde_json::from_str(r#"{"backoff": {"type": "none"}}"#).unwrap();
        assert_eq!(read.backoff, Backoff::None);
        for backoff in [
            Backoff::None,
            Backoff::Fixed { delay: Duration::from_millis(1500) },
            Backoff::Exponential { base: Duration::from_secs(5), cap: Duration::from_secs(60), jitter: 0.25 },
        ] {
            let json = serde_json::to_string(&backoff).unwrap();
            assert_eq!(serde_json::from_str::<Backoff>(&json).unwrap(), backoff, "{json}");
        }
        assert_eq!(serde_json::to_string(&Backoff::None).unwrap(), r#"{"type":"none"}"#);
        // Every field of the options as this engine stored them before dedup scopes (a
        // schedule keeps its job's options in Redis as JSON) still reads.
        let stored = r#"{"priority":0,"delay":null,"max_attempts":3,
            "backoff":{"type":"exponential","base":1000,"cap":3600000,"jitter":0.2},
            "timeout":null,"dedup_key":null,"owner":null,"max_stalls":1,"rate_limit":null}"#;
        assert_eq!(serde_json::from_str::<JobOptions>(stored).unwrap(), JobOptions::default());
        // And what this version writes reads back.
        let options = JobOptions { dedup_scope: DedupScope::Unfinished, ..read };
        let json = serde_json::to_string(&options).unwrap();
        assert!(json.contains(r#""dedup_scope":"unfinished""#), "{json}");
        assert_eq!(serde_json::from_str::<JobOptions>(&json).unwrap(), options);
    }

    #[test]
    fn states_parse_from_their_names() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        assert_eq!(JobState::parse("nope"), None);
    }
}

#[cfg(all(test, feature = "openapi"))]
mod schema_tests {
    use utoipa::PartialSchema;

    use super::*;

    #[test]
    fn the_options_schema_names_the_dedup_scopes_and_refuses_other_fields() {
        let options = serde_json::to_value(JobOptions::schema()).unwrap();
        assert_eq!(options["additionalProperties"], false);
        assert_eq!(options["properties"]["dedup_scope"]["default"], "retained");
        let scope = serde_json::to_value(DedupScope::schema()).unwrap();
        assert_eq!(scope["enum"], serde_json::json!(["retained", "unfinished"]));
    }
}
