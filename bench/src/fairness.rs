//! `hoist-fairness`: how long a small tenant's job waits behind a big tenant's backlog.
//!
//! Tenant A's backlog (`--backlog`, 100,000 by default) is enqueued in group `tenant-a`
//! while the queue is paused; one worker (concurrency 50) then works through it, each A
//! job taking `--job-ms`. Meanwhile tenant B enqueues one job at a time (`--samples` of
//! them), each after the previous one started, and the time from B's enqueue to its start
//! is recorded. Printed: p50, p99 and the maximum of B's wait, A's backlog left when B's
//! last job started (it must still be large, or the figure says nothing), and the same
//! wait for one B job on the same queue without groups, where it queues behind all of A.
//! The last line is one JSON object with the figures.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use clap::Parser;
use hdrhistogram::Histogram;
use hoist_queue::{
    CancellationToken, JobOptions, NewJob, Queue, QueueConfig, RedisConnection, Retention, Worker, WorkerOptions,
    handler_fn,
};
use serde_json::json;
use tokio::sync::Notify;

#[derive(Parser, Debug)]
#[command(about = "Measure a small tenant's wait behind a big tenant's backlog (fair groups)")]
struct Args {
    /// Redis to run against (its data for the `fairness` queues is deleted).
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Tenant A's waiting jobs.
    #[arg(long, default_value_t = 100_000)]
    backlog: usize,
    /// Tenant B's jobs, one after another.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// How long each of A's jobs runs (ms), so the backlog lasts the whole measurement.
    #[arg(long, default_value_t = 5)]
    job_ms: u64,
    /// Worker concurrency.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
}

/// When each of B's jobs started, by job id; `started` wakes the sampler.
#[derive(Default)]
struct Starts {
    at: Mutex<HashMap<String, Instant>>,
    started: Notify,
}

fn tenant_job(group: Option<&str>, tenant: &str) -> NewJob {
    NewJob::new("work", json!({ "tenant": tenant }))
        .with_options(JobOptions { group: group.map(str::to_string), ..JobOptions::default() })
}

/// Enqueues A's backlog (grouped or not) on a paused queue and starts a worker on it.
async fn start(
    redis: &RedisConnection,
    name: &str,
    grouped: bool,
    args: &Args,
    starts: Arc<Starts>,
) -> anyhow::Result<(Queue, CancellationToken, tokio::task::JoinHandle<hoist_queue::Result<()>>)> {
    let config =
        QueueConfig { completed: Retention { max_count: Some(1000), max_age: None }, ..QueueConfig::default() };
    let queue = Queue::with_config(redis, name, config)?;
    queue.obliterate(true).await?;
    queue.pause().await?;
    let group = grouped.then_some("tenant-a");
    for from in (0..args.backlog).step_by(1000) {
        let batch = (from..args.backlog.min(from + 1000)).map(|_| tenant_job(group, "a")).collect();
        queue.enqueue_bulk(batch).await?;
    }
    let job_time = Duration::from_millis(args.job_ms);
    let handler = handler_fn(move |ctx| {
        let starts = starts.clone();
        let is_b = ctx.job().payload["tenant"] == "b";
        let id = ctx.job().id.clone();
        async move {
            if is_b {
                starts.at.lock().unwrap().insert(id, Instant::now());
                starts.started.notify_one();
            } else {
                tokio::time::sleep(job_time).await;
            }
            Ok(serde_json::Value::Null)
        }
    });
    let options = WorkerOptions { concurrency: args.concurrency, ..WorkerOptions::default() };
    let stop = CancellationToken::new();
    let task = tokio::spawn(Worker::new(queue.clone(), handler, options).run(stop.clone()));
    queue.resume().await?;
    Ok((queue, stop, task))
}

/// Enqueues one of B's jobs and waits until it starts; returns the wait.
async fn one_b_job(queue: &Queue, grouped: bool, starts: &Starts, timeout: Duration) -> anyhow::Result<Duration> {
    let enqueued = Instant::now();
    let id = queue.enqueue(tenant_job(grouped.then_some("tenant-b"), "b")).await?.id;
    loop {
        if let Some(at) = starts.at.lock().unwrap().get(&id) {
            return Ok(at.duration_since(enqueued));
        }
        ensure!(enqueued.elapsed() < timeout, "B's job did not start within {timeout:?}");
        tokio::time::timeout(Duration::from_millis(100), starts.started.notified()).await.ok();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let redis = RedisConnection::connect(&args.redis_url).await.context("REDIS_URL")?;

    let starts = Arc::new(Starts::default());
    let (queue, stop, task) = start(&redis, "fairness", true, &args, starts.clone()).await?;
    // Let the worker get into its stride on A's jobs first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut waits = Histogram::<u64>::new(3)?;
    for _ in 0..args.samples {
        let wait = one_b_job(&queue, true, &starts, Duration::from_secs(60)).await?;
        waits.record(wait.as_micros() as u64)?;
    }
    let left = queue.counts().await?.waiting;
    stop.cancel();
    task.await??;
    let ms = |micros: u64| micros as f64 / 1000.0;
    let (p50, p99, max) = (ms(waits.value_at_quantile(0.5)), ms(waits.value_at_quantile(0.99)), ms(waits.max()));
    println!(
        "grouped: tenant B's job started {p50:.2} ms after its enqueue at p50, {p99:.2} ms at p99 \
         (max {max:.2} ms; {} jobs), with {left} of A's {} still waiting",
        args.samples, args.backlog
    );
    ensure!(left > 0, "A's backlog ran out during the measurement: raise --backlog or --job-ms");

    // The same queue without groups: B's one job waits for A's whole backlog ahead of it.
    let plain_starts = Arc::new(Starts::default());
    let (plain, stop, task) = start(&redis, "fairness-plain", false, &args, plain_starts.clone()).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let plain_wait = one_b_job(&plain, false, &plain_starts, Duration::from_secs(3600)).await?;
    stop.cancel();
    task.await??;
    println!("ungrouped: tenant B's one job started {:.1} s after its enqueue", plain_wait.as_secs_f64());
    queue.obliterate(true).await?;
    plain.obliterate(true).await?;
    println!(
        "{}",
        json!({
            "backlog": args.backlog,
            "samples": args.samples,
            "job_ms": args.job_ms,
            "concurrency": args.concurrency,
            "grouped_b_wait_ms_p50": p50,
            "grouped_b_wait_ms_p99": p99,
            "grouped_b_wait_ms_max": max,
            "grouped_a_left": left,
            "ungrouped_b_wait_s": (plain_wait.as_secs_f64() * 10.0).round() / 10.0,
        })
    );
    Ok(())
}
