//! What the engine survives: a worker process dying mid-job, a hung worker, Redis being
//! killed and restarted underneath running workers.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{eventually, fast_options, spawn_worker, wait_for_state};
use hoist_queue::{
    CancelOutcome, CancellationToken, JobOptions, JobState, NewJob, Queue, RedisConnection, Worker, WorkerOptions,
    handler_fn,
};
use hoist_testkit::{RedisOptions, RedisServer};
use serde_json::json;

/// Runs a worker on a runtime of its own, on its own thread, so the test can "crash" it:
/// dropping the runtime kills every task at once, with no chance to clean up.
struct CrashableWorker {
    runtime: Option<tokio::runtime::Runtime>,
}

impl CrashableWorker {
    fn start(url: String, options: WorkerOptions, started: Arc<AtomicU32>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        runtime.spawn(async move {
            let redis = RedisConnection::connect(&url).await.unwrap();
            let queue = Queue::new(&redis, "tests").unwrap();
            let handler = handler_fn(move |_ctx| {
                let started = started.clone();
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    std::future::pending::<()>().await;
                    Ok(json!("unreachable"))
                }
            });
            Worker::new(queue, handler, options).run(CancellationToken::new()).await.unwrap();
        });
        CrashableWorker { runtime: Some(runtime) }
    }

    fn crash(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Not a test of its own: `a_worker_process_killed_mid_job_loses_nothing` runs this test
/// binary again as a child process with only this function, as a worker to SIGKILL.
#[test]
#[ignore = "the worker process of a_worker_process_killed_mid_job_loses_nothing"]
fn child_worker_process() {
    let url = std::env::var("HOIST_CHILD_REDIS_URL").expect("run by the parent test");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let redis = RedisConnection::connect(&url).await.unwrap();
        let queue = Queue::new(&redis, "tests").unwrap();
        let handler = handler_fn(|_ctx| async move {
            std::future::pending::<()>().await;
            Ok(json!("unreachable"))
        });
        let options = WorkerOptions { lease: Duration::from_millis(800), ..fast_options() };
        Worker::new(queue, handler, options).run(CancellationToken::new()).await.unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_killed_mid_job_loses_nothing() {
    let server = RedisServer::start();
    let redis = RedisConnection::connect(&server.url()).await.unwrap();
    let queue = Queue::new(&redis, "tests").unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["child_worker_process", "--exact", "--ignored", "--nocapture"])
        .env("HOIST_CHILD_REDIS_URL", server.url())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ids: Vec<String> = queue
        .enqueue_bulk((0..3).map(|i| NewJob::new("held", json!(i))).collect())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    eventually("the child holds all three", Duration::from_secs(30), || async {
        (queue.counts().await.unwrap().active == 3).then_some(())
    })
    .await;
    child.kill().unwrap(); // SIGKILL: no shutdown, no hand-back
    child.wait().unwrap();

    let survivor = spawn_worker(&queue, handler_fn(|_| async { Ok(json!("finished elsewhere")) }), fast_options());
    for id in &ids {
        let job = wait_for_state(&queue, id, JobState::Completed).await;
        assert_eq!(job.result, Some(json!("finished elsewhere")));
        assert_eq!(job.stalls, 1);
    }
    survivor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_workers_job_is_recovered_by_another() {
    let server = RedisServer::start();
    let redis = RedisConnection::connect(&server.url()).await.unwrap();
    let queue = Queue::new(&redis, "tests").unwrap();
    let lease = Duration::from_millis(600);

    let started = Arc::new(AtomicU32::new(0));
    let mut doomed = CrashableWorker::start(server.url(), WorkerOptions { lease, ..fast_options() }, started.clone());
    let e = queue.enqueue(NewJob::new("precious", json!({}))).await.unwrap();
    eventually("job picked up", Duration::from_secs(5), || async {
        (started.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    doomed.crash();
    assert_eq!(queue.get_job(&e.id).await.unwrap().unwrap().state, JobState::Active, "still held by the dead worker");

    let survivor = spawn_worker(
        &queue,
        handler_fn(|_| async { Ok(json!("recovered")) }),
        WorkerOptions { lease, ..fast_options() },
    );
    let job = wait_for_state(&queue, &e.id, JobState::Completed).await;
    assert_eq!(job.result, Some(json!("recovered")));
    assert_eq!(job.stalls, 1);
    assert_eq!(job.attempts, 2);
    assert_eq!(job.errors[0].kind, "stalled");
    survivor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_stalling_goes_to_the_dead_letter_queue() {
    let server = RedisServer::start();
    let redis = RedisConnection::connect(&server.url()).await.unwrap();
    let queue = Queue::new(&redis, "tests").unwrap();
    let options = WorkerOptions { lease: Duration::from_millis(400), ..fast_options() };
    let e = queue
        .enqueue(NewJob::new("poison", json!({})).with_options(JobOptions { max_stalls: 1, ..Default::default() }))
        .await
        .unwrap();
    for round in 1..=2u32 {
        let started = Arc::new(AtomicU32::new(0));
        let mut worker = CrashableWorker::start(server.url(), options.clone(), started.clone());
        eventually(&format!("pickup {round}"), Duration::from_secs(10), || async {
            (started.load(Ordering::SeqCst) == 1).then_some(())
        })
        .await;
        worker.crash();
    }
    // Nobody is left to sweep: any process may recover expired leases.
    let dead = eventually("stalled twice -> dead", Duration::from_secs(10), || async {
        queue.recover_stalled().await.unwrap();
        queue.get_job(&e.id).await.unwrap().filter(|j| j.state == JobState::Dead)
    })
    .await;
    assert_eq!(dead.stalls, 2);
    let totals = queue.totals().await.unwrap();
    assert_eq!((totals.stalled, totals.dead, totals.failed), (2, 1, 0), "stalls are counted apart: {totals:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_carry_on_after_redis_is_killed_and_restarted() {
    let mut server =
        RedisServer::start_with(RedisOptions { append_only: true, fsync_always: true, ..Default::default() });
    let redis = RedisConnection::connect(&server.url()).await.unwrap();
    let queue = Queue::new(&redis, "tests").unwrap();
    let done = Arc::new(AtomicU32::new(0));
    let counter = done.clone();
    let worker = spawn_worker(
        &queue,
        handler_fn(move |_| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(json!(null))
            }
        }),
        fast_options(),
    );
    let first = queue.enqueue(NewJob::new("before", json!({}))).await.unwrap();
    wait_for_state(&queue, &first.id, JobState::Completed).await;

    // SIGKILL: scripts are gone from the restarted server (NOSCRIPT), connections drop,
    // the parked blocking read dies with its socket.
    server.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.restart();

    let after = eventually("enqueue works again", Duration::from_secs(15), || async {
        queue.enqueue(NewJob::new("after", json!({}))).await.ok()
    })
    .await;
    wait_for_state(&queue, &after.id, JobState::Completed).await;
    assert_eq!(queue.get_job(&first.id).await.unwrap().unwrap().state, JobState::Completed, "AOF kept it");

    // And a graceful restart.
    server.stop();
    server.restart();
    let third = eventually("enqueue after graceful restart", Duration::from_secs(15), || async {
        queue.enqueue(NewJob::new("third", json!({}))).await.ok()
    })
    .await;
    wait_for_state(&queue, &third.id, JobState::Completed).await;
    assert_eq!(done.load(Ordering::SeqCst), 3);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_from_a_worker_that_lost_its_lease_is_discarded() {
    let server = RedisServer::start();
    let redis = RedisConnection::connect(&server.url()).await.unwrap();
    let queue = Queue::new(&redis, "tests").unwrap();
    // A worker whose lease is tiny and whose handler blocks the lease keeper's view: we
    // simulate a hung process by expiring the lease by hand through recovery.
    let release = Arc::new(tokio::sync::Notify::new());
    let gate = release.clone();
    let worker = spawn_worker(
        &queue,
        handler_fn(move |ctx| {
            let gate = gate.clone();
            async move {
                if ctx.job().attempts == 1 {
                    gate.notified().await;
                    Ok(json!("stale"))
                } else {
                    Ok(json!("fresh"))
                }
            }
        }),
        WorkerOptions { lease: Duration::from_secs(60), ..fast_options() },
    );
    let e = queue.enqueue(NewJob::new("contested", json!({}))).await.unwrap();
    wait_for_state(&queue, &e.id, JobState::Active).await;
    // Another process decides the lease is gone (as if the worker hung past it). The
    // worker's lease keeper may renew the deadline in between, so until the recovery
    // took (by this call or by the worker's own sweeper), expire it again.
    eventually("the lapsed lease to be recovered", Duration::from_secs(10), || async {
        server.command(&["ZADD", "hoist:{tests}:active", "XX", "0", &e.id]).unwrap();
        queue.recover_stalled().await.unwrap();
        queue.get_job(&e.id).await.unwrap().filter(|j| j.stalls >= 1)
    })
    .await;
    let job = eventually("second attempt completes", Duration::from_secs(10), || async {
        queue.get_job(&e.id).await.unwrap().filter(|j| j.state == JobState::Completed)
    })
    .await;
    assert_eq!(job.result, Some(json!("fresh")));
    release.notify_waiters();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let job = queue.get_job(&e.id).await.unwrap().unwrap();
    assert_eq!(job.result, Some(json!("fresh")), "the stale attempt's result never overwrites");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stops_even_when_redis_is_gone() {
    let mut server = RedisServer::start();
    let redis = RedisConnection::connect(&server.url()).await.unwrap();
    let queue = Queue::new(&redis, "tests").unwrap();
    let worker = spawn_worker(
        &queue,
        handler_fn(|_| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(json!("done"))
        }),
        WorkerOptions {
            shutdown_grace: Duration::from_secs(1),
            cancel_grace: Duration::from_millis(200),
            ..fast_options()
        },
    );
    let e = queue.enqueue(NewJob::new("last-words", json!({}))).await.unwrap();
    wait_for_state(&queue, &e.id, JobState::Active).await;
    server.kill();
    // The outcome cannot be written; the worker must still stop (within the helper's 20 s).
    let started = std::time::Instant::now();
    worker.stop().await;
    assert!(started.elapsed() < Duration::from_secs(15), "stopped after {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_job_whose_cancellation_was_asked_ends_cancelled() {
    let server = RedisServer::start();
    let redis = RedisConnection::connect(&server.url()).await.unwrap();
    let queue = Queue::new(&redis, "tests").unwrap();
    // A worker that dies (its task is dropped) while the job runs: nobody will stop the
    // handler or renew the lease.
    let worker = Worker::new(
        queue.clone(),
        handler_fn(|_| async {
            tokio::time::sleep(Duration::from_secs(600)).await;
            Ok(json!(null))
        }),
        fast_options(),
    );
    let task = tokio::spawn(worker.run(CancellationToken::new()));
    let e = queue.enqueue(NewJob::new("doomed", json!({}))).await.unwrap();
    wait_for_state(&queue, &e.id, JobState::Active).await;
    task.abort();
    let _ = task.await;
    // Its lease keeper is aborted at its next step; a lease renewal already on the wire
    // must land before the lease is made to run out below (another connection).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(queue.cancel(&e.id).await.unwrap(), CancelOutcome::Requested);
    server.command(&["ZADD", "hoist:{tests}:active", "XX", "0", &e.id]).unwrap();
    queue.recover_stalled().await.unwrap();
    let job = queue.get_job(&e.id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Cancelled, "asked to stop and no longer running: it ends, it is not run again");
    assert!(!job.cancel_requested);
    assert_eq!(queue.counts().await.unwrap().active, 0);
    let kinds: Vec<String> = queue.read_events(None, 100).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds.last().map(String::as_str), Some("cancelled"), "{kinds:?}");
}
