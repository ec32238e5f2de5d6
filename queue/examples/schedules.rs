//! A cron schedule and the worker for the jobs it enqueues: every tick fires once however
//! many processes run a scheduler. Runs until Ctrl-C.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run -p hoist-queue --example schedules
//! ```

use hoist_queue::{
    CancellationToken, Handlers, NewJob, Queue, RedisConnection, ScheduleSpec, Scheduler, Worker, WorkerOptions,
    handler_fn,
};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let redis = RedisConnection::connect(&url).await?;
    let reports = Queue::new(&redis, "example-reports")?;

    // Every 2 seconds (six fields: seconds first), in UTC; declaring it again updates it.
    let mut spec =
        ScheduleSpec::new("example-report", "*/2 * * * * *", "example-reports", NewJob::new("report", json!({})));
    spec.timezone = "UTC".into();
    Scheduler::new(&redis).upsert(&spec).await?;

    let handlers = Handlers::new().on(
        "report",
        handler_fn(|ctx| async move {
            println!("report {} ran", ctx.job().id);
            Ok(json!({ "rows": 42 }))
        }),
    );
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    let scheduler = tokio::spawn(Scheduler::new(&redis).run(shutdown.clone()));
    Worker::new(reports, handlers, WorkerOptions::default()).run(shutdown).await?;
    scheduler.await??;
    Ok(())
}
