//! The worker process `chaos` starts three of: a plain engine [`Worker`] whose handler
//! records each execution (job id, process id, attempt) in SQL, then simulates work.
//! The clock-skew test (`stress/tests/clock_skew.rs`) runs it under libfaketime.

use std::time::Duration;

use clap::Args;
use hoist_queue::{
    CancellationToken, Queue, QueueConfig, RedisConnection, Retention, Worker, WorkerOptions, handler_fn,
};

#[derive(Args, Clone)]
pub struct ProbeArgs {
    #[arg(long)]
    pub redis_url: String,
    /// Where executions are recorded; without it nothing is recorded (a plain no-op worker).
    #[arg(long)]
    pub database_url: Option<String>,
    #[arg(long)]
    pub queue: String,
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// Simulated work per job.
    #[arg(long, default_value_t = 50)]
    pub work_ms: u64,
    /// With it, each job's work is drawn evenly from `work_ms` to this.
    #[arg(long)]
    pub work_max_ms: Option<u64>,
    /// Lease of each job: longer than the Redis cut, so only killed workers lose jobs.
    #[arg(long, default_value_t = 45)]
    pub lease_seconds: u64,
    /// Keep every finished job in Redis (chaos reads each one afterwards) instead of the
    /// default retention.
    #[arg(long)]
    pub keep_all: bool,
    /// How often this worker looks for expired leases.
    #[arg(long, default_value_t = 1000)]
    pub stall_check_ms: u64,
    /// Print this process's wall clock first (see [`announce_clock`]).
    #[arg(long)]
    pub announce_clock: bool,
}

/// Prints this process's wall clock (`clock_ms=EPOCH_MS`) as the first line of stdout, so
/// whoever started it under libfaketime can check the skew took hold.
pub fn announce_clock() -> anyhow::Result<()> {
    use std::io::Write;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "clock_ms={now}")?;
    stdout.flush()?;
    Ok(())
}

/// Every job is kept in Redis: the check afterwards reads each one's state.
pub fn keep_everything() -> QueueConfig {
    QueueConfig {
        completed: Retention { max_count: None, max_age: None },
        dead: Retention { max_count: None, max_age: None },
        ..Default::default()
    }
}

pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS executions (
    job_id TEXT NOT NULL, pid BIGINT NOT NULL, attempt BIGINT NOT NULL, at BIGINT NOT NULL)";

pub async fn run(args: ProbeArgs) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let db = match &args.database_url {
        Some(url) => Some(sqlx::any::AnyPoolOptions::new().max_connections(8).connect(url).await?),
        None => None,
    };
    let redis = RedisConnection::connect(&args.redis_url).await?;
    let config = if args.keep_all { keep_everything() } else { QueueConfig::default() };
    let queue = Queue::with_config(&redis, &args.queue, config)?;
    let pid = std::process::id() as i64;
    let (work_min, work_max) = (args.work_ms, args.work_max_ms.unwrap_or(args.work_ms).max(args.work_ms));
    let handler = handler_fn(move |ctx| {
        let db = db.clone();
        let work = Duration::from_millis(rand::random_range(work_min..=work_max));
        async move {
            let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
            // Recorded before the work, so an execution cut short by a kill still counts.
            if let Some(db) = &db {
                sqlx::query("INSERT INTO executions (job_id, pid, attempt, at) VALUES ($1, $2, $3, $4)")
                    .bind(ctx.job().id.clone())
                    .bind(pid)
                    .bind(ctx.job().attempts as i64)
                    .bind(at)
                    .execute(db)
                    .await?;
            }
            if !work.is_zero() {
                tokio::time::sleep(work).await;
            }
            Ok(serde_json::Value::Null)
        }
    });
    let options = WorkerOptions {
        concurrency: args.concurrency,
        lease: Duration::from_secs(args.lease_seconds),
        stall_check_interval: Duration::from_millis(args.stall_check_ms),
        ..Default::default()
    };
    if args.announce_clock {
        announce_clock()?;
    }
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    Worker::new(queue, handler, options).run(shutdown).await?;
    Ok(())
}
