//! The demo processor: a job that walks through the stages of a provider sync with
//! progress, so a fresh dashboard has something alive to show (`hoist serve --demo`).

use std::time::Duration;

use hoist_queue::{JobContext, JobError, JobResult, Progress, handler_fn};
use serde::Deserialize;
use serde_json::json;

use super::Registry;

pub const QUEUE: &str = "demo";
pub const JOB: &str = "demo-sync";

#[derive(Deserialize)]
struct DemoPayload {
    /// How long the whole job takes.
    #[serde(default = "default_ms")]
    duration_ms: u64,
    /// Fail (retryably) on the first attempt, to show retries.
    #[serde(default)]
    fail_first_attempt: bool,
}

fn default_ms() -> u64 {
    3000
}

pub fn register(registry: &mut Registry) {
    registry.register(QUEUE, JOB, handler_fn(run));
}

async fn run(ctx: JobContext) -> JobResult {
    let payload: DemoPayload = ctx.payload()?;
    if payload.duration_ms > 600_000 {
        return Err(JobError::permanent("duration_ms must be at most 600000"));
    }
    let stages = ["starting", "syncing_accounts", "syncing_transactions", "finalizing"];
    let step = Duration::from_millis(payload.duration_ms / stages.len() as u64);
    for (i, stage) in stages.iter().enumerate() {
        let percent = (i * 100 / stages.len()) as f64;
        let remaining = step * (stages.len() - i) as u32;
        ctx.progress(Progress::stage(*stage).percent(percent).counter("step", i as i64 + 1).eta(remaining)).await?;
        if payload.fail_first_attempt && ctx.job().attempts == 1 && i == 2 {
            return Err(JobError::retryable("demo provider answered 503 (first attempt fails on purpose)"));
        }
        tokio::select! {
            _ = tokio::time::sleep(step) => {}
            _ = ctx.cancellation().cancelled() => return Err(JobError::retryable("cancelled")),
        }
    }
    ctx.progress(Progress::stage("completed").percent(100.0)).await?;
    tracing::info!(accounts = 3, transactions = 42, "demo sync finished");
    Ok(json!({ "accounts": 3, "transactions": 42 }))
}

/// The demo workload of `hoist serve --demo`: a `demo-sync` job every 10 s, every third
/// one failing its first attempt so retries show.
pub async fn declare_schedule(redis: &hoist_queue::RedisConnection) -> anyhow::Result<()> {
    let job = hoist_queue::NewJob::new(JOB, json!({ "duration_ms": 4000, "fail_first_attempt": false }));
    let mut spec = hoist_queue::ScheduleSpec::new("demo-sync", "*/10 * * * * *", QUEUE, job.clone());
    spec.fan_out = vec![
        json!({ "connection": "demo-bank-1" }),
        json!({ "connection": "demo-bank-2" }),
        json!({ "connection": "demo-bank-3", "fail_first_attempt": true }),
    ];
    spec.stagger = Some(Duration::from_secs(1));
    hoist_queue::Scheduler::new(redis).upsert(&spec).await?;
    Ok(())
}
