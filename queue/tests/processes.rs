//! The process registry: a process reports its workers and running jobs, is quieted and
//! stopped through Redis, shows as gone when its check-ins lapse; and a queue's
//! per-process concurrency reaches a running worker live.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{eventually, fast_options, setup};
use hoist_queue::{
    CancellationToken, NewJob, Process, ProcessCommand, ProcessInfo, ProcessOptions, ProcessRegistry, ProcessState,
    Queue, QueueLimits, Worker, WorkerOptions, handler_fn,
};
use serde_json::json;
use tokio::sync::Semaphore;

/// A handler that runs until the test lets it finish: each job takes one permit.
fn gated(gate: Arc<Semaphore>) -> impl hoist_queue::Handler {
    handler_fn(move |_ctx| {
        let gate = gate.clone();
        async move {
            gate.acquire().await.expect("gate").forget();
            Ok(json!(null))
        }
    })
}

async fn find(registry: &ProcessRegistry, id: &str) -> Option<ProcessInfo> {
    registry.list().await.unwrap().into_iter().find(|p| p.id == id)
}

async fn enqueue(queue: &Queue, n: usize) {
    for i in 0..n {
        queue.enqueue(NewJob::new("slow", json!({ "i": i }))).await.unwrap();
    }
}

#[tokio::test]
async fn a_process_reports_its_work_and_obeys_quiet_and_stop_sent_through_redis() {
    let s = setup().await;
    let gate = Arc::new(Semaphore::new(0));
    let worker = Worker::new(s.queue.clone(), gated(gate.clone()), WorkerOptions { concurrency: 3, ..fast_options() });
    let process =
        Process::new(&s.redis, ProcessOptions { kind: "test".into(), version: "9.9.9".into(), id: None }).unwrap();
    process.add_worker(s.queue.name(), worker.status());
    process.set_runs_scheduler(true);
    let shutdown = CancellationToken::new();
    let worker_task = tokio::spawn(worker.run(shutdown.clone()));
    let process_stop = CancellationToken::new();
    let process_task = tokio::spawn({
        let (process, stop) = (process.clone(), process_stop.clone());
        async move { process.run(stop).await }
    });
    enqueue(&s.queue, 5).await;

    let registry = ProcessRegistry::new(&s.redis);
    let seen = eventually("the process to report three running jobs", Duration::from_secs(15), || async {
        find(&registry, process.id()).await.filter(|p| p.running == 3 && p.jobs.len() == 3)
    })
    .await;
    assert_eq!((seen.kind.as_str(), seen.version.as_str(), seen.pid), ("test", "9.9.9", std::process::id()));
    assert_eq!(seen.state, ProcessState::Running);
    assert!(!seen.gone && seen.scheduler);
    assert!(seen.started_at <= seen.last_seen);
    let queue = &seen.queues[0];
    assert_eq!(
        (queue.queue.as_str(), queue.concurrency, queue.configured_concurrency, queue.running),
        (s.queue.name(), 3, 3, 3)
    );
    assert!(queue.accepting);
    assert!(seen.jobs.iter().all(|j| j.name == "slow" && j.queue == s.queue.name() && j.started_at.is_some()));

    // Quiet: reported at once; the running jobs finish, the waiting ones stay.
    assert!(registry.send(process.id(), ProcessCommand::Quiet).await.unwrap());
    eventually("the process to report quiet", Duration::from_secs(5), || async {
        find(&registry, process.id()).await.filter(|p| p.state == ProcessState::Quiet && !p.queues[0].accepting)
    })
    .await;
    gate.add_permits(5);
    eventually("the three running jobs to complete", Duration::from_secs(10), || async {
        let counts = s.queue.counts().await.unwrap();
        (counts.completed == 3 && counts.active == 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let counts = s.queue.counts().await.unwrap();
    assert_eq!((counts.waiting, counts.active, counts.completed), (2, 0, 3), "a quiet process took new jobs");

    // Stop: the owner hears it and shuts down; the last check-in says stopped.
    assert!(registry.send(process.id(), ProcessCommand::Stop).await.unwrap());
    tokio::time::timeout(Duration::from_secs(5), process.stop_requested()).await.expect("stop heard");
    eventually("the process to report stopping", Duration::from_secs(5), || async {
        find(&registry, process.id()).await.filter(|p| p.state == ProcessState::Stopping)
    })
    .await;
    shutdown.cancel();
    worker_task.await.unwrap().unwrap();
    process_stop.cancel();
    process_task.await.unwrap().unwrap();
    let last = find(&registry, process.id()).await.expect("still listed");
    assert_eq!(last.state, ProcessState::Stopped);
    assert!(!last.gone, "a process that stopped cleanly is not gone");
    // Unknown ids and ids with spaces are refused.
    assert!(!registry.send("no-such-process", ProcessCommand::Quiet).await.unwrap());
    assert!(registry.send("has space", ProcessCommand::Quiet).await.is_err());
}

#[tokio::test]
async fn a_process_whose_check_ins_lapse_is_shown_as_gone() {
    let s = setup().await;
    let process = Process::new(&s.redis, ProcessOptions::default()).unwrap();
    let task = tokio::spawn({
        let process = process.clone();
        async move { process.run(CancellationToken::new()).await }
    });
    let registry = ProcessRegistry::new(&s.redis);
    eventually("the process to check in", Duration::from_secs(5), || async { find(&registry, process.id()).await })
        .await;
    // A crash: no last check-in.
    task.abort();
    let gone = eventually("the process to be shown as gone", Duration::from_secs(35), || async {
        find(&registry, process.id()).await.filter(|p| p.gone)
    })
    .await;
    assert_eq!(gone.state, ProcessState::Running, "it said it was running when last heard");
}

#[tokio::test]
async fn per_process_concurrency_set_on_the_queue_reaches_a_running_worker_at_once() {
    let s = setup().await;
    let gate = Arc::new(Semaphore::new(0));
    let worker = Worker::new(s.queue.clone(), gated(gate.clone()), WorkerOptions { concurrency: 2, ..fast_options() });
    let status = worker.status();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(worker.run(shutdown.clone()));
    enqueue(&s.queue, 12).await;
    let active = |n: u64| {
        let queue = s.queue.clone();
        move || {
            let queue = queue.clone();
            async move { (queue.counts().await.unwrap().active == n).then_some(()) }
        }
    };
    eventually("two running", Duration::from_secs(10), active(2)).await;

    // Raised to 5: the worker, full and waiting, starts three more within a second.
    let raised = tokio::time::Instant::now();
    let limits = QueueLimits { process_concurrency: Some(5), ..Default::default() };
    s.queue.set_limits(&limits).await.unwrap();
    eventually("five running", Duration::from_secs(1), active(5)).await;
    eprintln!("per-process concurrency 2 -> 5 applied in {:?}", raised.elapsed());
    assert_eq!((status.concurrency(), status.configured_concurrency()), (5, 2));

    // Lowered to 1: running jobs finish, and no more than one runs after.
    s.queue.set_limits(&QueueLimits { process_concurrency: Some(1), ..Default::default() }).await.unwrap();
    eventually("the worker to apply 1", Duration::from_secs(1), || async { (status.concurrency() == 1).then_some(()) })
        .await;
    gate.add_permits(5);
    eventually("one running", Duration::from_secs(10), active(1)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.queue.counts().await.unwrap().active, 1);

    // Removed: back to the worker's own 2.
    s.queue.set_limits(&QueueLimits::default()).await.unwrap();
    eventually("two running again", Duration::from_secs(1), active(2)).await;
    assert_eq!(status.concurrency(), 2);
    assert_eq!(s.queue.limits().await.unwrap().process_concurrency, None);

    // Out of range is refused, naming the field.
    let refused = s.queue.set_limits(&QueueLimits { process_concurrency: Some(10_001), ..Default::default() }).await;
    assert!(refused.unwrap_err().to_string().contains("process_concurrency"));
    gate.add_permits(100);
    shutdown.cancel();
    task.await.unwrap().unwrap();
    let counts = s.queue.counts().await.unwrap();
    assert_eq!((counts.waiting + counts.completed, counts.active), (12, 0));
}

#[tokio::test]
async fn a_worker_started_after_the_limit_was_set_obeys_it_from_its_first_claim() {
    let s = setup().await;
    s.queue.set_limits(&QueueLimits { process_concurrency: Some(1), ..Default::default() }).await.unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let worker = Worker::new(s.queue.clone(), gated(gate.clone()), WorkerOptions { concurrency: 4, ..fast_options() });
    enqueue(&s.queue, 4).await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(worker.run(shutdown.clone()));
    eventually("one running", Duration::from_secs(10), || async {
        (s.queue.counts().await.unwrap().active == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.queue.counts().await.unwrap().active, 1, "more than the per-process limit ran");
    gate.add_permits(10);
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_command_for_an_earlier_run_is_not_obeyed_by_the_next_run_under_the_same_id() {
    let s = setup().await;
    let options = || ProcessOptions { id: Some("pod-7".into()), ..ProcessOptions::default() };
    let registry = ProcessRegistry::new(&s.redis);
    let first = Process::new(&s.redis, options()).unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (process, stop) = (first.clone(), stop.clone());
        async move { process.run(stop).await }
    });
    eventually("the first run to check in", Duration::from_secs(5), || async { find(&registry, "pod-7").await }).await;
    assert!(registry.send("pod-7", ProcessCommand::Stop).await.unwrap());
    tokio::time::timeout(Duration::from_secs(5), first.stop_requested()).await.expect("stop heard");
    stop.cancel();
    task.await.unwrap().unwrap();

    // The pod restarts under its name: the old Stop is not for it.
    let second = Process::new(&s.redis, options()).unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (process, stop) = (second.clone(), stop.clone());
        async move { process.run(stop).await }
    });
    eventually("the second run to check in", Duration::from_secs(5), || async {
        find(&registry, "pod-7").await.filter(|p| p.state == ProcessState::Running)
    })
    .await;
    let stopped = tokio::time::timeout(Duration::from_millis(1500), second.stop_requested()).await;
    assert!(stopped.is_err(), "the restarted process obeyed its predecessor's Stop");
    assert!(!second.is_quiet());
    stop.cancel();
    task.await.unwrap().unwrap();
}
