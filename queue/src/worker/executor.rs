//! Runs one attempt: the handler in a task of its own (a panic is a failed attempt), under
//! the job's timeout, stopped by cancellation, lease loss or shutdown; reports how it
//! ended to the claim loop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::{RunningMap, WorkerOptions};
use crate::handler::{ErrorKind, Handler, JobContext, JobError};
use crate::queue::Queue;
use crate::types::{ErrorRecord, Job};

/// How one attempt ended, sent from the job's task to the claim loop.
pub(super) enum Outcome {
    Completed(serde_json::Value),
    Failed(ErrorRecord, ErrorKind),
    Cancelled,
    /// Shutdown: hand the job back without spending its attempt.
    Released,
    /// The handler deferred the job by this long, attempt not spent.
    Deferred(Duration),
    /// Someone else owns the job now; nothing to write.
    LeaseLost,
}

pub(super) struct Finished {
    pub(super) id: String,
    pub(super) lease: String,
    pub(super) outcome: Outcome,
    /// How long the handler ran, in ms: the completed event's `duration_ms`.
    pub(super) run_ms: u64,
    /// How long the attempt waited to start once it could run (from its run time, or its
    /// creation when it had none), in ms, by Redis's clock.
    pub(super) wait_ms: u64,
}

/// One attempt in progress, keyed by (job id, lease token): the same job can come back to
/// this worker under a new lease while a stale attempt is still winding down.
pub(super) struct Running {
    pub(super) id: String,
    pub(super) name: String,
    /// By Redis's clock (epoch ms).
    pub(super) started_at: Option<i64>,
    pub(super) cancel: CancellationToken,
    /// Why the token fired, decided by whoever fired it first.
    pub(super) reason: Arc<Mutex<Option<StopReason>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StopReason {
    Cancelled,
    LeaseLost,
    Shutdown,
}

pub(super) fn start_job(
    queue: &Queue,
    handler: &Arc<dyn Handler>,
    options: &WorkerOptions,
    (job, lease): (Job, String),
    running: &RunningMap,
    finished: &mpsc::UnboundedSender<Finished>,
    jobs: &TaskTracker,
) {
    let cancel = CancellationToken::new();
    let reason = Arc::new(Mutex::new(None));
    running.lock().expect("running map").insert(
        (job.id.clone(), lease.clone()),
        Running {
            id: job.id.clone(),
            name: job.name.clone(),
            started_at: job.started_at,
            cancel: cancel.clone(),
            reason: reason.clone(),
        },
    );
    let ctx = JobContext {
        job: job.clone(),
        queue: queue.clone(),
        lease: lease.clone(),
        cancel: cancel.clone(),
        max_log_lines: options.max_log_lines,
        state: None,
    };
    let handler = handler.clone();
    let running = running.clone();
    let finished = finished.clone();
    let cancel_grace = options.cancel_grace;
    let timeout = job.timeout_ms.map(Duration::from_millis);
    let attempt = job.attempts;
    let id = job.id.clone();
    let queue_name = queue.name().to_string();
    // Every log line a handler writes names the job. The span's level only decides when
    // it is recorded: at ERROR it is on whenever any of the handler's lines are, whatever
    // RUST_LOG says about this crate.
    let span = tracing::error_span!("job", queue = %queue_name, job_id = %job.id, job = %job.name, attempt);
    // The job's trace goes on from the span that enqueued it, in whatever process.
    #[cfg(feature = "opentelemetry")]
    if let Some(parent) = job.trace.as_ref().and_then(crate::TraceContext::to_context) {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let _ = span.set_parent(parent);
    }
    let started = std::time::Instant::now();
    let wait_ms = job.started_at.map_or(0, |start| start.saturating_sub(job.run_at.max(job.created_at)).max(0) as u64);
    jobs.spawn(async move {
        // The handler runs in a task of its own so a panic is caught as a JoinError.
        // A panic in the handler is caught here and becomes a failed attempt; dropping the
        // future is how it is aborted.
        let mut task = std::pin::pin!(std::panic::AssertUnwindSafe(handler.handle(ctx)).catch_unwind());
        let deadline = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            joined = &mut task => outcome_of(joined, attempt),
            _ = deadline => {
                cancel.cancel();
                let t = timeout.unwrap_or_default();
                Outcome::Failed(record(attempt, "timeout", format!("timed out after {} ms", t.as_millis()), vec![]), ErrorKind::Retryable)
            }
            _ = cancel.cancelled() => {
                // Give the handler a moment to stop by itself, then abort it.
                let _ = tokio::time::timeout(cancel_grace, &mut task).await;
                let why = *reason.lock().expect("stop reason");
                match why {
                    Some(StopReason::LeaseLost) => Outcome::LeaseLost,
                    Some(StopReason::Shutdown) => Outcome::Released,
                    // Cancelled by request, or the handler fired its own token.
                    _ => Outcome::Cancelled,
                }
            }
        };
        // A handler that fails because it was told to stop is stopped, not failed: a
        // shutdown must not spend the job's attempt. (A handler that finishes its work
        // during a shutdown has completed it.)
        let outcome = match (outcome, *reason.lock().expect("stop reason")) {
            (Outcome::Failed(..), Some(StopReason::Shutdown)) => Outcome::Released,
            (Outcome::Failed(..), Some(StopReason::LeaseLost)) => Outcome::LeaseLost,
            // Cancelled by request: whatever the handler returned once told, it stopped.
            (Outcome::Failed(..) | Outcome::Completed(_), Some(StopReason::Cancelled)) => Outcome::Cancelled,
            (outcome, _) => outcome,
        };
        running.lock().expect("running map").remove(&(id.clone(), lease.clone()));
        let elapsed = started.elapsed();
        record_metrics(&queue_name, &outcome, elapsed);
        record_trace_status(&outcome);
        if !matches!(outcome, Outcome::LeaseLost) {
            let _ = finished.send(Finished { id, lease, outcome, run_ms: elapsed.as_millis() as u64, wait_ms });
        }
    }.instrument(span));
}

/// Counts each attempt by outcome and records run times, through the `metrics` facade:
/// whatever recorder the application installed (Prometheus in the Hoist server) gets them.
#[cfg(feature = "metrics")]
fn record_metrics(queue: &str, outcome: &Outcome, elapsed: Duration) {
    let label = match outcome {
        Outcome::Completed(_) => "completed",
        Outcome::Failed(_, ErrorKind::Permanent) => "failed_permanently",
        Outcome::Failed(..) => "failed",
        Outcome::Cancelled => "cancelled",
        Outcome::Deferred(_) => "deferred",
        Outcome::Released => "released",
        Outcome::LeaseLost => "lease_lost",
    };
    metrics::counter!("hoist_jobs_processed_total", "queue" => queue.to_string(), "outcome" => label).increment(1);
    if matches!(outcome, Outcome::Completed(_) | Outcome::Failed(..)) {
        metrics::histogram!("hoist_job_duration_seconds", "queue" => queue.to_string()).record(elapsed.as_secs_f64());
    }
}

#[cfg(not(feature = "metrics"))]
fn record_metrics(_queue: &str, _outcome: &Outcome, _elapsed: Duration) {}

/// A failed attempt marks the job's span as an error in the trace, with the message.
#[cfg(feature = "opentelemetry")]
fn record_trace_status(outcome: &Outcome) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if let Outcome::Failed(error, _) = outcome {
        tracing::Span::current().set_status(opentelemetry::trace::Status::error(error.message.clone()));
    }
}

#[cfg(not(feature = "opentelemetry"))]
fn record_trace_status(_outcome: &Outcome) {}

fn record(attempt: u32, kind: &str, message: String, causes: Vec<String>) -> ErrorRecord {
    // The fail script stamps the time by Redis's clock.
    ErrorRecord { attempt, at: 0, kind: kind.to_string(), message, causes }
}

fn outcome_of(
    joined: std::result::Result<crate::handler::JobResult, Box<dyn std::any::Any + Send>>,
    attempt: u32,
) -> Outcome {
    match joined {
        Ok(Ok(value)) => Outcome::Completed(value),
        Ok(Err(JobError { kind: ErrorKind::Deferred, retry_after, .. })) => {
            Outcome::Deferred(retry_after.unwrap_or_default().min(crate::types::MAX_OPTION_DURATION))
        }
        Ok(Err(JobError { kind, message, causes, .. })) => {
            let label = if kind == ErrorKind::Permanent { "permanent" } else { "retryable" };
            Outcome::Failed(record(attempt, label, message, causes), kind)
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "handler panicked".to_string());
            Outcome::Failed(
                record(attempt, "panic", format!("handler panicked: {message}"), vec![]),
                ErrorKind::Retryable,
            )
        }
    }
}
