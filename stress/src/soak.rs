//! Soak: a long stream of jobs through one queue with retention on. A producer keeps the
//! queue fed in batches while one worker process works it and a `hoist serve` watches
//! (its dashboard hub follows the queue's events; with `--history` it also copies every
//! finished job to SQL); every tenth of the run it reports jobs/s over that tenth, Redis
//! memory and the worker's and the server's RSS. Flat memory and flat throughput are the
//! claim.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use hoist_queue::{NewJob, Queue, RedisConnection};
use hoist_testkit::RedisServer;
use serde_json::json;

use crate::measure::{mib, rss_bytes};

#[derive(Args, Clone)]
pub struct SoakArgs {
    #[arg(long, default_value_t = 1_000_000)]
    pub jobs: u64,
    /// Most jobs waiting at once (the producer tops up to this).
    #[arg(long, default_value_t = 20_000)]
    pub backlog: u64,
    /// Small and quick: 100,000 jobs.
    #[arg(long)]
    pub quick: bool,
    /// The server copies finished jobs to its SQL history (they stay in Redis until it has).
    #[arg(long)]
    pub history: bool,
    /// The `hoist` binary (default: beside this program).
    #[arg(long)]
    pub hoist_bin: Option<std::path::PathBuf>,
}

async fn redis_memory(redis: &RedisConnection) -> anyhow::Result<u64> {
    let info: String = redis.query(redis::cmd("INFO").arg("memory")).await?;
    let used = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .ok_or_else(|| anyhow::anyhow!("no used_memory in INFO"))?;
    Ok(used.trim().parse()?)
}

struct Sample {
    done: u64,
    per_s: f64,
    redis_bytes: u64,
    /// Finished jobs not copied to the history yet, and live jobs not indexed.
    history_backlog: hoist_queue::HistoryBacklog,
    worker_rss: u64,
    server_rss: u64,
}

pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let mut args = args;
    if args.quick {
        args.jobs = 100_000;
    }
    let redis_server = RedisServer::start();
    let redis = RedisConnection::connect(&redis_server.url()).await?;
    // The defaults: the last 1,000 completed and 24 h of them kept, the rest deleted.
    let queue = Queue::new(&redis, "soak")?;
    queue.register().await?;
    let server =
        crate::server_process::ServerProcess::start(args.hoist_bin.as_deref(), &redis_server.url(), args.history)
            .await?;
    let exe = std::env::current_exe()?;
    let mut worker: Child = Command::new(&exe)
        .args(["probe-worker", "--redis-url", &redis_server.url(), "--queue", "soak", "--work-ms", "0"])
        .stdin(Stdio::null())
        .spawn()?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let payload = json!({ "data": "x".repeat(89) });
    let mut enqueued = 0u64;
    let started = Instant::now();
    let mut samples: Vec<Sample> = vec![];
    let step = args.jobs / 10;
    let (mut last_done, mut last_at) = (0u64, Instant::now());
    let start_rss = rss_bytes(worker.id())?;
    let start_server_rss = rss_bytes(server.pid())?;
    let start_redis = redis_memory(&redis).await?;
    println!(
        "start: Redis {:.1} MiB, worker RSS {:.1} MiB, server RSS {:.1} MiB",
        mib(start_redis),
        mib(start_rss),
        mib(start_server_rss)
    );
    loop {
        let counts = queue.counts().await?;
        let done = enqueued.saturating_sub(counts.waiting + counts.active);
        if enqueued < args.jobs && counts.waiting < args.backlog {
            let n = (args.backlog - counts.waiting).min(args.jobs - enqueued).min(1000);
            queue.enqueue_bulk((0..n).map(|_| NewJob::new("w1", payload.clone())).collect()).await?;
            enqueued += n;
            continue;
        }
        if done >= last_done + step || done >= args.jobs {
            let per_s = (done - last_done) as f64 / last_at.elapsed().as_secs_f64();
            let sample = Sample {
                done,
                per_s,
                redis_bytes: redis_memory(&redis).await?,
                history_backlog: queue.history_backlog().await?,
                worker_rss: rss_bytes(worker.id())?,
                server_rss: rss_bytes(server.pid())?,
            };
            println!(
                "{:>9} done: {:>7.0} jobs/s, Redis {:.1} MiB ({} to copy, {} to index), worker RSS {:.1} MiB, server RSS {:.1} MiB",
                sample.done,
                sample.per_s,
                mib(sample.redis_bytes),
                sample.history_backlog.unarchived,
                sample.history_backlog.unindexed,
                mib(sample.worker_rss),
                mib(sample.server_rss)
            );
            samples.push(sample);
            (last_done, last_at) = (done, Instant::now());
            if done >= args.jobs {
                break;
            }
        }
        if let Some(status) = worker.try_wait()? {
            anyhow::bail!("the worker exited: {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = worker.kill();
    let _ = worker.wait();
    let elapsed = started.elapsed().as_secs_f64();
    let mid = &samples[samples.len() / 2];
    let end = samples.last().expect("at least one sample");
    let rates: Vec<f64> = samples.iter().map(|s| s.per_s).collect();
    let figures = json!({
        "jobs": args.jobs,
        "seconds": elapsed.round(),
        "per_s": (args.jobs as f64 / elapsed).round(),
        "per_s_by_tenth": rates.iter().map(|r| r.round()).collect::<Vec<_>>(),
        "redis_mib": [mib(start_redis), mib(mid.redis_bytes), mib(end.redis_bytes)],
        "worker_rss_mib": [mib(start_rss), mib(mid.worker_rss), mib(end.worker_rss)],
        "server_rss_mib": [mib(start_server_rss), mib(mid.server_rss), mib(end.server_rss)],
        "history": args.history,
    });
    println!("{figures}");
    Ok(())
}
