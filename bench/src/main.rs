//! `hoist-bench`: the engine under workload W1 — 100-byte JSON payloads, a no-op handler,
//! one worker with concurrency 50, the last 1000 completed jobs kept, Redis on loopback.
//! The last line printed is one JSON object with the figures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use futures::StreamExt;
use hoist_queue::{
    CancellationToken, JobOptions, NewJob, Queue, QueueConfig, RedisConnection, Retention, ScheduleSpec, Scheduler,
    Worker, WorkerOptions, handler_fn, round_trips,
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
    /// Seconds the three-scheduler lateness phase runs (a schedule firing every second).
    #[arg(long, default_value_t = 10)]
    scheduler_seconds: u64,
    /// Seconds of the half-load latency phase.
    #[arg(long, default_value_t = 5)]
    latency_seconds: u64,
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
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let lateness = Arc::new(Mutex::new(Vec::<f64>::new()));
    let record = Arc::new(std::sync::atomic::AtomicU8::new(0)); // 0 none, 1 latency, 2 lateness
    let handler = {
        let (started, latencies, lateness, record) =
            (started.clone(), latencies.clone(), lateness.clone(), record.clone());
        handler_fn(move |ctx| {
            started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match record.load(std::sync::atomic::Ordering::Relaxed) {
                1 => latencies.lock().unwrap().push((now_ms() - ctx.job().created_at) as f64),
                2 => lateness.lock().unwrap().push((now_ms() - ctx.job().run_at) as f64),
                _ => {}
            }
            async { Ok(serde_json::Value::Null) }
        })
    };
    let defaults = WorkerOptions::default();
    let claim_loops = args.claim_loops.unwrap_or(defaults.claim_loops);
    let options = WorkerOptions { concurrency: args.concurrency, claim_loops, ..defaults };
    let worker = Worker::new(queue.clone(), handler, options);
    let shutdown = CancellationToken::new();
    let trips_before = round_trips();
    let start = Instant::now();
    let worker_task = tokio::spawn(worker.run(shutdown.clone()));
    loop {
        let counts = queue.counts().await?;
        if counts.waiting == 0 && counts.active == 0 && started.load(std::sync::atomic::Ordering::Relaxed) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    // The counts polling above is the benchmark's own, not the engine's.
    let engine_trips = round_trips() - trips_before;
    let process_per_s = n as f64 / elapsed;
    let round_trips_per_job = engine_trips as f64 / n as f64;
    println!("processed: {process_per_s:.0} jobs/s ({round_trips_per_job:.3} round trips per job)");

    // 4. Enqueue-to-start latency at half load. Here every job is both enqueued (one call
    // each, as single enqueues) and processed, by one machine: the end-to-end capacity is
    // 1 / (1/enqueue + 1/process), and half load is half of that.
    record.store(1, std::sync::atomic::Ordering::Relaxed);
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
    record.store(0, std::sync::atomic::Ordering::Relaxed);
    let mut lat = latencies.lock().unwrap().clone();
    let latency_p50_ms = percentile(&mut lat, 50.0);
    let latency_p99_ms = percentile(&mut lat, 99.0);
    println!(
        "latency at {rate:.0} jobs/s: p50 {latency_p50_ms:.1} ms, p99 {latency_p99_ms:.1} ms ({} jobs)",
        lat.len()
    );

    // 5. Delayed jobs: how late they start, with nothing else going on.
    record.store(2, std::sync::atomic::Ordering::Relaxed);
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
    let mut late = lateness.lock().unwrap().clone();
    let delayed_lateness_p99_ms = percentile(&mut late, 99.0);
    println!("delayed lateness: p99 {delayed_lateness_p99_ms:.1} ms ({} jobs)", late.len());

    shutdown.cancel();
    worker_task.await??;
    queue.obliterate(true).await?;

    // 6. Three schedulers racing over a schedule that fires every second.
    let spec = ScheduleSpec::new("bench-each-second", "* * * * * *", "bench-cron", NewJob::new("tick", payload()));
    let scheduler = Scheduler::new(&redis);
    scheduler.remove(&spec.name).await?;
    scheduler.upsert(&spec).await?;
    let stop = CancellationToken::new();
    let loops: Vec<_> = (0..3).map(|_| tokio::spawn(Scheduler::new(&redis).run(stop.clone()))).collect();
    tokio::time::sleep(Duration::from_secs(args.scheduler_seconds)).await;
    stop.cancel();
    for l in loops {
        l.await??;
    }
    let history = scheduler.history(&spec.name, 100).await?;
    let mut ticks: Vec<i64> = history.iter().map(|r| r.tick).collect();
    ticks.sort();
    let once = ticks.windows(2).all(|w| w[1] - w[0] == 1000);
    let mut late: Vec<f64> = history.iter().map(|r| (r.fired_at - r.tick) as f64).collect();
    let scheduler_lateness_p50_ms = percentile(&mut late, 50.0);
    let scheduler_lateness_p99_ms = percentile(&mut late, 99.0);
    println!(
        "scheduler (3 instances, {} ticks, each exactly once: {once}): lateness p50 {scheduler_lateness_p50_ms:.1} ms, p99 {scheduler_lateness_p99_ms:.1} ms",
        ticks.len()
    );
    scheduler.remove(&spec.name).await?;
    Queue::new(&redis, "bench-cron")?.obliterate(true).await?;

    let figures = json!({
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
        "scheduler_lateness_p50_ms": scheduler_lateness_p50_ms,
        "scheduler_lateness_p99_ms": scheduler_lateness_p99_ms,
        "scheduler_ticks_exactly_once": once,
    });
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
