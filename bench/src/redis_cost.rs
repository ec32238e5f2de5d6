//! `hoist-redis-cost`: how much work Redis does per processed job of workload W1,
//! counted in machine instructions by valgrind's callgrind.
//!
//! Processing is bound by Redis' one core, so the engine gets faster exactly when Redis
//! does less per job. Wall-clock figures on a shared machine drift by ±20-40 % from run
//! to run; an instruction count does not, so this is the figure to compare when changing
//! the scripts. It starts its own `redis-server` under callgrind (random port, temp dir),
//! enqueues the backlog with counting switched off, counts while one worker processes
//! it, and prints the count per job. `--bullmq` counts BullMQ's worker the same way;
//! `--groups N` spreads the jobs over N fair groups, to count what groups cost.
//!
//! Redis runs ~50× slower under callgrind, so a worker sends bigger batches than at full
//! speed; the script calls per job are printed beside the count for that reason.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use hoist_queue::{
    CancellationToken, JobOptions, NewJob, Queue, QueueConfig, RedisConnection, Retention, Worker, WorkerOptions,
    handler_fn, round_trips,
};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Count Redis' instructions per processed job (workload W1) under callgrind")]
struct Args {
    /// Jobs to process.
    #[arg(long, default_value_t = 10_000)]
    jobs: usize,
    /// Worker concurrency.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Also count BullMQ's worker on the same workload (Node; `bench/bullmq` installed).
    #[arg(long)]
    bullmq: bool,
    /// Folder of the BullMQ benchmark script.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/bullmq"))]
    bullmq_dir: PathBuf,
    /// Count the bulk enqueue (batches of 1,000) instead of the processing.
    #[arg(long)]
    enqueue: bool,
    /// Spread the jobs over this many groups (fair groups), in turn; 0: no groups.
    #[arg(long, default_value_t = 0)]
    groups: usize,
    /// Keep callgrind's output files here (for callgrind_annotate) instead of deleting them.
    #[arg(long)]
    keep: Option<PathBuf>,
}

/// A `redis-server` running under callgrind with counting off until switched on.
struct CountedRedis {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl CountedRedis {
    async fn start(dir: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let out = dir.join("callgrind.out");
        let child = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg("--instr-atstart=no")
            .arg(format!("--callgrind-out-file={}", out.display()))
            .args(["redis-server", "--port", &port.to_string(), "--save", "", "--appendonly", "no", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting valgrind (apt-get install valgrind)")?;
        let redis = CountedRedis { child, port, out };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(conn) = RedisConnection::connect(&redis.url()).await
                && conn.query::<String>(&redis::cmd("PING")).await.is_ok()
            {
                return Ok(redis);
            }
            if Instant::now() > deadline {
                bail!("redis-server under callgrind did not answer within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn counting(&self, on: bool) -> anyhow::Result<()> {
        let status = Command::new("callgrind_control")
            .args(["-i", if on { "on" } else { "off" }])
            .arg(self.child.id().to_string())
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "callgrind_control failed");
        Ok(())
    }

    /// Stops Redis and returns the instructions counted while counting was on.
    fn finish(mut self) -> anyhow::Result<u64> {
        // SIGTERM: Redis exits cleanly and callgrind writes its file.
        Command::new("kill").arg(self.child.id().to_string()).status()?;
        self.child.wait()?;
        let text = std::fs::read_to_string(&self.out).context("callgrind output")?;
        let total = text.lines().find_map(|l| l.strip_prefix("totals:")).context("no totals in callgrind output")?;
        Ok(total.split_whitespace().next().unwrap_or("0").parse()?)
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn payload() -> serde_json::Value {
    json!({ "data": "x".repeat(89) })
}

/// Job `i` of the workload: in group `i % groups` when there are groups.
fn w1_job(i: usize, groups: usize) -> NewJob {
    let job = NewJob::new("w1", payload());
    if groups == 0 {
        return job;
    }
    job.with_options(JobOptions { group: Some(format!("tenant-{}", i % groups)), ..JobOptions::default() })
}

/// Hoist's bulk enqueue: returns the script calls made.
async fn count_hoist_enqueue(redis: &CountedRedis, n: usize, groups: usize) -> anyhow::Result<u64> {
    let conn = RedisConnection::connect(&redis.url()).await?;
    let queue = Queue::new(&conn, "bench")?;
    queue.register().await?;
    redis.counting(true)?;
    let trips = round_trips();
    for start in (0..n).step_by(1000) {
        let batch = (start..n.min(start + 1000)).map(|i| w1_job(i, groups)).collect();
        queue.enqueue_bulk(batch).await?;
    }
    let calls = round_trips() - trips;
    redis.counting(false)?;
    anyhow::ensure!(queue.counts().await?.waiting == n as u64, "not every job was enqueued");
    Ok(calls)
}

/// Hoist: returns script calls made by the worker.
async fn count_hoist(redis: &CountedRedis, n: usize, concurrency: usize, groups: usize) -> anyhow::Result<u64> {
    let conn = RedisConnection::connect(&redis.url()).await?;
    let config =
        QueueConfig { completed: Retention { max_count: Some(1000), max_age: None }, ..QueueConfig::default() };
    let queue = Queue::with_config(&conn, "bench", config)?;
    for start in (0..n).step_by(1000) {
        let batch = (start..n.min(start + 1000)).map(|i| w1_job(i, groups)).collect();
        queue.enqueue_bulk(batch).await?;
    }
    let started = Arc::new(AtomicUsize::new(0));
    let handler = {
        let started = started.clone();
        handler_fn(move |_ctx| {
            started.fetch_add(1, Ordering::Relaxed);
            async { Ok(serde_json::Value::Null) }
        })
    };
    let options = WorkerOptions { concurrency, ..WorkerOptions::default() };
    let worker = Worker::new(queue.clone(), handler, options);
    let shutdown = CancellationToken::new();
    redis.counting(true)?;
    let trips = round_trips();
    let task = tokio::spawn(worker.run(shutdown.clone()));
    while started.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Shutdown writes the last completions.
    shutdown.cancel();
    task.await??;
    let calls = round_trips() - trips;
    redis.counting(false)?;
    let counts = queue.counts().await?;
    anyhow::ensure!(counts.waiting == 0 && counts.active == 0, "jobs left: {counts:?}");
    Ok(calls)
}

/// BullMQ: the same workload through `bench.mjs --process-only`, which enqueues, says
/// "ready", processes when told to on stdin, and says "done".
fn count_bullmq(redis: &CountedRedis, dir: &Path, n: usize) -> anyhow::Result<()> {
    let mut child = Command::new("node")
        .arg("bench.mjs")
        .arg(redis.url())
        .arg(n.to_string())
        .arg("--process-only")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("node bench.mjs")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let mut expect = |word: &str| -> anyhow::Result<()> {
        match lines.next() {
            Some(Ok(line)) if line.trim() == word => Ok(()),
            other => bail!("bench.mjs: expected {word}, got {other:?}"),
        }
    };
    expect("ready")?;
    redis.counting(true)?;
    writeln!(child.stdin.as_mut().context("stdin")?, "go")?;
    expect("done")?;
    redis.counting(false)?;
    child.wait()?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let base = std::env::temp_dir().join(format!("hoist-redis-cost-{}", std::process::id()));
    let mut results = json!({ "jobs": args.jobs, "concurrency": args.concurrency, "groups": args.groups });

    let dir = base.join("hoist");
    std::fs::create_dir_all(&dir)?;
    let redis = CountedRedis::start(&dir).await?;
    let calls = if args.enqueue {
        count_hoist_enqueue(&redis, args.jobs, args.groups).await?
    } else {
        count_hoist(&redis, args.jobs, args.concurrency, args.groups).await?
    };
    let out = redis.out.clone();
    let instructions = redis.finish()?;
    let per_job = instructions as f64 / args.jobs as f64;
    let what = if args.enqueue { "bulk-enqueued" } else { "processed" };
    println!(
        "Hoist: {per_job:.0} Redis instructions per {what} job ({:.3} script calls per job)",
        calls as f64 / args.jobs as f64
    );
    results["hoist_instructions_per_job"] = json!(per_job.round());
    results["hoist_calls_per_job"] = json!((calls as f64 / args.jobs as f64 * 1000.0).round() / 1000.0);
    if let Some(keep) = &args.keep {
        std::fs::create_dir_all(keep)?;
        std::fs::copy(&out, keep.join("hoist.callgrind.out"))?;
    }

    if args.bullmq {
        let dir = base.join("bullmq");
        std::fs::create_dir_all(&dir)?;
        let redis = CountedRedis::start(&dir).await?;
        count_bullmq(&redis, &args.bullmq_dir, args.jobs)?;
        let out = redis.out.clone();
        let instructions = redis.finish()?;
        let bull = instructions as f64 / args.jobs as f64;
        println!("BullMQ: {bull:.0} Redis instructions per processed job");
        println!("Hoist / BullMQ: {:.2}× the work per job", per_job / bull);
        results["bullmq_instructions_per_job"] = json!(bull.round());
        if let Some(keep) = &args.keep {
            std::fs::copy(&out, keep.join("bullmq.callgrind.out"))?;
        }
    }
    std::fs::remove_dir_all(&base).ok();
    println!("{results}");
    Ok(())
}
