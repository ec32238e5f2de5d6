//! [`Worker`]: claims jobs from one queue and runs them with a [`Handler`].
//!
//! Parts, each its own file and task: the claim loop ([`claim_loop`]: takes jobs, and
//! hands finished attempts to the [`completer`], which writes them in the same round trip
//! as the next claim), the [`executor`] (runs one attempt under its timeout and
//! cancellation), the [`wakeup`] listener that parks on Redis until a job arrives, the
//! [`lease_keeper`] that renews all leases in one call and sends heartbeats, the
//! [`stall_sweeper`] and the [`signal_listener`] (cancellations, and limit changes that
//! set this process's concurrency live). Every call to Redis goes through the storage seam
//! ([`crate::backend`]).

mod claim_loop;
mod completer;
mod executor;
mod lease_keeper;
mod signal_listener;
mod stall_sweeper;
mod wakeup;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use tokio_util::sync::CancellationToken;

use crate::error::{QueueError, Result};
use crate::handler::Handler;
use crate::queue::Queue;
use completer::CallsInFlight;
use executor::{Running, StopReason};

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

/// A live view of a running worker, and its controls, cheap to clone (e.g. for a
/// readiness probe, or the [`crate::Process`] that reports it and quiets it).
#[derive(Clone, Debug, Default)]
pub struct WorkerStatus {
    accepting: Arc<AtomicBool>,
    running: Arc<AtomicUsize>,
    control: Arc<WorkerControl>,
}

/// What can change while a worker runs, shared by its claim loops.
#[derive(Default)]
struct WorkerControl {
    /// The concurrency the worker was started with.
    configured: AtomicUsize,
    /// The concurrency in force: the queue's per-process limit when set, else `configured`.
    concurrency: AtomicUsize,
    quiet: AtomicBool,
    /// Wakes the claim loops when the concurrency or quiet changes.
    changed: Notify,
    /// Each claim loop's running attempts, for the list of jobs running now.
    lanes: Mutex<Vec<RunningMap>>,
}

impl std::fmt::Debug for WorkerControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerControl")
            .field("configured", &self.configured)
            .field("concurrency", &self.concurrency)
            .field("quiet", &self.quiet)
            .finish_non_exhaustive()
    }
}

/// A job a worker is running now.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunningJob {
    pub id: String,
    pub name: String,
    /// When this attempt started, by Redis's clock (epoch ms).
    pub started_at: Option<i64>,
}

impl WorkerStatus {
    /// True while the worker claims new jobs; false before it starts, while it is quiet,
    /// and from the moment its shutdown begins.
    pub fn accepting_jobs(&self) -> bool {
        self.accepting.load(SeqCst) && !self.is_quiet()
    }

    /// Jobs running right now.
    pub fn running_jobs(&self) -> usize {
        self.running.load(SeqCst)
    }

    /// The jobs running right now, oldest first.
    pub fn running_job_list(&self) -> Vec<RunningJob> {
        let lanes = self.control.lanes.lock().expect("lanes");
        let mut jobs: Vec<RunningJob> = lanes
            .iter()
            .flat_map(|lane| {
                lane.lock()
                    .expect("running map")
                    .values()
                    .map(|r| RunningJob { id: r.id.clone(), name: r.name.clone(), started_at: r.started_at })
                    .collect::<Vec<_>>()
            })
            .collect();
        jobs.sort_by_key(|job| job.started_at);
        jobs
    }

    /// Jobs this worker runs at once now: the queue's per-process concurrency
    /// ([`crate::QueueLimits::process_concurrency`]) when one is set, else its own.
    pub fn concurrency(&self) -> usize {
        self.control.concurrency.load(SeqCst)
    }

    /// The concurrency the worker was started with.
    pub fn configured_concurrency(&self) -> usize {
        self.control.configured.load(SeqCst)
    }

    /// Stops taking new jobs for good; running jobs finish and are acknowledged. The
    /// worker keeps running (its leases renewed) until its shutdown.
    pub fn quiet(&self) {
        self.control.quiet.store(true, SeqCst);
        self.accepting.store(false, SeqCst);
        self.control.changed.notify_waiters();
    }

    /// True once [`WorkerStatus::quiet`] was called.
    pub fn is_quiet(&self) -> bool {
        self.control.quiet.load(SeqCst)
    }

    fn configure(&self, concurrency: usize) {
        self.control.configured.store(concurrency, SeqCst);
        self.control.concurrency.store(concurrency, SeqCst);
    }

    /// Applies the queue's per-process limit (`None`: back to the configured figure).
    pub(crate) fn apply_process_limit(&self, limit: Option<u32>) {
        let concurrency = limit.map_or_else(|| self.configured_concurrency(), |n| n as usize);
        if self.control.concurrency.swap(concurrency, SeqCst) != concurrency {
            tracing::info!(concurrency, "this process's concurrency changed");
            self.control.changed.notify_waiters();
        }
    }

    /// Lane `lane`'s part of the concurrency in force, split over `lanes` claim loops
    /// (together they never exceed it); 0 while quiet.
    fn lane_share(&self, lane: usize, lanes: usize) -> usize {
        if self.is_quiet() {
            return 0;
        }
        let total = self.concurrency();
        total / lanes + usize::from(lane < total % lanes)
    }

    /// Claim loops share one counter; each adds the change since its last report.
    fn report_running(&self, reported: &mut usize, now: usize) {
        if now > *reported {
            self.running.fetch_add(now - *reported, SeqCst);
        } else {
            self.running.fetch_sub(*reported - now, SeqCst);
        }
        *reported = now;
    }
}

/// Attempts in progress, keyed by (job id, lease token): the same job can come back to
/// this worker under a new lease while a stale attempt is still winding down.
type RunningMap = Arc<Mutex<HashMap<(String, String), Running>>>;

/// How often [`Worker::run_until_idle`] looks at the queue's counts.
const IDLE_POLL: Duration = Duration::from_millis(20);

impl Worker {
    pub fn new(queue: Queue, handler: impl Handler, options: WorkerOptions) -> Self {
        let id = options.id.clone().unwrap_or_else(process_id);
        let status = WorkerStatus::default();
        status.configure(options.concurrency.max(1));
        Worker { queue, handler: Arc::new(handler), options, id, status }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// A handle that keeps reporting after `run` took the worker.
    pub fn status(&self) -> WorkerStatus {
        self.status.clone()
    }

    /// Runs until the queue has nothing to do now (no job waiting or running; delayed
    /// jobs and retries waiting out their backoff are not due, and stay), then shuts down
    /// as [`Worker::run`] does. For integration tests, scripts and one-off backfills:
    ///
    /// ```no_run
    /// # async fn test(queue: hoist_queue::Queue, handlers: hoist_queue::Handlers) -> hoist_queue::Result<()> {
    /// use hoist_queue::{Worker, WorkerOptions};
    /// // ... enqueue what the test needs, then:
    /// Worker::new(queue.clone(), handlers, WorkerOptions::default()).run_until_idle().await?;
    /// assert_eq!(queue.counts().await?.waiting, 0);
    /// # Ok(()) }
    /// ```
    pub async fn run_until_idle(self) -> Result<()> {
        let queue = self.queue.clone();
        let shutdown = CancellationToken::new();
        let mut running = tokio::spawn(self.run(shutdown.clone()));
        // Idle twice in a row, a poll apart: a job that fails and is retried at once
        // passes through waiting between two reads.
        let mut idle_reads = 0;
        loop {
            tokio::select! {
                ended = &mut running => {
                    return ended.map_err(|e| QueueError::Protocol(format!("the worker task failed: {e}")))?;
                }
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
            let counts = queue.counts().await?;
            idle_reads = if counts.waiting == 0 && counts.active == 0 { idle_reads + 1 } else { 0 };
            if idle_reads == 2 {
                break;
            }
        }
        shutdown.cancel();
        running.await.map_err(|e| QueueError::Protocol(format!("the worker task failed: {e}")))?
    }

    /// Runs until `shutdown` fires, then stops claiming, lets running jobs finish within
    /// the grace period, cancels and hands back the rest, and returns.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let Worker { queue, handler, options, id, status } = self;
        let loops = options.claim_loops.clamp(1, options.concurrency.max(1));
        let calls = Arc::new(CallsInFlight::default());
        // A per-process concurrency set on the queue applies from the first claim (best
        // effort: the signal listener reads it again once subscribed).
        if let Ok(limits) = queue.limits().await {
            status.apply_process_limit(limits.process_concurrency);
        }
        if loops == 1 {
            let lane = claim_loop::Lane { index: 0, of: 1 };
            return claim_loop::run(queue, handler, options, id, status, calls, lane, shutdown).await;
        }
        // The loops split the concurrency in force between them (`WorkerStatus::lane_share`).
        let lanes = (0..loops).map(|index| {
            let lane_id = format!("{id}.{index}");
            claim_loop::run(
                queue.clone(),
                handler.clone(),
                options.clone(),
                lane_id,
                status.clone(),
                calls.clone(),
                claim_loop::Lane { index, of: loops },
                shutdown.clone(),
            )
        });
        for result in futures::future::join_all(lanes).await {
            result?;
        }
        Ok(())
    }
}

/// A name for this process that no other process shares: `HOST-PID-RANDOM` (a worker's
/// default id, and a [`crate::Role`] holder's).
pub fn process_id() -> String {
    format!("{}-{}-{:06x}", crate::process::host_name(), std::process::id(), rand::random::<u32>() & 0xff_ffff)
}

/// How long to wait after `failures` failed calls in a row: 200 ms doubling to 5 s.
pub(crate) fn backoff(failures: u32) -> Duration {
    Duration::from_millis((100u64 << failures.min(6)).min(5_000))
}

/// Stops an attempt; the first reason given is the one its outcome reports.
fn stop_running(entry: &Running, reason: StopReason) {
    let mut slot = entry.reason.lock().expect("stop reason");
    if slot.is_none() {
        *slot = Some(reason);
    }
    entry.cancel.cancel();
}
