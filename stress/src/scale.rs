//! Scale-out: throughput of 1, 2 and 3 worker processes on one queue; the engine on a
//! 3-master Redis Cluster with several queues spread over the shards; three schedulers
//! on the cluster firing each tick once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use hoist_queue::{
    CancellationToken, NewJob, Queue, RedisConnection, ScheduleSpec, Scheduler, Worker, WorkerOptions, handler_fn,
};
use hoist_testkit::{RedisCluster, RedisServer};
use serde_json::json;

#[derive(Args, Clone)]
pub struct ScaleArgs {
    /// Jobs per worker-count run.
    #[arg(long, default_value_t = 100_000)]
    pub jobs: usize,
    /// Jobs per queue on the cluster.
    #[arg(long, default_value_t = 30_000)]
    pub cluster_jobs: usize,
    /// Seconds the three schedulers run (one tick a second).
    #[arg(long, default_value_t = 10)]
    pub scheduler_seconds: u64,
    /// Small and quick (well under a minute).
    #[arg(long)]
    pub quick: bool,
}

fn payload() -> serde_json::Value {
    json!({ "data": "x".repeat(89) })
}

async fn fill(queue: &Queue, jobs: usize) -> anyhow::Result<()> {
    let mut left = jobs;
    while left > 0 {
        let n = left.min(1000);
        queue.enqueue_bulk((0..n).map(|_| NewJob::new("w1", payload())).collect()).await?;
        left -= n;
    }
    Ok(())
}

async fn wait_done(queue: &Queue) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let c = queue.counts().await?;
        // Nothing left to run (the jobs are all enqueued before this is asked).
        if c.waiting == 0 && c.active == 0 && c.delayed == 0 && c.retrying == 0 {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "not done after 10 minutes: {c:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Jobs/s of `processes` worker processes on one queue of `jobs` W1 jobs.
async fn processes_throughput(redis_url: &str, jobs: usize, processes: usize) -> anyhow::Result<f64> {
    let redis = RedisConnection::connect(redis_url).await?;
    let queue = Queue::new(&redis, "scale")?;
    queue.obliterate(true).await?;
    queue.pause().await?;
    fill(&queue, jobs).await?;
    let exe = std::env::current_exe()?;
    let mut children: Vec<Child> = (0..processes)
        .map(|_| {
            Command::new(&exe)
                .args(["probe-worker", "--redis-url", redis_url, "--queue", "scale", "--work-ms", "0"])
                .stdin(Stdio::null())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    // Every process is up and parked before the clock starts.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    queue.resume().await?;
    let done = wait_done(&queue).await;
    let elapsed = started.elapsed().as_secs_f64();
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    done?;
    queue.obliterate(true).await?;
    Ok(jobs as f64 / elapsed)
}

pub async fn run(args: ScaleArgs) -> anyhow::Result<()> {
    let mut args = args;
    if args.quick {
        args.jobs = 10_000;
        args.cluster_jobs = 3_000;
        args.scheduler_seconds = 4;
    }
    let server = RedisServer::start();
    let mut per_processes = vec![];
    for processes in 1..=3 {
        let rate = processes_throughput(&server.url(), args.jobs, processes).await?;
        println!("{processes} worker process(es): {rate:.0} jobs/s");
        per_processes.push(rate.round());
    }
    drop(server);

    // The cluster: one queue per shard, each worked by its own worker in this process.
    let cluster = RedisCluster::start();
    let redis = RedisConnection::connect(&cluster.url()).await?;
    let names = queues_on_every_shard(&cluster, &redis).await?;
    let mut queues = vec![];
    for name in &names {
        let queue = Queue::new(&redis, name)?;
        fill(&queue, args.cluster_jobs).await?;
        queues.push(queue);
    }
    let stop = CancellationToken::new();
    let started = Instant::now();
    let mut tasks = vec![];
    for queue in &queues {
        let worker = Worker::new(
            queue.clone(),
            handler_fn(|_ctx| async { Ok(serde_json::Value::Null) }),
            WorkerOptions { concurrency: 50, ..Default::default() },
        );
        tasks.push(tokio::spawn(worker.run(stop.clone())));
    }
    for queue in &queues {
        wait_done(queue).await?;
    }
    let cluster_rate = (args.cluster_jobs * queues.len()) as f64 / started.elapsed().as_secs_f64();
    stop.cancel();
    for task in tasks {
        task.await??;
    }
    println!(
        "cluster: queues {} on {} masters, one each: {cluster_rate:.0} jobs/s together",
        names.join(", "),
        names.len()
    );

    // Three schedulers on the cluster racing over a schedule that fires every second.
    let spec = ScheduleSpec::new("scale-each-second", "* * * * * *", "scale-cron", NewJob::new("tick", json!({})));
    let scheduler = Scheduler::new(&redis);
    scheduler.upsert(&spec).await?;
    let stop = CancellationToken::new();
    let loops: Vec<_> = (0..3).map(|_| tokio::spawn(Scheduler::new(&redis).run(stop.clone()))).collect();
    tokio::time::sleep(Duration::from_secs(args.scheduler_seconds)).await;
    stop.cancel();
    for l in loops {
        l.await??;
    }
    let history = scheduler.history(&spec.name, 1000).await?;
    let mut ticks: Vec<i64> = history.iter().map(|r| r.tick).collect();
    ticks.sort();
    let distinct = ticks.windows(2).all(|w| w[1] > w[0]);
    let cron_jobs = Queue::new(&redis, "scale-cron")?.counts().await?.waiting;
    let once = distinct && cron_jobs == ticks.len() as u64 && !ticks.is_empty();
    // How late each tick fired after its time.
    let mut late: Vec<i64> = history.iter().map(|r| r.fired_at - r.tick).collect();
    let mut late_at = |p: f64| crate::measure::percentile(&mut late, p).unwrap_or(-1);
    println!(
        "3 schedulers on the cluster: {} ticks, {cron_jobs} jobs, each tick once: {once}; lateness p50 {} ms, p99 {} ms",
        ticks.len(),
        late_at(0.5),
        late_at(0.99)
    );

    let figures = json!({
        "jobs": args.jobs,
        "processes_1_per_s": per_processes[0],
        "processes_2_per_s": per_processes[1],
        "processes_3_per_s": per_processes[2],
        "cluster_queues": queues.len(),
        "cluster_masters_used": names.len(),
        "cluster_per_s": cluster_rate.round(),
        "scheduler_ticks": ticks.len(),
        "scheduler_each_tick_once": once,
        "scheduler_lateness_p50_ms": late_at(0.5),
        "scheduler_lateness_p99_ms": late_at(0.99),
    });
    println!("{figures}");
    anyhow::ensure!(once, "a tick fired more than once or not at all");
    Ok(())
}

/// Queue names whose keys live on different masters, one per master: a probe key of each
/// candidate name is written through the cluster client and looked up on every node.
async fn queues_on_every_shard(cluster: &RedisCluster, redis: &RedisConnection) -> anyhow::Result<Vec<String>> {
    let mut picked: Vec<(String, u16)> = vec![];
    for i in 0..256 {
        let name = format!("scale-{i}");
        let key = format!("hoist:{{{name}}}:probe");
        let _: () = redis.query(redis::cmd("SET").arg(&key).arg(1)).await?;
        for port in cluster.ports() {
            let exists = Command::new("redis-cli").args(["-p", &port.to_string(), "EXISTS", &key]).output()?;
            if String::from_utf8_lossy(&exists.stdout).trim() == "1" && !picked.iter().any(|(_, p)| p == port) {
                picked.push((name.clone(), *port));
            }
        }
        let _: () = redis.query(redis::cmd("DEL").arg(&key)).await?;
        if picked.len() == cluster.ports().len() {
            break;
        }
    }
    anyhow::ensure!(picked.len() == cluster.ports().len(), "found queues for only {} shards", picked.len());
    Ok(picked.into_iter().map(|(name, _)| name).collect())
}
