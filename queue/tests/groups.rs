//! Fair groups: jobs of a queue that has groups are served one group at a time in turn, so
//! one group's backlog does not hold back another's jobs; the queue's group cap bounds each
//! group's active jobs and a change to it is obeyed at once; jobs without a group, and
//! those waiting from before the queue had groups, take turns too; bad groups are refused.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, fast_options, setup, spawn_worker, wait_for_state};
use hoist_queue::{JobOptions, JobState, NewJob, QueueError, QueueLimits, WorkerOptions, handler_fn};
use serde_json::json;
use tokio::sync::Notify;

fn of_group(group: Option<&str>, n: usize) -> Vec<NewJob> {
    (0..n)
        .map(|i| {
            NewJob::new("tenant-work", json!({ "group": group, "i": i }))
                .with_options(JobOptions { group: group.map(str::to_string), ..Default::default() })
        })
        .collect()
}

/// The group each started job belongs to, in the order they started ("-" for none).
fn recording_handler(order: Arc<Mutex<Vec<String>>>) -> impl hoist_queue::Handler {
    handler_fn(move |ctx| {
        let group = ctx.job().group.clone().unwrap_or_else(|| "-".into());
        order.lock().unwrap().push(group);
        async { Ok(json!(null)) }
    })
}

/// Tenant A's `backlog` jobs, then B's 3, wait on a paused queue; one worker at
/// `concurrency` runs them all. Returns the order they started in (their groups), and
/// B's first job as it completed (retention may drop it later).
async fn start_order_behind_a_backlog(
    s: &common::Setup,
    backlog: usize,
    concurrency: usize,
) -> (Vec<String>, hoist_queue::Job) {
    s.queue.pause().await.unwrap();
    s.queue.enqueue_bulk(of_group(Some("tenant-a"), backlog)).await.unwrap();
    let b = s.queue.enqueue_bulk(of_group(Some("tenant-b"), 3)).await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let worker =
        spawn_worker(&s.queue, recording_handler(order.clone()), WorkerOptions { concurrency, ..fast_options() });
    s.queue.resume().await.unwrap();
    for job in &b {
        wait_for_state(&s.queue, &job.id, JobState::Completed).await;
    }
    let b_job = s.queue.get_job(&b[0].id).await.unwrap().unwrap();
    eventually("the backlog done", Duration::from_secs(60), || {
        let done = order.lock().unwrap().len() == backlog + 3;
        async move { done.then_some(()) }
    })
    .await;
    worker.stop().await;
    let order = order.lock().unwrap().clone();
    (order, b_job)
}

fn b_starts(order: &[String]) -> Vec<usize> {
    order.iter().enumerate().filter(|(_, g)| *g == "tenant-b").map(|(i, _)| i).collect()
}

#[tokio::test]
async fn a_groups_few_jobs_start_between_another_groups_backlog() {
    let s = setup().await;
    let (order, job) = start_order_behind_a_backlog(&s, 2_000, 1).await;
    // Turn about: B's jobs are among the first six started, not behind A's 2,000.
    let b_starts = b_starts(&order);
    assert_eq!(b_starts.len(), 3, "{order:?}");
    assert!(b_starts.iter().all(|&i| i < 6), "B started at {b_starts:?} of {}", order.len());
    assert_eq!(job.group.as_deref(), Some("tenant-b"));
    assert_eq!(NewJob::like(&job).options.group.as_deref(), Some("tenant-b"), "a duplicate keeps the group");
}

/// A claim of many jobs gives each group with a turn its share of them: A's backlog and
/// B's few both start in a worker's first claim, and the only group left gets batches.
#[tokio::test]
async fn a_claim_of_many_jobs_shares_them_between_the_groups() {
    let s = setup().await;
    let (order, _) = start_order_behind_a_backlog(&s, 500, 20).await;
    let b_starts = b_starts(&order);
    assert!(b_starts.len() == 3 && b_starts.iter().all(|&i| i < 20), "B started at {b_starts:?}");
}

#[tokio::test]
async fn the_group_cap_bounds_each_groups_active_jobs_and_a_change_applies_at_once() {
    let s = setup().await;
    s.queue.set_limits(&QueueLimits { group_concurrency: Some(2), ..Default::default() }).await.unwrap();
    assert_eq!(s.queue.limits().await.unwrap().group_concurrency, Some(2));
    let running: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let peak: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let release = Arc::new(Notify::new());
    let handler = handler_fn({
        let (running, peak, release) = (running.clone(), peak.clone(), release.clone());
        move |ctx| {
            let group = ctx.job().group.clone().unwrap_or_else(|| "-".into());
            let (running, peak, release) = (running.clone(), peak.clone(), release.clone());
            async move {
                {
                    let mut now = running.lock().unwrap();
                    let n = now.entry(group.clone()).or_default();
                    *n += 1;
                    let mut top = peak.lock().unwrap();
                    let p = top.entry(group.clone()).or_default();
                    *p = (*p).max(*n);
                }
                release.notified().await;
                *running.lock().unwrap().get_mut(&group).unwrap() -= 1;
                Ok(json!(null))
            }
        }
    });
    let a = s.queue.enqueue_bulk(of_group(Some("tenant-a"), 10)).await.unwrap();
    let b = s.queue.enqueue_bulk(of_group(Some("tenant-b"), 3)).await.unwrap();
    let loose = s.queue.enqueue_bulk(of_group(None, 3)).await.unwrap();
    let worker = spawn_worker(&s.queue, handler, WorkerOptions { concurrency: 20, ..fast_options() });
    let active =
        |running: &Arc<Mutex<HashMap<String, usize>>>, g: &str| running.lock().unwrap().get(g).copied().unwrap_or(0);
    // Jobs without a group are not capped.
    eventually("two of each group and every job without one running", Duration::from_secs(10), || async {
        (active(&running, "tenant-a") == 2 && active(&running, "tenant-b") == 2 && active(&running, "-") == 3)
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        (active(&running, "tenant-a"), active(&running, "tenant-b")),
        (2, 2),
        "the cap holds with 13 free slots"
    );

    // Raised: the held-back groups take turns again at once.
    s.queue.set_limits(&QueueLimits { group_concurrency: Some(5), ..Default::default() }).await.unwrap();
    eventually("five of A and all of B running", Duration::from_secs(5), || async {
        (active(&running, "tenant-a") == 5 && active(&running, "tenant-b") == 3).then_some(())
    })
    .await;
    assert_eq!(s.queue.counts().await.unwrap().active, 5 + 3 + 3);

    // Done in waves: every job finishes, and no group ever ran more than its cap.
    for job in a.iter().chain(&b).chain(&loose) {
        loop {
            release.notify_waiters();
            let state = s.queue.get_job(&job.id).await.unwrap().unwrap().state;
            if state == JobState::Completed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    worker.stop().await;
    let peak = peak.lock().unwrap().clone();
    assert_eq!(peak.get("tenant-a"), Some(&5), "{peak:?}");
    assert_eq!(peak.get("tenant-b"), Some(&3), "{peak:?}");
}

#[tokio::test]
async fn jobs_waiting_before_the_first_group_and_jobs_without_one_take_turns() {
    let s = setup().await;
    s.queue.pause().await.unwrap();
    s.queue.enqueue_bulk(of_group(None, 50)).await.unwrap();
    let grouped = s.queue.enqueue_bulk(of_group(Some("late"), 2)).await.unwrap();
    // A delayed job of a group, and a retried one, join their group when they wait.
    let delayed = s
        .queue
        .enqueue(NewJob::new("later", json!({})).with_options(JobOptions {
            group: Some("late".into()),
            delay: Some(Duration::from_millis(200)),
            ..Default::default()
        }))
        .await
        .unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let worker =
        spawn_worker(&s.queue, recording_handler(order.clone()), WorkerOptions { concurrency: 1, ..fast_options() });
    s.queue.resume().await.unwrap();
    for job in grouped.iter().chain([&delayed]) {
        wait_for_state(&s.queue, &job.id, JobState::Completed).await;
    }
    eventually("every job to run", Duration::from_secs(10), || async {
        (s.queue.counts().await.unwrap().completed == 53).then_some(())
    })
    .await;
    worker.stop().await;
    let order = order.lock().unwrap().clone();
    let first_late: Vec<usize> =
        order.iter().enumerate().filter(|(_, g)| *g == "late").map(|(i, _)| i).take(2).collect();
    assert_eq!(first_late, vec![1, 3], "the 50 jobs without a group and the group alternate: {order:?}");
}

#[tokio::test]
async fn bad_groups_are_refused_naming_the_field() {
    let s = setup().await;
    for group in ["", "tab\there", &"g".repeat(201)] {
        let job =
            NewJob::new("x", json!({})).with_options(JobOptions { group: Some(group.into()), ..Default::default() });
        let err = s.queue.enqueue(job).await.unwrap_err();
        assert!(matches!(err, QueueError::InvalidOption { field: "group", .. }), "{group:?}: {err}");
    }
    // Any other text is a group, escaped into its key: braces cannot leave the queue's slot.
    let odd =
        NewJob::new("x", json!({})).with_options(JobOptions { group: Some("a b}{c".into()), ..Default::default() });
    let id = s.queue.enqueue(odd).await.unwrap().id;
    assert_eq!(s.queue.get_job(&id).await.unwrap().unwrap().group.as_deref(), Some("a b}{c"));
    assert_eq!(s.queue.counts().await.unwrap().waiting, 1);
}
