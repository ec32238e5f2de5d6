//! The smallest useful Hoist program: enqueue a few jobs, work them until the queue is
//! idle, print what they returned.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run -p hoist-queue --example minimal_worker
//! ```

use hoist_queue::{Handlers, NewJob, Queue, RedisConnection, Worker, WorkerOptions, handler_fn};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let redis = RedisConnection::connect(&url).await?;
    let emails = Queue::new(&redis, "example-emails")?;

    let mut ids = vec![];
    for to in ["ada@example.com", "grace@example.com", "edsger@example.com"] {
        ids.push(emails.enqueue(NewJob::new("welcome", json!({ "to": to }))).await?.id);
    }

    let handlers = Handlers::new().on(
        "welcome",
        handler_fn(|ctx| async move {
            let to = ctx.job().payload["to"].as_str().unwrap_or_default().to_string();
            Ok(json!({ "sent_to": to }))
        }),
    );
    Worker::new(emails.clone(), handlers, WorkerOptions::default()).run_until_idle().await?;

    for id in ids {
        let job = emails.get_job(&id).await?.expect("kept by retention");
        println!("{id} {}: {}", job.state, job.result.unwrap_or_default());
    }
    Ok(())
}
