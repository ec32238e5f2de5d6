//! `hoist-bench`: the engine under workload W1 — 100-byte JSON payloads, a no-op handler,
//! one worker with concurrency 50, the last 1000 completed jobs kept, Redis on loopback.
//! The last line printed is one JSON object with the figures. With `--bullmq` the same
//! workload runs on BullMQ (Node) on the same Redis, alternating with Hoist, and the
//! figures include BullMQ's and the ratios.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use futures::StreamExt;
use hoist_queue::{
    CancellationToken, JobOptions, NewJob, Queue, QueueConfig, RedisConnection, Retention, Worker, WorkerOptions,
    handler_fn, round_trips,
};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Benchmark the Hoist engine (workload W1)")]
struct Args {
    /// Redis to run against (its data for the `bench` queue is deleted).
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Jobs per phase.
    #[arg(long, default_value_t = 50_000)]
    jobs: usize,
    /// Worker concurrency.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Claim loops of the worker (the engine's default when unset).
    #[arg(long)]
    claim_loops: Option<usize>,
    /// Seconds of the half-load latency phase.
    #[arg(long, default_value_t = 5)]
    latency_seconds: u64,
    /// Also run the same workload on BullMQ (Node, installed by npm into `--bullmq-dir`
    /// when missing) on the same Redis, alternating with Hoist, and print the ratios.
    #[arg(long)]
    bullmq: bool,
    /// Throughput rounds of each system with `--bullmq` (medians are reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Folder of the BullMQ benchmark script.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/bullmq"))]
    bullmq_dir: std::path::PathBuf,
}

fn payload() -> serde_json::Value {
    // {"data":"xxxx..."} serialises to 100 bytes.
    json!({ "data": "x".repeat(89) })
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[rank.min(values.len() - 1)]
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let redis = RedisConnection::connect(&args.redis_url).await.context("REDIS_URL")?;
    let config =
        QueueConfig { completed: Retention { max_count: Some(1000), max_age: None }, ..QueueConfig::default() };
    let queue = Queue::with_config(&redis, "bench", config)?;
    queue.obliterate(true).await?;
    assert_eq!(serde_json::to_string(&payload())?.len(), 100);
    let n = args.jobs;

    let state = Arc::new(Probe::default());
    let defaults = WorkerOptions::default();
    let claim_loops = args.claim_loops.unwrap_or(defaults.claim_loops);
    let options = WorkerOptions { concurrency: args.concurrency, claim_loops, ..defaults };

    // 1-3. Throughput, alternating with BullMQ when comparing.
    let rounds = if args.bullmq { args.rounds.max(1) } else { 1 };
    if args.bullmq {
        install_bullmq(&args.bullmq_dir)?;
    }
    let mut hoist_rounds = vec![];
    let mut bullmq_rounds = vec![];
    for round in 1..=rounds {
        if rounds > 1 {
            println!("round {round} of {rounds}: Hoist");
        }
        hoist_rounds.push(throughput(&redis, &queue, n, &state, &options).await?);
        if args.bullmq {
            println!("round {round} of {rounds}: BullMQ");
            bullmq_rounds.push(run_bullmq(&args.bullmq_dir, &args.redis_url, n)?);
        }
    }
    let median = |field: &str, runs: &[serde_json::Value]| -> f64 {
        let mut values: Vec<f64> = runs.iter().filter_map(|r| r[field].as_f64()).collect();
        percentile(&mut values, 50.0)
    };
    let hoist_json: Vec<serde_json::Value> = hoist_rounds.iter().map(Throughput::to_json).collect();
    let enqueue_single_per_s = median("enqueue_single_per_s", &hoist_json);
    let enqueue_bulk_per_s = median("enqueue_bulk_per_s", &hoist_json);
    let process_per_s = median("process_per_s", &hoist_json);
    let round_trips_per_job = median("round_trips_per_job", &hoist_json);
    let redis_us_per_job = median("redis_us_per_processed_job", &hoist_json);

    // Phases 4 and 5 use a worker that records when each job starts.
    let worker = Worker::new(queue.clone(), probe_handler(state.clone()), options.clone());
    let shutdown = CancellationToken::new();
    let worker_task = tokio::spawn(worker.run(shutdown.clone()));
    let record = &state.record;

    // 4. Enqueue-to-start latency at half load. Here every job is both enqueued (one call
    // each, as single enqueues) and processed, by one machine: the end-to-end capacity is
    // 1 / (1/enqueue + 1/process), and half load is half of that.
    record.store(1, Ordering::Relaxed);
    let capacity = 1.0 / (1.0 / enqueue_single_per_s + 1.0 / process_per_s);
    let rate = (capacity / 2.0).max(100.0);
    let ticks = args.latency_seconds * 100;
    let per_tick = (rate / 100.0).ceil() as usize;
    let mut interval = tokio::time::interval(Duration::from_millis(10));
    let mut inflight = tokio::task::JoinSet::new();
    for tick in 0..ticks {
        interval.tick().await;
        if std::env::var("HOIST_BENCH_DEBUG").is_ok() && tick % 50 == 0 {
            eprintln!("tick {tick}: {:?} inflight {}", queue.counts().await?, inflight.len());
        }
        for _ in 0..per_tick {
            let queue = queue.clone();
            inflight.spawn(async move { queue.enqueue(NewJob::new("w1", payload())).await });
        }
        while let Some(done) = inflight.try_join_next() {
            done??;
        }
    }
    while let Some(done) = inflight.join_next().await {
        done??;
    }
    wait_idle(&queue).await?;
    record.store(0, Ordering::Relaxed);
    let mut lat = state.latencies.lock().unwrap().clone();
    let latency_p50_ms = percentile(&mut lat, 50.0);
    let latency_p99_ms = percentile(&mut lat, 99.0);
    println!(
        "latency at {rate:.0} jobs/s: p50 {latency_p50_ms:.1} ms, p99 {latency_p99_ms:.1} ms ({} jobs)",
        lat.len()
    );

    // 5. Delayed jobs: how late they start, with nothing else going on.
    record.store(2, Ordering::Relaxed);
    let delayed: Vec<NewJob> = (0..2000)
        .map(|i| {
            let options =
                JobOptions { delay: Some(Duration::from_millis(200 + (i * 7919 % 2000) as u64)), ..Default::default() };
            NewJob::new("w1-delayed", payload()).with_options(options)
        })
        .collect();
    for chunk in delayed.chunks(500) {
        queue.enqueue_bulk(chunk.to_vec()).await?;
    }
    tokio::time::sleep(Duration::from_millis(2300)).await;
    wait_idle(&queue).await?;
    let mut late = state.lateness.lock().unwrap().clone();
    let delayed_lateness_p99_ms = percentile(&mut late, 99.0);
    println!("delayed lateness: p99 {delayed_lateness_p99_ms:.1} ms ({} jobs)", late.len());

    shutdown.cancel();
    worker_task.await??;
    queue.obliterate(true).await?;

    let mut figures = json!({
        "workload": "W1",
        "jobs": n,
        "concurrency": args.concurrency,
        "claim_loops": claim_loops,
        "enqueue_single_per_s": enqueue_single_per_s.round(),
        "enqueue_bulk_per_s": enqueue_bulk_per_s.round(),
        "process_per_s": process_per_s.round(),
        "latency_load_per_s": rate.round(),
        "latency_p50_ms": (latency_p50_ms * 10.0).round() / 10.0,
        "latency_p99_ms": (latency_p99_ms * 10.0).round() / 10.0,
        "delayed_lateness_p99_ms": (delayed_lateness_p99_ms * 10.0).round() / 10.0,
        "round_trips_per_job": (round_trips_per_job * 1000.0).round() / 1000.0,
        "redis_us_per_processed_job": redis_us_per_job,
    });
    if args.bullmq {
        let version = bullmq_rounds.first().and_then(|r| r["version"].as_str()).unwrap_or("?").to_string();
        let bull = |field: &str| median(field, &bullmq_rounds).round();
        let ratio = |ours: f64, field: &str| (ours / median(field, &bullmq_rounds) * 100.0).round() / 100.0;
        figures["rounds"] = rounds.into();
        figures["hoist_rounds"] = hoist_json.clone().into();
        figures["bullmq"] = json!({
            "version": version,
            "enqueue_single_per_s": bull("enqueue_single_per_s"),
            "enqueue_bulk_per_s": bull("enqueue_bulk_per_s"),
            "process_per_s": bull("process_per_s"),
            "rounds": bullmq_rounds,
        });
        figures["ratio"] = json!({
            "enqueue_single": ratio(enqueue_single_per_s, "enqueue_single_per_s"),
            "enqueue_bulk": ratio(enqueue_bulk_per_s, "enqueue_bulk_per_s"),
            "process": ratio(process_per_s, "process_per_s"),
        });
        println!(
            "Hoist / BullMQ {version} (medians of {rounds}): enqueue single {}×, bulk {}×, processed {}×",
            figures["ratio"]["enqueue_single"], figures["ratio"]["enqueue_bulk"], figures["ratio"]["process"]
        );
    }
    println!("{figures}");
    Ok(())
}

async fn wait_idle(queue: &Queue) -> anyhow::Result<()> {
    loop {
        let c = queue.counts().await?;
        if c.waiting + c.active + c.delayed + c.retrying == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the handler records, switched by phase.
#[derive(Default)]
struct Probe {
    started: AtomicUsize,
    /// 0 nothing, 1 enqueue-to-start latency, 2 delayed-job lateness.
    record: AtomicU8,
    latencies: Mutex<Vec<f64>>,
    lateness: Mutex<Vec<f64>>,
}

fn probe_handler(state: Arc<Probe>) -> impl hoist_queue::Handler {
    handler_fn(move |ctx| {
        state.started.fetch_add(1, Ordering::Relaxed);
        match state.record.load(Ordering::Relaxed) {
            1 => state.latencies.lock().unwrap().push((now_ms() - ctx.job().created_at) as f64),
            2 => state.lateness.lock().unwrap().push((now_ms() - ctx.job().run_at) as f64),
            _ => {}
        }
        async { Ok(serde_json::Value::Null) }
    })
}

struct Throughput {
    enqueue_single_per_s: f64,
    enqueue_bulk_per_s: f64,
    process_per_s: f64,
    round_trips_per_job: f64,
    redis_us_per_job: f64,
}

impl Throughput {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "enqueue_single_per_s": self.enqueue_single_per_s.round(),
            "enqueue_bulk_per_s": self.enqueue_bulk_per_s.round(),
            "process_per_s": self.process_per_s.round(),
            "round_trips_per_job": (self.round_trips_per_job * 1000.0).round() / 1000.0,
            "redis_us_per_processed_job": (self.redis_us_per_job * 10.0).round() / 10.0,
        })
    }
}

/// Phases 1-3: single enqueues (64 in flight), bulk enqueues (1000 per call), and one
/// worker processing the backlog. Leaves the queue empty.
async fn throughput(
    redis: &RedisConnection,
    queue: &Queue,
    n: usize,
    state: &Arc<Probe>,
    options: &WorkerOptions,
) -> anyhow::Result<Throughput> {
    // 1. Single enqueues, 64 in flight.
    let start = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(64, |_| {
            let queue = queue.clone();
            async move {
                queue.enqueue(NewJob::new("w1", payload())).await.expect("enqueue");
            }
        })
        .await;
    let enqueue_single_per_s = n as f64 / start.elapsed().as_secs_f64();
    println!("enqueue single (64 in flight): {enqueue_single_per_s:.0} jobs/s");
    queue.obliterate(true).await?;

    // 2. Bulk enqueues, 1000 per call.
    let start = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        queue.enqueue_bulk(chunk.iter().map(|_| NewJob::new("w1", payload())).collect()).await?;
    }
    let enqueue_bulk_per_s = n as f64 / start.elapsed().as_secs_f64();
    println!("enqueue bulk (1000 per call): {enqueue_bulk_per_s:.0} jobs/s");

    // 3. Processing the backlog with one worker.
    let started_before = state.started.load(Ordering::Relaxed);
    let worker = Worker::new(queue.clone(), probe_handler(state.clone()), options.clone());
    let shutdown = CancellationToken::new();
    let trips_before = round_trips();
    let redis_before = redis_busy_us(redis).await?;
    let start = Instant::now();
    let worker_task = tokio::spawn(worker.run(shutdown.clone()));
    loop {
        let counts = queue.counts().await?;
        if counts.waiting == 0 && counts.active == 0 && state.started.load(Ordering::Relaxed) - started_before >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    // The counts polling above is the benchmark's own, not the engine's.
    let engine_trips = round_trips() - trips_before;
    let process_per_s = n as f64 / elapsed;
    let round_trips_per_job = engine_trips as f64 / n as f64;
    // Includes the benchmark's own counts polling (one call per 5 ms).
    let redis_us_per_job = (redis_busy_us(redis).await? - redis_before) as f64 / n as f64;
    println!(
        "processed: {process_per_s:.0} jobs/s ({round_trips_per_job:.3} round trips, {redis_us_per_job:.1} µs of Redis CPU per job)"
    );
    shutdown.cancel();
    worker_task.await??;
    queue.obliterate(true).await?;
    Ok(Throughput { enqueue_single_per_s, enqueue_bulk_per_s, process_per_s, round_trips_per_job, redis_us_per_job })
}

/// Installs BullMQ with npm into `dir` unless it is there already.
fn install_bullmq(dir: &std::path::Path) -> anyhow::Result<()> {
    if dir.join("node_modules/bullmq/package.json").exists() {
        return Ok(());
    }
    println!("installing BullMQ into {} (npm install)", dir.display());
    let status = std::process::Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .context("running npm (is Node.js installed?)")?;
    anyhow::ensure!(status.success(), "npm install in {} failed: {status}", dir.display());
    Ok(())
}

/// One BullMQ run of phases 1-3; its figures as JSON.
fn run_bullmq(dir: &std::path::Path, redis_url: &str, jobs: usize) -> anyhow::Result<serde_json::Value> {
    let output = std::process::Command::new("node")
        .arg("bench.mjs")
        .arg(redis_url)
        .arg(jobs.to_string())
        .current_dir(dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running node")?;
    anyhow::ensure!(output.status.success(), "the BullMQ benchmark failed: {}", output.status);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().rev().find(|l| l.starts_with('{')).context("no JSON line from bench.mjs")?;
    let figures: serde_json::Value = serde_json::from_str(last)?;
    println!(
        "BullMQ {}: enqueue single {} jobs/s, bulk {} jobs/s, processed {} jobs/s",
        figures["version"], figures["enqueue_single_per_s"], figures["enqueue_bulk_per_s"], figures["process_per_s"]
    );
    Ok(figures)
}

/// Microseconds of CPU the Redis server has used so far (INFO cpu, user + system).
async fn redis_busy_us(redis: &RedisConnection) -> anyhow::Result<u64> {
    let info: String = redis.query(redis::cmd("INFO").arg("cpu")).await?;
    let seconds: f64 = info
        .lines()
        .filter_map(|l| l.strip_prefix("used_cpu_user:").or_else(|| l.strip_prefix("used_cpu_sys:")))
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .sum();
    Ok((seconds * 1e6) as u64)
}
