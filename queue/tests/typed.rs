//! Typed jobs through a real worker: pushed as a type, handled as a type with shared
//! state and middleware around it, the result read back as a type; a payload that does
//! not fit the type fails permanently with serde's message.

mod common;

use common::{fast_options, setup, spawn_worker, wait_for_state};
use hoist_queue::{Handlers, JobContext, JobError, JobOptions, JobState, NewJob, Next, TypedJob};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::{Arc, Mutex};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct SyncAccount {
    account: u64,
    full: bool,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Synced {
    account: u64,
    transactions: u32,
    bank: String,
}

impl TypedJob for SyncAccount {
    const NAME: &'static str = "sync-account";
    type Output = Synced;

    fn options(&self) -> JobOptions {
        JobOptions { owner: Some(format!("account-{}", self.account)), max_attempts: 2, ..Default::default() }
    }
}

/// The application's state, shared by every handler.
struct Bank {
    name: String,
}

async fn sync_account(ctx: JobContext, job: SyncAccount) -> Result<Synced, JobError> {
    let bank: &Bank = ctx.state()?;
    Ok(Synced { account: job.account, transactions: if job.full { 90 } else { 7 }, bank: bank.name.clone() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_jobs_run_with_state_and_middleware_and_read_back_typed() {
    let s = setup().await;
    let seen = Arc::new(Mutex::new(vec![]));
    let log = seen.clone();
    let handlers = Handlers::new().with_state(Bank { name: "First Bank".into() }).job(sync_account).around(
        move |ctx: JobContext, next: Next| {
            let log = log.clone();
            async move {
                let name = ctx.job().name.clone();
                log.lock().unwrap().push(format!("before {name}"));
                let result = next.run(ctx).await;
                log.lock().unwrap().push(format!("after {name}: {}", if result.is_ok() { "ok" } else { "failed" }));
                result
            }
        },
    );
    let worker = spawn_worker(&s.queue, handlers, fast_options());

    let pushed = s.queue.push(&SyncAccount { account: 7, full: true }).await.unwrap();
    let done = wait_for_state(&s.queue, &pushed.id, JobState::Completed).await;
    assert_eq!(done.name, "sync-account");
    assert_eq!(done.owner.as_deref(), Some("account-7"), "the type's options");
    assert_eq!(done.max_attempts, 2);
    let output = done.output::<SyncAccount>().unwrap().unwrap();
    assert_eq!(output, Synced { account: 7, transactions: 90, bank: "First Bank".into() });

    // Bulk, and the same job enqueued as plain JSON (another language, the REST API).
    let bulk = s.queue.push_bulk(&[SyncAccount { account: 8, full: false }, SyncAccount { account: 9, full: false }]);
    let bulk = bulk.await.unwrap();
    let plain = s.queue.enqueue(NewJob::new("sync-account", json!({ "account": 10, "full": false }))).await.unwrap();
    for id in bulk.iter().map(|e| &e.id).chain([&plain.id]) {
        let job = wait_for_state(&s.queue, id, JobState::Completed).await;
        assert_eq!(job.output::<SyncAccount>().unwrap().unwrap().transactions, 7);
    }

    // A payload that is not a SyncAccount: dead at once, with serde's reason.
    let bad = s.queue.enqueue(NewJob::new("sync-account", json!({ "account": "seven" }))).await.unwrap();
    let dead = wait_for_state(&s.queue, &bad.id, JobState::Dead).await;
    assert_eq!(dead.attempts, 1, "not retried");
    let error = dead.last_error.unwrap().message;
    assert!(error.contains("the payload of sync-account does not deserialize"), "{error}");
    assert!(error.contains("invalid type: string \"seven\""), "{error}");

    let log = seen.lock().unwrap().clone();
    assert_eq!(log.iter().filter(|l| l.starts_with("before")).count(), 5);
    assert!(log.contains(&"after sync-account: failed".to_string()), "middleware sees failures: {log:?}");
    worker.stop().await;
}

/// A handler that asks for state nobody gave fails permanently, naming the type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_state_is_a_permanent_failure() {
    let s = setup().await;
    let worker = spawn_worker(&s.queue, Handlers::new().job(sync_account), fast_options());
    let pushed = s.queue.push(&SyncAccount { account: 1, full: false }).await.unwrap();
    let dead = wait_for_state(&s.queue, &pushed.id, JobState::Dead).await;
    let error = dead.last_error.unwrap().message;
    assert!(error.contains("no state of type") && error.contains("Bank"), "{error}");
    worker.stop().await;
}

/// `run_until_idle` works a queue until nothing is due, follow-up jobs included, and
/// leaves what is not due yet (a delayed job) waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_until_idle_drains_what_is_due() {
    let s = setup().await;
    let handlers =
        Handlers::new().with_state(Bank { name: "b".into() }).job(|ctx: JobContext, job: SyncAccount| async move {
            // A full sync asks for a quick one afterwards.
            if job.full {
                ctx.queue().push(&SyncAccount { account: job.account, full: false }).await?;
            }
            sync_account(ctx, job).await
        });
    let jobs: Vec<SyncAccount> = (0..20).map(|i| SyncAccount { account: i, full: i % 2 == 0 }).collect();
    s.queue.push_bulk(&jobs).await.unwrap();
    let later = JobOptions { delay: Some(std::time::Duration::from_secs(3600)), ..Default::default() };
    let delayed = NewJob::typed(&SyncAccount { account: 99, full: false }).unwrap().with_options(later);
    s.queue.enqueue(delayed).await.unwrap();
    hoist_queue::Worker::new(s.queue.clone(), handlers, fast_options()).run_until_idle().await.unwrap();
    let counts = s.queue.counts().await.unwrap();
    assert_eq!((counts.completed, counts.waiting, counts.active, counts.delayed), (30, 0, 0, 1));
}

/// A handler's unit test as a user writes it: a context for a job of a test queue, the
/// handler function called directly, its output and what it reported checked.
#[tokio::test]
async fn a_handler_runs_inline_on_a_test_context() {
    let s = setup().await;
    assert!(JobContext::claim_for_test(&s.queue).await.unwrap().is_none(), "nothing to claim yet");
    let pushed = s.queue.push(&SyncAccount { account: 3, full: true }).await.unwrap();
    let ctx =
        JobContext::claim_for_test(&s.queue).await.unwrap().unwrap().with_state(Bank { name: "Test Bank".into() });
    assert_eq!(ctx.job().id, pushed.id);
    ctx.progress(hoist_queue::Progress::stage("fetching").percent(50.0)).await.unwrap();
    ctx.log("started").await.unwrap();
    let job: SyncAccount = ctx.payload().unwrap();
    let output = sync_account(ctx, job).await.unwrap();
    assert_eq!(output, Synced { account: 3, transactions: 90, bank: "Test Bank".into() });
    let stored = s.queue.get_job(&pushed.id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Active);
    assert_eq!(stored.progress.unwrap().percent, Some(50.0));
    assert_eq!(stored.logs, ["started"]);
}
