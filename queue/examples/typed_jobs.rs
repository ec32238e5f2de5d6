//! Typed jobs with shared application state and middleware, and a graceful shutdown:
//! the worker runs until Ctrl-C (or SIGTERM), then lets running jobs finish.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run -p hoist-queue --example typed_jobs
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hoist_queue::{
    CancellationToken, Handlers, JobContext, JobError, JobOptions, Next, Progress, Queue, RedisConnection, TypedJob,
    Worker, WorkerOptions,
};
use serde::{Deserialize, Serialize};

/// The job: sync one bank account.
#[derive(Debug, Serialize, Deserialize)]
struct SyncAccount {
    account: u64,
}

/// What a sync returns, stored as the job's result.
#[derive(Debug, Serialize, Deserialize)]
struct Synced {
    transactions: u32,
}

impl TypedJob for SyncAccount {
    const NAME: &'static str = "sync-account";
    type Output = Synced;

    fn options(&self) -> JobOptions {
        // The account's owner sees the job in the dashboard's "My jobs".
        JobOptions { owner: Some(format!("account-{}", self.account)), max_attempts: 5, ..Default::default() }
    }
}

/// Application state every handler shares (a client, a pool...).
struct BankClient {
    calls: AtomicU64,
}

async fn sync_account(ctx: JobContext, job: SyncAccount) -> Result<Synced, JobError> {
    let bank: &BankClient = ctx.state()?;
    bank.calls.fetch_add(1, Ordering::Relaxed);
    ctx.progress(Progress::stage("fetching transactions").percent(50.0)).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(Synced { transactions: (job.account % 7) as u32 + 1 })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let redis = RedisConnection::connect(&url).await?;
    let queue = Queue::new(&redis, "example-sync")?;
    let accounts: Vec<SyncAccount> = (1..=5).map(|account| SyncAccount { account }).collect();
    let pushed = queue.push_bulk(&accounts).await?;
    println!("pushed {} jobs; Ctrl-C to stop", pushed.len());

    let handlers = Handlers::new()
        .with_state(BankClient { calls: AtomicU64::new(0) })
        .job(sync_account)
        // Middleware: time every job, whatever its type.
        .around(|ctx: JobContext, next: Next| async move {
            let started = Instant::now();
            let (name, id) = (ctx.job().name.clone(), ctx.job().id.clone());
            let result = next.run(ctx).await;
            println!("{name} {id}: {} in {:?}", if result.is_ok() { "ok" } else { "failed" }, started.elapsed());
            result
        });
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    let worker = Worker::new(
        queue.clone(),
        handlers,
        WorkerOptions { shutdown_grace: Duration::from_secs(10), ..Default::default() },
    );
    // With EXAMPLE_ONCE set (as the tests run it), stop once the queue is idle.
    if std::env::var_os("EXAMPLE_ONCE").is_some() {
        worker.run_until_idle().await?;
    } else {
        worker.run(shutdown).await?;
    }
    for job in &pushed {
        if let Some(output) = queue.get_job(&job.id).await?.and_then(|j| j.output::<SyncAccount>()) {
            println!("{}: {:?}", job.id, output?);
        }
    }
    Ok(())
}
