//! Processes: every OS process that runs workers or the scheduler checks in through Redis
//! with what it runs ([`Process`]), so a dashboard can list them all and quiet or stop any
//! one of them ([`ProcessRegistry`]).
//!
//! A process checks in every [`PROCESS_HEARTBEAT`] by Redis's clock (a process whose own
//! clock is off neither looks alive longer nor ages others). One silent for
//! [`PROCESS_GONE_AFTER`] is shown as gone; after [`PROCESS_FORGET_AFTER`] it is
//! forgotten. Commands go through Redis: kept for the process's next check-in, and
//! announced on Pub/Sub so it acts at once.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backend::processes::ProcessStore;
use crate::connection::RedisConnection;
use crate::error::{QueueError, Result};
use crate::worker::{WorkerStatus, backoff};

/// How often a process checks in.
pub const PROCESS_HEARTBEAT: Duration = Duration::from_secs(5);
/// A process silent this long is shown as gone (four missed check-ins).
pub const PROCESS_GONE_AFTER: Duration = Duration::from_secs(20);
/// A process silent this long is forgotten.
pub const PROCESS_FORGET_AFTER: Duration = Duration::from_secs(600);
/// Longest process id, in bytes.
pub const MAX_PROCESS_ID_BYTES: usize = 200;
/// The most running jobs a check-in lists (the count is always whole).
pub const MAX_LISTED_JOBS: usize = 100;

/// What a process is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ProcessCommand {
    /// Stop taking new jobs; running ones finish. The process stays up.
    Quiet,
    /// Shut down gracefully: quiet, let running jobs finish within the grace period, exit.
    Stop,
}

impl ProcessCommand {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessCommand::Quiet => "quiet",
            ProcessCommand::Stop => "stop",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "quiet" => Some(ProcessCommand::Quiet),
            "stop" => Some(ProcessCommand::Stop),
            _ => None,
        }
    }
}

/// What a process says it is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ProcessState {
    Running,
    /// Takes no new jobs; finishes what it runs.
    Quiet,
    /// Shutting down: finishing what it runs, then exiting.
    Stopping,
    /// Shut down cleanly.
    Stopped,
}

/// One queue a process works, as of its last check-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessQueue {
    pub queue: String,
    /// Jobs it runs at once now (the queue's per-process limit, else its own setting).
    pub concurrency: usize,
    /// The concurrency it was started with.
    pub configured_concurrency: usize,
    /// Jobs of this queue running in it now.
    pub running: usize,
    /// Whether it takes new jobs of this queue.
    pub accepting: bool,
}

/// A job a process is running, as of its last check-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessJob {
    pub queue: String,
    pub id: String,
    pub name: String,
    /// When this attempt started, by Redis's clock (epoch ms).
    pub started_at: Option<i64>,
}

/// What a process reports at each check-in (stored as JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Report {
    host: String,
    pid: u32,
    kind: String,
    version: String,
    started_at: i64,
    state: ProcessState,
    scheduler: bool,
    queues: Vec<ProcessQueue>,
    jobs: Vec<ProcessJob>,
    running: usize,
}

/// A registered process, as [`ProcessRegistry::list`] reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessInfo {
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// What kind of process: `serve`, `worker`, or what an embedding application said.
    pub kind: String,
    /// The version of the program it runs.
    pub version: String,
    /// When it started, by Redis's clock (epoch ms; its own clock if Redis did not answer
    /// as it started).
    pub started_at: i64,
    /// Its last check-in, by Redis's clock (epoch ms).
    pub last_seen: i64,
    /// What it said at its last check-in.
    pub state: ProcessState,
    /// Silent for longer than [`PROCESS_GONE_AFTER`] without having stopped cleanly: it
    /// crashed, hangs or lost Redis.
    pub gone: bool,
    /// Whether it runs the scheduler.
    pub scheduler: bool,
    pub queues: Vec<ProcessQueue>,
    /// Jobs running in it, oldest first (at most [`MAX_LISTED_JOBS`]).
    pub jobs: Vec<ProcessJob>,
    /// How many jobs run in it (all of them, listed or not).
    pub running: usize,
}

impl ProcessInfo {
    /// Whether a command would reach it: it checks in and is neither stopping nor stopped.
    pub fn listens(&self) -> bool {
        !self.gone && matches!(self.state, ProcessState::Running | ProcessState::Quiet)
    }
}

/// Reads the registry and sends commands, from any process.
///
/// ```no_run
/// # async fn demo(redis: hoist_queue::RedisConnection) -> hoist_queue::Result<()> {
/// use hoist_queue::{ProcessCommand, ProcessRegistry};
/// let registry = ProcessRegistry::new(&redis);
/// for process in registry.list().await? {
///     if process.host == "worker-3" && !process.gone {
///         registry.send(&process.id, ProcessCommand::Quiet).await?;
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ProcessRegistry {
    store: ProcessStore,
}

impl ProcessRegistry {
    pub fn new(redis: &RedisConnection) -> Self {
        ProcessRegistry { store: ProcessStore::new(redis) }
    }

    /// Every process that checked in within [`PROCESS_FORGET_AFTER`], oldest first.
    pub async fn list(&self) -> Result<Vec<ProcessInfo>> {
        let (now, stored) = self.store.read_all().await?;
        let gone_before = now - PROCESS_GONE_AFTER.as_millis() as i64;
        let mut processes: Vec<ProcessInfo> = stored
            .into_iter()
            .filter_map(|(id, last_seen, json)| {
                // A report this version cannot read (another version's) is skipped, not fatal.
                let report: Report = serde_json::from_str(&json).ok()?;
                Some(ProcessInfo {
                    id,
                    host: report.host,
                    pid: report.pid,
                    kind: report.kind,
                    version: report.version,
                    started_at: report.started_at,
                    last_seen,
                    gone: report.state != ProcessState::Stopped && last_seen < gone_before,
                    state: report.state,
                    scheduler: report.scheduler,
                    queues: report.queues,
                    jobs: report.jobs,
                    running: report.running,
                })
            })
            .collect();
        processes.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
        Ok(processes)
    }

    /// Sends `command` to process `id`: it acts within moments, or at its next check-in
    /// if it missed the announcement. False when no such process is registered. A stop
    /// is not taken back by a later quiet.
    pub async fn send(&self, id: &str, command: ProcessCommand) -> Result<bool> {
        check_process_id(id)?;
        self.store.signal(id, command.as_str(), PROCESS_FORGET_AFTER).await
    }
}

/// How a process describes itself.
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    /// `serve`, `worker`, or what an embedding application calls itself (default
    /// `embedded`).
    pub kind: String,
    /// The program's version (default this crate's).
    pub version: String,
    /// Its id in the registry (default [`crate::process_id`]: host, pid and a random part).
    pub id: Option<String>,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions { kind: "embedded".into(), version: env!("CARGO_PKG_VERSION").into(), id: None }
    }
}

/// This process in the registry: add its workers, then [`Process::run`] it beside them.
/// It checks in with what they run, and obeys quiet and stop sent through Redis: quiet
/// reaches every worker at once; stop quiets them and fires [`Process::stop_requested`],
/// on which the owner shuts them down.
///
/// ```no_run
/// # async fn demo(redis: hoist_queue::RedisConnection, queue: hoist_queue::Queue, handlers: hoist_queue::Handlers) -> hoist_queue::Result<()> {
/// use hoist_queue::{CancellationToken, Process, ProcessOptions, Worker, WorkerOptions};
/// let process = Process::new(&redis, ProcessOptions { kind: "billing-app".into(), ..Default::default() })?;
/// let worker = Worker::new(queue, handlers, WorkerOptions::default());
/// process.add_worker("invoices", worker.status());
/// let (stop_workers, stop_check_ins) = (CancellationToken::new(), CancellationToken::new());
/// let check_ins = tokio::spawn({
///     let (process, token) = (process.clone(), stop_check_ins.clone());
///     async move { process.run(token).await }
/// });
/// let working = tokio::spawn(worker.run(stop_workers.clone()));
/// // A Stop from the dashboard (or the application's own signal): drain, then say stopped.
/// process.stop_requested().await;
/// process.begin_stop();
/// stop_workers.cancel();
/// working.await.expect("worker task")?;
/// stop_check_ins.cancel();
/// check_ins.await.expect("check-in task")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Process {
    inner: Arc<Inner>,
}

struct Inner {
    store: ProcessStore,
    redis: RedisConnection,
    id: String,
    options: ProcessOptions,
    workers: Mutex<Vec<(String, WorkerStatus)>>,
    scheduler: AtomicBool,
    quiet: AtomicBool,
    stopping: AtomicBool,
    stop_requested: CancellationToken,
    /// Makes the next check-in happen now (the state changed).
    changed: Notify,
}

impl Process {
    /// Describes this process; nothing is written until [`Process::run`].
    pub fn new(redis: &RedisConnection, options: ProcessOptions) -> Result<Self> {
        let id = options.id.clone().unwrap_or_else(crate::worker::process_id);
        check_process_id(&id)?;
        Ok(Process {
            inner: Arc::new(Inner {
                store: ProcessStore::new(redis),
                redis: redis.clone(),
                id,
                options,
                workers: Mutex::new(vec![]),
                scheduler: AtomicBool::new(false),
                quiet: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
                stop_requested: CancellationToken::new(),
                changed: Notify::new(),
            }),
        })
    }

    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Reports `status` (the worker of `queue`) at each check-in; a quiet process quiets it.
    pub fn add_worker(&self, queue: &str, status: WorkerStatus) {
        // Under the lock `quiet` takes: a quiet in between cannot miss this worker.
        let mut workers = self.inner.workers.lock().expect("workers");
        if self.is_quiet() {
            status.quiet();
        }
        workers.push((queue.to_string(), status));
    }

    /// Says whether this process runs the scheduler.
    pub fn set_runs_scheduler(&self, runs: bool) {
        self.inner.scheduler.store(runs, SeqCst);
    }

    /// Every worker stops taking new jobs; running ones finish.
    pub fn quiet(&self) {
        let workers = self.inner.workers.lock().expect("workers");
        if !self.inner.quiet.swap(true, SeqCst) {
            tracing::info!(process = %self.inner.id, "quiet: taking no new jobs");
        }
        for (_, status) in workers.iter() {
            status.quiet();
        }
        drop(workers);
        self.inner.changed.notify_one();
    }

    pub fn is_quiet(&self) -> bool {
        self.inner.quiet.load(SeqCst)
    }

    /// Marks the process as shutting down (reported at once); call when the shutdown
    /// begins, whatever started it.
    pub fn begin_stop(&self) {
        self.inner.stopping.store(true, SeqCst);
        self.inner.changed.notify_one();
    }

    /// Quiets the process and fires [`Process::stop_requested`]: what a Stop sent through
    /// Redis does.
    pub fn request_stop(&self) {
        self.quiet();
        self.begin_stop();
        if !self.inner.stop_requested.is_cancelled() {
            tracing::info!(process = %self.inner.id, "stop requested");
            self.inner.stop_requested.cancel();
        }
    }

    /// Completes when a stop was requested (from the registry, or [`Process::request_stop`]).
    pub async fn stop_requested(&self) {
        self.inner.stop_requested.cancelled().await
    }

    /// Checks in every [`PROCESS_HEARTBEAT`] (and at once when its state changes) and
    /// obeys commands, until `shutdown` fires; then checks in a last time as stopped.
    /// Redis being away only delays check-ins.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<()> {
        let started_at = match self.inner.redis.redis_time().await {
            Ok(now) => now,
            Err(_) => {
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
            }
        };
        let listening = shutdown.child_token();
        let listener = tokio::spawn(self.clone().listen(listening.clone()));
        // Also when this future is dropped: the listener must not outlive it.
        let _stop_listening = listening.clone().drop_guard();
        let mut failures = 0u32;
        let mut first = true;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let pause = match self.check_in(started_at, first, false).await {
                Ok(()) => {
                    failures = 0;
                    first = false;
                    PROCESS_HEARTBEAT
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(process = %self.inner.id, error = %e, "cannot check in");
                    backoff(failures).min(PROCESS_HEARTBEAT)
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = &mut changed => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
        listening.cancel();
        let _ = listener.await;
        // Bounded: with Redis gone the last check-in is skipped, and the process shows as
        // gone once its check-ins lapse.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.check_in(started_at, true, true)).await;
        Ok(())
    }

    async fn check_in(&self, started_at: i64, fresh: bool, stopped: bool) -> Result<()> {
        let report = self.report(started_at, stopped);
        let json = serde_json::to_string(&report).map_err(|e| QueueError::Protocol(e.to_string()))?;
        let (_, command) = self.inner.store.record(&self.inner.id, &json, PROCESS_FORGET_AFTER, fresh).await?;
        if !stopped && let Some(command) = command.as_deref().and_then(ProcessCommand::parse) {
            self.obey(command);
        }
        Ok(())
    }

    fn report(&self, started_at: i64, stopped: bool) -> Report {
        let state = if stopped {
            ProcessState::Stopped
        } else if self.inner.stopping.load(SeqCst) {
            ProcessState::Stopping
        } else if self.is_quiet() {
            ProcessState::Quiet
        } else {
            ProcessState::Running
        };
        let workers = self.inner.workers.lock().expect("workers").clone();
        let mut jobs = vec![];
        let mut running = 0;
        let queues = workers
            .iter()
            .map(|(queue, status)| {
                // The list, not the worker's counter: that one is updated between claims.
                let list = status.running_job_list();
                let on_queue = list.len();
                running += on_queue;
                jobs.extend(list.into_iter().map(|job| ProcessJob {
                    queue: queue.clone(),
                    id: job.id,
                    name: job.name,
                    started_at: job.started_at,
                }));
                ProcessQueue {
                    queue: queue.clone(),
                    concurrency: status.concurrency(),
                    configured_concurrency: status.configured_concurrency(),
                    running: on_queue,
                    accepting: status.accepting_jobs(),
                }
            })
            .collect();
        jobs.sort_by_key(|job| job.started_at);
        jobs.truncate(MAX_LISTED_JOBS);
        let options = &self.inner.options;
        Report {
            host: host_name(),
            pid: std::process::id(),
            kind: options.kind.clone(),
            version: options.version.clone(),
            started_at,
            state,
            scheduler: self.inner.scheduler.load(SeqCst),
            queues,
            jobs,
            running,
        }
    }

    fn obey(&self, command: ProcessCommand) {
        match command {
            ProcessCommand::Quiet if !self.is_quiet() => self.quiet(),
            ProcessCommand::Stop if !self.inner.stop_requested.is_cancelled() => self.request_stop(),
            _ => {}
        }
    }

    /// Hears commands as they are sent, subscribing again after a lost connection.
    async fn listen(self, stop: CancellationToken) {
        let mut failures = 0u32;
        loop {
            let mut commands = match self.inner.store.commands().await {
                Ok(commands) => Box::pin(commands),
                Err(_) => {
                    failures += 1;
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(backoff(failures)) => continue,
                    }
                }
            };
            failures = 0;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    message = commands.next() => match message {
                        Some((id, command)) if id == self.inner.id => {
                            if let Some(command) = ProcessCommand::parse(&command) {
                                self.obey(command);
                            }
                        }
                        Some(_) => {}
                        None => break,
                    },
                }
            }
        }
    }
}

/// This machine's name (`/etc/hostname`), or `unknown`.
pub(crate) fn host_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    if host.is_empty() { "unknown".into() } else { host }
}

fn check_process_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_PROCESS_ID_BYTES || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(QueueError::InvalidOption {
            field: "id",
            reason: format!("a process id is 1 to {MAX_PROCESS_ID_BYTES} bytes without spaces"),
        });
    }
    Ok(())
}
