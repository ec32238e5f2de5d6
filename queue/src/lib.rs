//! # hoist-queue
//!
//! A Redis-backed job engine. [`Queue`] enqueues and manages jobs; [`Worker`] runs them
//! with a [`Handler`]. Every state change is one Lua script (`queue/lua/`), so a job is
//! always in exactly one state; a worker holds each job under a lease it renews, and any
//! process recovers jobs whose lease lapsed, so a crashed worker loses nothing.
//!
//! ```no_run
//! use hoist_queue::{NewJob, Queue, RedisConnection, Worker, WorkerOptions, handler_fn};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo() -> Result<(), hoist_queue::QueueError> {
//! let redis = RedisConnection::connect("redis://127.0.0.1:6379").await?;
//! let emails = Queue::new(&redis, "emails")?;
//! emails.enqueue(NewJob::new("welcome", serde_json::json!({ "to": "a@example.com" }))).await?;
//!
//! let worker = Worker::new(
//!     emails.clone(),
//!     handler_fn(|ctx| async move {
//!         let to: String = ctx.job().payload["to"].as_str().unwrap_or_default().into();
//!         Ok(serde_json::json!({ "sent_to": to }))
//!     }),
//!     WorkerOptions::default(),
//! );
//! let shutdown = CancellationToken::new();
//! worker.run(shutdown).await?;
//! # Ok(()) }
//! ```

pub(crate) mod backend;
mod connection;
mod error;
mod handler;
mod id;
mod lockout;
pub mod names;
mod process;
mod queue;
mod role;
#[cfg(feature = "scheduler")]
mod schedule;
#[cfg(feature = "scheduler")]
mod scheduler;
#[cfg(feature = "sentinel")]
mod sentinel;
mod serde_millis;
mod testing;
mod timing_histogram;
mod trace_context;
mod typed;
mod types;
mod worker;

// The storage seam's parts, by their short names inside the crate.
pub(crate) use backend::keys;

pub use backend::keys::{MAX_GROUP_BYTES, MAX_OWNER_BYTES, MAX_QUEUE_NAME, validate_queue_name};
pub use backend::round_trips;
#[cfg(feature = "sentinel")]
pub use connection::check_sentinel_url;
pub use connection::{DEFAULT_KEY_PREFIX, MAX_KEY_PREFIX, RedisConnection, TlsFiles, check_key_prefix};
pub use error::{QueueError, Result};
pub use handler::{
    BoxError, BoxFuture, ErrorKind, FnHandler, Handler, Handlers, JobContext, JobError, JobResult, Middleware, Next,
    handler_fn,
};
pub use lockout::{Lockout, Refused};
pub use process::{
    MAX_LISTED_JOBS, MAX_PROCESS_ID_BYTES, PROCESS_FORGET_AFTER, PROCESS_GONE_AFTER, PROCESS_HEARTBEAT, Process,
    ProcessCommand, ProcessInfo, ProcessJob, ProcessOptions, ProcessQueue, ProcessRegistry, ProcessState,
};
pub use queue::{
    CancelOutcome, MAX_BATCH_ID_BYTES, MAX_CONCURRENCY_LIMIT, MAX_PROCESS_CONCURRENCY, MAX_RATE_LIMIT, Queue,
    QueueConfig, Retention,
};
pub use role::Role;
#[cfg(feature = "scheduler")]
pub use schedule::{CronSchedule, FireRecord, MisfirePolicy, ScheduleInfo, ScheduleSpec};
#[cfg(feature = "scheduler")]
pub use scheduler::{PENDING_TIMEOUT, Scheduler};
pub use timing_histogram::{TIMING_BUCKETS, TIMING_BUCKETS_MS, TimingHistogram};
pub use trace_context::{MAX_TRACESTATE_BYTES, TraceContext};
pub use typed::TypedJob;
pub use types::{
    Backoff, Counts, DedupScope, Enqueued, ErrorRecord, Event, HistoryBacklog, Job, JobOptions, JobPage, JobState,
    KeyRateLimit, MAX_OPTION_DURATION, MAX_PRIORITY, MinuteStats, NewJob, Progress, QueueLimits, QueueTotals,
    RateLimit, ServerSettings, Unarchived, Unindexed, UnreadableJob,
};
pub use worker::{RunningJob, Worker, WorkerOptions, WorkerStatus, process_id};

/// Re-exported so handlers and callers use the same token type.
pub use tokio_util::sync::CancellationToken;
/// Crates whose types appear in this API (`QueueError::Redis`, JSON payloads and
/// results), re-exported so callers need not depend on matching versions.
pub use {redis, serde_json};
