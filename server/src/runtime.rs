//! What a `serve` or `worker` process runs besides HTTP: the scheduler and one worker per
//! registered queue, with per-queue concurrency from the settings ([`crate::settings`]), and the process's
//! entry in the engine's process registry (quiet and stop from the dashboard).

use hoist_queue::{
    CancellationToken, Process, ProcessOptions, Queue, RedisConnection, Scheduler, Worker, WorkerOptions, WorkerStatus,
};
use tokio::task::{JoinHandle, JoinSet};

use crate::history::Archiving;
use crate::processors::Registry;

/// The running workers and scheduler.
pub struct Runtime {
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
    pub workers: Vec<(String, WorkerStatus)>,
    process: Process,
    process_stop: CancellationToken,
    process_task: JoinHandle<()>,
}

impl Runtime {
    /// The id this process is registered under (see the Processes page).
    pub fn process_id(&self) -> &str {
        self.process.id()
    }

    /// Starts a worker per queue of `registry` (turning on each queue's archive set first
    /// when history is on) and the scheduler, and registers the process as `kind`
    /// (`serve`, `worker`, `embedded`). A Stop sent to it stops the workers and scheduler;
    /// [`Runtime::process`]'s `stop_requested` tells the owner, which may exit too.
    pub async fn start(
        redis: &RedisConnection,
        registry: &Registry,
        archiving: &Archiving,
        config: &crate::config::WorkerConfig,
        kind: &str,
    ) -> anyhow::Result<Runtime> {
        let process = Process::new(
            redis,
            ProcessOptions { kind: kind.to_string(), version: env!("CARGO_PKG_VERSION").to_string(), id: None },
        )?;
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut workers = vec![];
        for (name, handlers) in registry.queues() {
            let settings = config.settings.queue(name);
            let queue = Queue::with_config(redis, name, settings.queue_config(redis.key_prefix()))?;
            archiving.ensure(&queue).await?;
            let options = WorkerOptions {
                concurrency: settings.concurrency.value as usize,
                lease: std::time::Duration::from_secs(config.lease_seconds),
                shutdown_grace: std::time::Duration::from_secs(config.shutdown_timeout),
                ..WorkerOptions::default()
            };
            let worker = Worker::new(queue, handlers.clone(), options);
            workers.push((name.to_string(), worker.status()));
            process.add_worker(name, worker.status());
            let token = shutdown.clone();
            let queue_name = name.to_string();
            tasks.spawn(async move {
                if let Err(e) = worker.run(token).await {
                    tracing::error!(queue = %queue_name, error = %e, "worker stopped with an error");
                }
            });
        }
        let scheduler = Scheduler::new(redis);
        let token = shutdown.clone();
        tasks.spawn(async move {
            if let Err(e) = scheduler.run(token).await {
                tracing::error!(error = %e, "scheduler stopped with an error");
            }
        });
        process.set_runs_scheduler(true);
        // A Stop from the dashboard winds the workers and scheduler down here.
        tasks.spawn({
            let (process, shutdown) = (process.clone(), shutdown.clone());
            async move {
                tokio::select! {
                    _ = process.stop_requested() => shutdown.cancel(),
                    _ = shutdown.cancelled() => {}
                }
            }
        });
        let process_stop = CancellationToken::new();
        let process_task = tokio::spawn({
            let (process, stop) = (process.clone(), process_stop.clone());
            async move {
                let _ = process.run(stop).await;
            }
        });
        Ok(Runtime { shutdown, tasks, workers, process, process_stop, process_task })
    }

    /// This process's entry in the registry.
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// True while every worker claims jobs.
    pub fn accepting_jobs(&self) -> bool {
        self.workers.iter().all(|(_, status)| status.accepting_jobs())
    }

    /// Stops claiming, lets running jobs finish (each worker's grace period), then returns.
    pub async fn stop(mut self) {
        self.process.begin_stop();
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
        // Last, so the final check-in says stopped.
        self.process_stop.cancel();
        let _ = self.process_task.await;
    }
}
