//! `hoist-history-bench`: how fast finished jobs are copied from Redis to the SQL history.
//!
//! For each database (SQLite in a temp file, and the PostgreSQL at `--postgres-url` in a
//! fresh database), it fills its own `redis-server` with `--jobs` finished jobs of ~100-byte
//! payloads waiting in the archive set, then times the server's copier (the same code as
//! `hoist serve` runs) until every job is in SQL and released in Redis. It checks the row
//! count, and prints one JSON line. Run it in a release build:
//!
//! ```text
//! cargo run --release -p hoist-bench --bin hoist-history-bench -- --jobs 200000
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use hoist_queue::{CancellationToken, JobOptions, NewJob, Queue, RedisConnection, Worker, WorkerOptions, handler_fn};
use hoist_server::db::Db;
use hoist_server::history::{Archiving, copy_all, writers_for};
use hoist_testkit::RedisServer;
use serde_json::json;
use tokio::sync::Semaphore;

#[derive(Parser)]
#[command(about = "Jobs per second copied from Redis to the SQL history (SQLite and PostgreSQL)")]
struct Args {
    /// Finished jobs to copy into each database.
    #[arg(long, default_value_t = 200_000)]
    jobs: u64,
    /// Queues the jobs are spread over.
    #[arg(long, default_value_t = 1)]
    queues: u64,
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    database: String,
    /// A PostgreSQL this program may create a database on (dropped afterwards).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres_url: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The copier reports failed batches as warnings: show them.
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter("warn").init();
    if !(1..=10_000_000).contains(&args.jobs) || !(1..=64).contains(&args.queues) {
        anyhow::bail!("--jobs must be 1 to 10,000,000 and --queues 1 to 64");
    }
    let kinds: &[&str] = match args.database.as_str() {
        "both" => &["sqlite", "postgres"],
        "sqlite" => &["sqlite"],
        "postgres" => &["postgres"],
        other => anyhow::bail!("--database: expected sqlite, postgres or both, got {other:?}"),
    };
    let mut figures = serde_json::Map::new();
    figures.insert("jobs".into(), json!(args.jobs));
    figures.insert("queues".into(), json!(args.queues));
    for kind in kinds {
        let database = match *kind {
            "sqlite" => hoist_testkit::sqlite_database(),
            _ => hoist_testkit::postgres_database_at(&args.postgres_url).await,
        };
        let db = Db::connect(database.url()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        db.migrate().await?;
        let redis_server = RedisServer::start();
        let redis = RedisConnection::connect(&redis_server.url()).await?;
        let queues = fill(&redis, args.jobs, args.queues).await?;
        eprintln!("{kind}: {} finished jobs waiting to be copied; copying", args.jobs);
        let archiving = Archiving::new(true);
        let writers = Arc::new(Semaphore::new(writers_for(db.kind)));
        let started = Instant::now();
        let mut copied = 0;
        let mut progressed = Instant::now();
        while copied < args.jobs as usize {
            let n = copy_all(&db, &redis, &archiving, &writers, std::time::Duration::ZERO).await;
            if n > 0 {
                progressed = Instant::now();
            }
            // The copier logs why a batch failed (warnings on stderr).
            anyhow::ensure!(progressed.elapsed() < Duration::from_secs(10), "{kind}: no job copied for 10 s");
            copied += n;
        }
        let seconds = started.elapsed().as_secs_f64();
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_history").fetch_one(&db.pool).await?;
        anyhow::ensure!(rows as u64 == args.jobs, "{kind}: {rows} history rows for {} jobs", args.jobs);
        for queue in &queues {
            anyhow::ensure!(queue.unarchived(1).await?.is_empty(), "{kind}: jobs left in the archive set");
        }
        figures.insert(
            (*kind).into(),
            json!({ "seconds": (seconds * 1000.0).round() / 1000.0, "per_s": (args.jobs as f64 / seconds).round() }),
        );
        db.pool.close().await;
    }
    println!("{}", serde_json::Value::Object(figures));
    Ok(())
}

/// Enqueues `jobs` over `queues` queues with archiving on and works them all, so they
/// wait in the archive sets.
async fn fill(redis: &RedisConnection, jobs: u64, queues: u64) -> anyhow::Result<Vec<Queue>> {
    let payload = json!({ "account": 123_456, "data": "x".repeat(70) });
    let mut all = vec![];
    for q in 0..queues {
        let queue = Queue::new(redis, &format!("history-bench-{q}"))?;
        queue.set_archiving(true).await?;
        let share = jobs / queues + u64::from(q < jobs % queues);
        let mut left = share;
        while left > 0 {
            let n = left.min(1000);
            let batch = (0..n)
                .map(|i| {
                    let owner = Some(format!("user-{}", i % 50));
                    NewJob::new("sync", payload.clone()).with_options(JobOptions { owner, ..JobOptions::default() })
                })
                .collect();
            queue.enqueue_bulk(batch).await.context("enqueue")?;
            left -= n;
        }
        let stop = CancellationToken::new();
        let options = WorkerOptions { concurrency: 50, ..WorkerOptions::default() };
        let worker = Worker::new(queue.clone(), handler_fn(|_| async { Ok(json!({ "synced": 3 })) }), options);
        let task = tokio::spawn(worker.run(stop.clone()));
        loop {
            let counts = queue.counts().await?;
            if counts.waiting + counts.active == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.cancel();
        task.await??;
        all.push(queue);
    }
    Ok(all)
}
