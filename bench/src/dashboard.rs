//! Dashboard server time with a large queue: fills a queue with `--jobs` W1 jobs (through
//! the engine, straight into Redis), signs in to a running `hoist serve` and times the
//! pages and API reads an admin uses, sequentially, from request to last byte. Run the
//! server from a release build. Its last line is one JSON object of the figures.

use std::time::{Duration, Instant};

use clap::Parser;
use hoist_queue::{NewJob, Queue, RedisConnection};

#[derive(Parser)]
struct Args {
    /// The server to measure.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// The Redis that server uses.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    #[arg(long, env = "HOIST_ADMIN_PASSWORD")]
    admin_password: String,
    /// Jobs stored in the measured queue (topped up to this many; none are processed).
    #[arg(long, default_value_t = 1_000_000)]
    jobs: u64,
    #[arg(long, default_value = "dashboard-bench")]
    queue: String,
    /// Requests per measured route.
    #[arg(long, default_value_t = 50)]
    requests: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let redis = RedisConnection::connect(&args.redis_url).await?;
    let queue = Queue::new(&redis, &args.queue)?;
    let have = queue.counts().await?.waiting;
    if have < args.jobs {
        let started = Instant::now();
        let payload = serde_json::json!({ "data": "x".repeat(89) });
        let mut left = args.jobs - have;
        while left > 0 {
            let n = left.min(1000);
            queue.enqueue_bulk((0..n).map(|_| NewJob::new("w1", payload.clone())).collect()).await?;
            left -= n;
        }
        println!("stored {} jobs in {:.1} s", args.jobs - have, started.elapsed().as_secs_f64());
    }
    let counts = queue.counts().await?;
    println!("queue {}: {} waiting", args.queue, counts.waiting);

    let client = reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(60)).build()?;
    let login = client
        .post(format!("{}/api/v1/auth/login", args.url))
        .json(&serde_json::json!({ "username": "admin", "password": args.admin_password }))
        .send()
        .await?;
    anyhow::ensure!(login.status().is_success(), "sign-in failed: {}", login.status());

    let q = &args.queue;
    let deep = counts.waiting / 2;
    let routes = [
        ("overview_page", "/".to_string()),
        ("queue_page", format!("/queues/{q}?state=waiting")),
        ("queue_page_deep", format!("/queues/{q}?state=waiting&cursor={deep}")),
        ("api_jobs", format!("/api/v1/queues/{q}/jobs?state=waiting&limit=50")),
        ("api_jobs_deep", format!("/api/v1/queues/{q}/jobs?state=waiting&limit=50&cursor={deep}")),
        ("api_counts", format!("/api/v1/queues/{q}/health")),
    ];
    let mut figures = serde_json::Map::new();
    figures.insert("jobs_stored".into(), counts.waiting.into());
    for (name, path) in routes {
        let url = format!("{}{path}", args.url);
        // One unmeasured request warms connections and caches.
        client.get(&url).send().await?.bytes().await?;
        let mut times = Vec::with_capacity(args.requests);
        for _ in 0..args.requests {
            let start = Instant::now();
            let response = client.get(&url).send().await?;
            anyhow::ensure!(response.status().is_success(), "{path}: {}", response.status());
            response.bytes().await?;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&times, 50.0), percentile(&times, 99.0));
        println!("{name:>16} {path}: p50 {p50:.1} ms, p99 {p99:.1} ms");
        figures.insert(format!("{name}_p50_ms"), ((p50 * 10.0).round() / 10.0).into());
        figures.insert(format!("{name}_p99_ms"), ((p99 * 10.0).round() / 10.0).into());
    }
    println!("{}", serde_json::Value::Object(figures));
    Ok(())
}
