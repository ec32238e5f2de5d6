//! [`Worker`]: claims jobs from one queue and runs them with a [`Handler`].
//!
//! Parts, each its own task: the claim loop (this file's `run`), a blocker that parks
//! on Redis until a job arrives, a lease keeper that renews all leases in one call and
//! sends heartbeats, a stall sweeper, and a listener for cancellations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::backend::{int, invocation, run, strings};
use crate::error::Result;
use crate::handler::{ErrorKind, Handler, JobContext, JobError};
use crate::queue::Queue;
use crate::record::decode_claimed;
use crate::scripts;
use crate::types::{ErrorRecord, Job};

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Jobs run at the same time by this worker (default 10).
    pub concurrency: usize,
    /// How long a claimed job stays ours without renewal (default 30 s). Renewed every
    /// third of it; a crashed worker's jobs are recovered after it lapses.
    pub lease: Duration,
    /// How often expired leases are looked for (default 5 s).
    pub stall_check_interval: Duration,
    /// On shutdown, how long running jobs may take to finish before they are cancelled
    /// and handed back (default 30 s).
    pub shutdown_grace: Duration,
    /// After cancellation is signalled, how long a handler may take to stop by itself
    /// before it is aborted (default 5 s).
    pub cancel_grace: Duration,
    /// Log lines kept per job (default 100).
    pub max_log_lines: u32,
    /// Identifies this worker in leases and the workers list (default host-pid-random).
    pub id: Option<String>,
    /// Claim loops sharing the concurrency (default 2): while one waits on Redis for its
    /// acknowledgements and next jobs, the other's jobs run, so Redis and the handlers
    /// work at the same time instead of taking turns.
    pub claim_loops: usize,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 10,
            lease: Duration::from_secs(30),
            stall_check_interval: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(30),
            cancel_grace: Duration::from_secs(5),
            max_log_lines: 100,
            id: None,
            claim_loops: 2,
        }
    }
}

/// Processes the jobs of one queue until its shutdown token fires.
pub struct Worker {
    queue: Queue,
    handler: Arc<dyn Handler>,
    options: WorkerOptions,
    id: String,
    status: WorkerStatus,
}

/// A live view of a running worker, cheap to clone (e.g. for a readiness probe).
#[derive(Clone, Debug, Default)]
pub struct WorkerStatus {
    accepting: Arc<std::sync::atomic::AtomicBool>,
    running: Arc<std::sync::atomic::AtomicUsize>,
}

impl WorkerStatus {
    /// True while the worker claims new jobs; false before it starts and from the moment
    /// its shutdown begins.
    pub fn accepting_jobs(&self) -> bool {
        self.accepting.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Jobs running right now.
    pub fn running_jobs(&self) -> usize {
        self.running.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Claim loops share one counter; each adds the change since its last report.
    fn report_running(&self, reported: &mut usize, now: usize) {
        use std::sync::atomic::Ordering::SeqCst;
        if now > *reported {
            self.running.fetch_add(now - *reported, SeqCst);
        } else {
            self.running.fetch_sub(*reported - now, SeqCst);
        }
        *reported = now;
    }
}

/// How one attempt ended, sent from the job's task to the claim loop.
enum Outcome {
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

struct Finished {
    id: String,
    lease: String,
    outcome: Outcome,
    /// How long the handler ran, in ms: the completed event's `duration_ms`.
    run_ms: u64,
}

/// One attempt in progress, keyed by (job id, lease token): the same job can come back to
/// this worker under a new lease while a stale attempt is still winding down.
struct Running {
    id: String,
    cancel: CancellationToken,
    /// Why the token fired, decided by whoever fired it first.
    reason: Arc<Mutex<Option<StopReason>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StopReason {
    Cancelled,
    LeaseLost,
    Shutdown,
}

type RunningMap = Arc<Mutex<HashMap<(String, String), Running>>>;

/// The claim loops' calls to Redis in flight. While one loop's call keeps Redis busy,
/// another gathers more acknowledgements before sending its own: Redis stays busy and
/// each call carries more jobs (every call has a fixed cost in Redis: the script's
/// prelude, limits, promotion, retention and events).
#[derive(Default)]
struct CallsInFlight {
    count: std::sync::atomic::AtomicUsize,
    finished: Notify,
}

/// One call in flight; counted down however the call ends, even when dropped.
struct InFlight<'a>(&'a CallsInFlight);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0.finished.notify_waiters();
    }
}

impl CallsInFlight {
    fn busy(&self) -> bool {
        self.count.load(std::sync::atomic::Ordering::SeqCst) > 0
    }

    async fn track<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _in_flight = InFlight(self);
        call.await
    }
}

impl Worker {
    pub fn new(queue: Queue, handler: impl Handler, options: WorkerOptions) -> Self {
        let id = options.id.clone().unwrap_or_else(default_worker_id);
        Worker { queue, handler: Arc::new(handler), options, id, status: WorkerStatus::default() }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// A handle that keeps reporting after `run` took the worker.
    pub fn status(&self) -> WorkerStatus {
        self.status.clone()
    }

    /// Runs until `shutdown` fires, then stops claiming, lets running jobs finish within
    /// the grace period, cancels and hands back the rest, and returns.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let Worker { queue, handler, options, id, status } = self;
        let loops = options.claim_loops.clamp(1, options.concurrency.max(1));
        let calls = Arc::new(CallsInFlight::default());
        if loops == 1 {
            return run_loop(queue, handler, options, id, status, calls, shutdown).await;
        }
        // Split the concurrency over the loops; together they never exceed it.
        let lanes = (0..loops).map(|lane| {
            let share = options.concurrency / loops + usize::from(lane < options.concurrency % loops);
            let options = WorkerOptions { concurrency: share, claim_loops: 1, ..options.clone() };
            let lane_id = format!("{id}.{lane}");
            run_loop(queue.clone(), handler.clone(), options, lane_id, status.clone(), calls.clone(), shutdown.clone())
        });
        for result in futures::future::join_all(lanes).await {
            result?;
        }
        Ok(())
    }
}

async fn run_loop(
    queue: Queue,
    handler: Arc<dyn Handler>,
    options: WorkerOptions,
    id: String,
    status: WorkerStatus,
    calls: Arc<CallsInFlight>,
    shutdown: CancellationToken,
) -> Result<()> {
    {
        let concurrency = options.concurrency.max(1);
        queue.register().await.ok();
        let running: RunningMap = Arc::new(Mutex::new(HashMap::new()));
        let (finished_tx, mut finished_rx) = mpsc::unbounded_channel::<Finished>();
        let background = CancellationToken::new();
        let tasks = TaskTracker::new();
        let wake = Arc::new(Notify::new());
        let (want_wake_tx, want_wake_rx) = watch::channel(false);

        tasks.spawn(blocker(queue.clone(), wake.clone(), want_wake_rx, background.clone()));
        tasks.spawn(lease_keeper(queue.clone(), id.clone(), running.clone(), options.lease, background.clone()));
        tasks.spawn(stall_sweeper(queue.clone(), options.stall_check_interval, background.clone()));
        tasks.spawn(cancel_listener(queue.clone(), running.clone(), background.clone()));

        let jobs = TaskTracker::new();
        let mut pending: Vec<Finished> = vec![];
        let mut failures = 0u32;
        tracing::info!(queue = queue.name(), worker = %id, concurrency, "worker started");
        status.accepting.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut reported = 0usize;

        let mut next_due: Option<Duration>;
        while !shutdown.is_cancelled() {
            while let Ok(done) = finished_rx.try_recv() {
                pending.push(done);
            }
            let in_flight = running.lock().expect("running map").len();
            status.report_running(&mut reported, in_flight);
            let free = concurrency.saturating_sub(in_flight);
            match calls.track(flush_and_claim(&queue, &id, &options, &mut pending, free)).await {
                Ok((claimed, due)) => {
                    failures = 0;
                    next_due = due;
                    for job in claimed {
                        start_job(&queue, &handler, &options, job, &running, &finished_tx, &jobs);
                    }
                }
                Err(err) => {
                    failures += 1;
                    let pause = backoff(failures);
                    tracing::warn!(queue = queue.name(), error = %err, retry_in = ?pause, "worker cannot reach redis");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(pause) => continue,
                    }
                }
            }

            let in_flight = running.lock().expect("running map").len();
            let has_room = in_flight < concurrency;
            let _ = want_wake_tx.send(has_room);
            // Wake on the next due delayed job, and at least every 5 s as a safety net.
            let sleep_for = next_due.unwrap_or(Duration::from_secs(5)).min(Duration::from_secs(5));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(done) = finished_rx.recv() => pending.push(done),
                _ = wake.notified(), if has_room => {}
                _ = tokio::time::sleep(sleep_for) => {}
            }
            let _ = want_wake_tx.send(false);
            // While another loop's call keeps Redis busy, and jobs of this loop still run,
            // gather their acknowledgements too; send as soon as Redis is free.
            while !pending.is_empty() && !running.lock().expect("running map").is_empty() {
                let redis_free = calls.finished.notified();
                tokio::pin!(redis_free);
                redis_free.as_mut().enable();
                if !calls.busy() {
                    break;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    Some(done) = finished_rx.recv() => pending.push(done),
                    _ = &mut redis_free => break,
                }
            }
        }

        // Shutdown: stop claiming, let running jobs finish, acknowledging as they do.
        status.accepting.store(false, std::sync::atomic::Ordering::SeqCst);
        let _ = want_wake_tx.send(false);
        jobs.close();
        let deadline = tokio::time::Instant::now() + options.shutdown_grace;
        loop {
            while let Ok(done) = finished_rx.try_recv() {
                pending.push(done);
            }
            if !pending.is_empty() && flush_and_claim(&queue, &id, &options, &mut pending, 0).await.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let in_flight = running.lock().expect("running map").len();
            status.report_running(&mut reported, in_flight);
            if in_flight == 0 && pending.is_empty() {
                break;
            }
            // Redis is gone and stays gone: the outcomes cannot be written. Stop anyway;
            // the leases lapse and the jobs run again elsewhere (at least once, never lost).
            if in_flight == 0 && tokio::time::Instant::now() >= deadline + options.cancel_grace + Duration::from_secs(5)
            {
                tracing::warn!(
                    queue = queue.name(),
                    unacknowledged = pending.len(),
                    "stopping without writing the last outcomes: Redis does not answer; their jobs will run again"
                );
                break;
            }
            tracing::trace!(running = running.lock().expect("running map").len(), pending = pending.len(), "draining");
            if tokio::time::Instant::now() >= deadline {
                // Out of patience: cancel what is left; each hands its job back.
                for entry in running.lock().expect("running map").values() {
                    stop_running(entry, StopReason::Shutdown);
                }
            }
            tokio::select! {
                Some(done) = finished_rx.recv() => pending.push(done),
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        jobs.wait().await;
        background.cancel();
        tasks.close();
        tasks.wait().await;
        queue.forget_worker(&id).await.ok();
        tracing::info!(queue = queue.name(), worker = %id, "worker stopped");
        Ok(())
    }
}

fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    let host = if host.is_empty() { "worker".to_string() } else { host };
    format!("{host}-{}-{:06x}", std::process::id(), rand::random::<u32>() & 0xff_ffff)
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis((100u64 << failures.min(6)).min(5_000))
}

fn stop_running(entry: &Running, reason: StopReason) {
    let mut slot = entry.reason.lock().expect("stop reason");
    if slot.is_none() {
        *slot = Some(reason);
    }
    entry.cancel.cancel();
}

/// Writes every finished attempt and claims up to `free` new jobs, in as few round trips
/// as possible: completions and the claim share one script call.
async fn flush_and_claim(
    queue: &Queue,
    worker_id: &str,
    options: &WorkerOptions,
    pending: &mut Vec<Finished>,
    free: usize,
) -> Result<Claimed> {
    let mut conn = queue.conn();
    let max_events = queue.config().max_events;
    let keys = queue.keys();

    let fails: Vec<&Finished> = pending.iter().filter(|f| matches!(f.outcome, Outcome::Failed(..))).collect();
    if !fails.is_empty() {
        let (keep, age) = queue.config().dead.args();
        let mut call = invocation(&scripts::FAIL, keys, max_events);
        call.arg(keep).arg(age).arg(fails.len());
        for f in &fails {
            let Outcome::Failed(record, kind) = &f.outcome else { unreachable!() };
            let kind = if *kind == ErrorKind::Permanent { "permanent" } else { "retryable" };
            call.arg(&f.id).arg(&f.lease).arg(serde_json::to_string(record)?).arg(kind).arg(rand::random::<f64>());
        }
        let codes: Vec<i64> = run(&call, &mut conn).await?;
        log_lost(queue, &fails, &codes);
    }
    pending.retain(|f| !matches!(f.outcome, Outcome::Failed(..)));

    for f in
        pending.iter().filter(|f| matches!(f.outcome, Outcome::Cancelled | Outcome::Released | Outcome::Deferred(_)))
    {
        let (script, extra) = match f.outcome {
            Outcome::Cancelled => (&*scripts::FINISH_CANCELLED, None),
            Outcome::Deferred(after) => (&*scripts::RELEASE, Some(after.as_millis() as u64)),
            _ => (&*scripts::RELEASE, Some(0)),
        };
        let mut call = invocation(script, keys, max_events);
        call.arg(&f.id).arg(&f.lease);
        if let Some(at) = extra {
            call.arg(at);
        }
        let code: i64 = run(&call, &mut conn).await?;
        if code < 0 {
            tracing::debug!(job = %f.id, code, "finishing a stopped job found it elsewhere");
        }
    }
    pending.retain(|f| matches!(f.outcome, Outcome::Completed(_)));

    if pending.is_empty() {
        if free == 0 {
            return Ok((vec![], None));
        }
        let mut call = invocation(&scripts::CLAIM, keys, max_events);
        call.arg(free).arg(options.lease.as_millis() as u64).arg(worker_id);
        let reply: redis::Value = run(&call, &mut conn).await?;
        return decode_claim(queue, crate::backend::array(reply)?, worker_id);
    }
    let (keep, age) = queue.config().completed.args();
    let mut call = invocation(&scripts::COMPLETE, keys, max_events);
    let total_run_ms: u64 = pending.iter().map(|f| f.run_ms).sum();
    call.arg(keep)
        .arg(age)
        .arg(free)
        .arg(options.lease.as_millis() as u64)
        .arg(worker_id)
        .arg(pending.len())
        .arg(total_run_ms);
    for f in pending.iter() {
        let Outcome::Completed(result) = &f.outcome else { unreachable!() };
        call.arg(&f.id).arg(&f.lease).arg(serde_json::to_string(result)?).arg(f.run_ms);
    }
    let reply: redis::Value = run(&call, &mut conn).await?;
    let mut parts = crate::backend::array(reply)?.into_iter();
    let codes: Vec<i64> =
        parts.next().map(crate::backend::array).transpose()?.unwrap_or_default().iter().filter_map(int).collect();
    let done: Vec<&Finished> = pending.iter().collect();
    log_lost(queue, &done, &codes);
    pending.clear();
    let claim = parts.next().map(crate::backend::array).transpose()?.unwrap_or_default();
    decode_claim(queue, claim, worker_id)
}

/// Jobs claimed, each with its lease, and how long until looking again without being woken.
type Claimed = (Vec<(Job, String)>, Option<Duration>);

fn log_lost(queue: &Queue, finished: &[&Finished], codes: &[i64]) {
    for (f, code) in finished.iter().zip(codes) {
        if *code == -2 {
            tracing::warn!(queue = queue.name(), job = %f.id, "result discarded: the job's lease had expired and it was recovered");
        }
    }
}

/// The claim part of a reply: `[due in (ms) or -1, Redis's time, job fields...]`, each
/// job with its lease.
fn decode_claim(queue: &Queue, claim: Vec<redis::Value>, worker_id: &str) -> Result<Claimed> {
    let mut items = claim.into_iter();
    let due = items.next().as_ref().and_then(int).filter(|d| *d >= 0).map(|ms| Duration::from_millis(ms as u64));
    let now = items.next().as_ref().and_then(int).unwrap_or_default();
    let jobs = items.map(|item| decode_claimed(queue.name(), item, now, worker_id)).collect::<Result<Vec<_>>>()?;
    Ok((jobs, due))
}

fn start_job(
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
        Running { id: job.id.clone(), cancel: cancel.clone(), reason: reason.clone() },
    );
    let ctx = JobContext {
        job: job.clone(),
        queue: queue.clone(),
        lease: lease.clone(),
        cancel: cancel.clone(),
        max_log_lines: options.max_log_lines,
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
    let started = std::time::Instant::now();
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
        if !matches!(outcome, Outcome::LeaseLost) {
            let _ = finished.send(Finished { id, lease, outcome, run_ms: elapsed.as_millis() as u64 });
        }
    }.instrument(span));
}

/// Counts each attempt by outcome and records run times, through the `metrics` facade:
/// whatever recorder the application installed (Prometheus in the Hoist server) gets them.
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

/// Parks on the queue's marker list (on a connection of its own) while the claim loop
/// has room, and wakes it when a job arrives.
async fn blocker(queue: Queue, wake: Arc<Notify>, mut want: watch::Receiver<bool>, stop: CancellationToken) {
    let block = Duration::from_secs(5);
    let mut conn = None;
    let mut failures = 0u32;
    loop {
        // Only wait for a token while there is room: a full worker must not swallow
        // the wake-up another worker needs.
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = want.wait_for(|w| *w) => if changed.is_err() { return },
        }
        if conn.is_none() {
            match queue.redis().dedicated(block).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    failures += 1;
                    tracing::debug!(error = %e, "blocker cannot connect");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(backoff(failures)) => continue,
                    }
                }
            }
        }
        let c = conn.as_mut().expect("connected");
        crate::backend::count_round_trip();
        let mut cmd = redis::cmd("BLPOP");
        cmd.arg(queue.keys().marker()).arg(block.as_secs_f64());
        // A watchdog beyond the server-side timeout: a parked read that never returns
        // (a dead socket after failover) is abandoned and the connection rebuilt.
        let result = tokio::select! {
            _ = stop.cancelled() => return,
            r = tokio::time::timeout(block + Duration::from_secs(3), cmd.query_async::<Option<(String, String)>>(c)) => r,
        };
        match result {
            Ok(Ok(Some(_))) => {
                failures = 0;
                wake.notify_one();
            }
            Ok(Ok(None)) => failures = 0,
            Ok(Err(e)) => {
                failures += 1;
                tracing::debug!(error = %e, "blocker lost its connection");
                conn = None;
                tokio::time::sleep(backoff(failures)).await;
            }
            Err(_) => conn = None,
        }
    }
}

/// Renews every lease this worker holds in one call per third of the lease, and learns
/// which jobs were lost or asked to cancel.
async fn lease_keeper(queue: Queue, worker_id: String, running: RunningMap, lease: Duration, stop: CancellationToken) {
    let period = (lease / 3).max(Duration::from_millis(100));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        crate::backend::count_round_trip();
        let _ = queue.heartbeat(&worker_id).await;
        let held: Vec<(String, String)> = running.lock().expect("running map").keys().cloned().collect();
        if held.is_empty() {
            continue;
        }
        let mut call = invocation(&scripts::EXTEND_LEASES, queue.keys(), queue.config().max_events);
        call.arg(lease.as_millis() as u64);
        for (id, token) in &held {
            call.arg(id).arg(token);
        }
        let reply: Result<redis::Value> = run(&call, &mut queue.conn()).await;
        let Ok(reply) = reply else {
            tracing::warn!(queue = queue.name(), "could not renew leases");
            continue;
        };
        let Ok(mut parts) = crate::backend::array(reply).map(|p| p.into_iter()) else { continue };
        let lost = parts.next().map(strings).transpose().ok().flatten().unwrap_or_default();
        let cancel = parts.next().map(strings).transpose().ok().flatten().unwrap_or_default();
        let map = running.lock().expect("running map");
        // Only that job under that lease: a job that finished since the snapshot is no
        // longer in the map, and another job with the same attempt number is not it.
        for pair in lost.chunks(2) {
            if let [id, lease] = pair
                && let Some(entry) = map.get(&(id.clone(), lease.clone()))
            {
                tracing::warn!(queue = queue.name(), job = %entry.id, "lease lost; stopping the handler");
                stop_running(entry, StopReason::LeaseLost);
            }
        }
        for id in cancel {
            for entry in map.values().filter(|e| e.id == id) {
                stop_running(entry, StopReason::Cancelled);
            }
        }
    }
}

/// Recovers jobs whose lease lapsed, in any worker's queue (any process may).
async fn stall_sweeper(queue: Queue, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(50)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match queue.recover_stalled().await {
            Ok((0, 0)) => {}
            Ok((recovered, dead)) => {
                tracing::warn!(queue = queue.name(), recovered, dead, "recovered jobs whose worker stopped")
            }
            Err(e) => tracing::debug!(error = %e, "stall check failed"),
        }
    }
}

/// Hears cancellations of active jobs at once (Pub/Sub); the lease keeper catches any
/// missed while disconnected.
async fn cancel_listener(queue: Queue, running: RunningMap, stop: CancellationToken) {
    let channel = queue.keys().cancel_channel();
    let mut failures = 0u32;
    loop {
        let pubsub = match queue.redis().pubsub_client().get_async_pubsub().await {
            Ok(mut p) => match p.subscribe(&channel).await {
                Ok(()) => Some(p),
                Err(_) => None,
            },
            Err(_) => None,
        };
        let Some(mut pubsub) = pubsub else {
            failures += 1;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(backoff(failures)) => continue,
            }
        };
        failures = 0;
        let mut messages = pubsub.on_message();
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                message = messages.next() => match message {
                    Some(message) => {
                        let id: String = message.get_payload().unwrap_or_default();
                        for entry in running.lock().expect("running map").values().filter(|e| e.id == id) {
                            stop_running(entry, StopReason::Cancelled);
                        }
                    }
                    None => break, // connection closed: subscribe again
                },
            }
        }
    }
}
