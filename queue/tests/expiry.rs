//! Expiry: a job enqueued with `expires_in` that has not started by then ends expired (its
//! own state, counted and listed) and never runs; one that started in time is not held to
//! it; an expired job can be retried; bad deadlines are refused before anything is written.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, fast_options, setup, spawn_worker, wait_for_state};
use hoist_queue::{JobOptions, JobState, NewJob, handler_fn};
use serde_json::json;

fn expiring(name: &str, within_ms: u64, delay_ms: Option<u64>) -> NewJob {
    NewJob::new(name, json!({})).with_options(JobOptions {
        expires_in: Some(Duration::from_millis(within_ms)),
        delay: delay_ms.map(Duration::from_millis),
        ..Default::default()
    })
}

#[tokio::test]
async fn jobs_not_started_by_their_deadline_expire_and_never_run() {
    let s = setup().await;
    s.queue.pause().await.unwrap();
    let late_waiting = s.queue.enqueue(expiring("late-waiting", 300, None)).await.unwrap().id;
    let late_delayed = s.queue.enqueue(expiring("late-delayed", 400, Some(200))).await.unwrap().id;
    let in_time = s.queue.enqueue(expiring("in-time", 60_000, None)).await.unwrap().id;
    let plain = s.queue.enqueue(NewJob::new("plain", json!({}))).await.unwrap().id;
    let waiting = s.queue.get_job(&late_waiting).await.unwrap().unwrap();
    let deadline = waiting.expires_at.expect("the deadline is kept on the job");
    assert_eq!(deadline - waiting.created_at, 300);

    let ran = Arc::new(Mutex::new(HashSet::new()));
    let worker = spawn_worker(
        &s.queue,
        handler_fn({
            let ran = ran.clone();
            move |ctx| {
                ran.lock().unwrap().insert(ctx.job().id.clone());
                async { Ok(json!(null)) }
            }
        }),
        fast_options(),
    );
    // Paused past both deadlines: the worker's sweep ends them as expired while it waits.
    let expired = eventually("the two late jobs to expire", Duration::from_secs(10), || async {
        let counts = s.queue.counts().await.unwrap();
        (counts.expired == 2).then_some(counts)
    })
    .await;
    assert_eq!((expired.waiting, expired.delayed), (2, 0));
    s.queue.resume().await.unwrap();
    wait_for_state(&s.queue, &in_time, JobState::Completed).await;
    wait_for_state(&s.queue, &plain, JobState::Completed).await;
    for id in [&late_waiting, &late_delayed] {
        let job = s.queue.get_job(id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Expired);
        assert!(job.finished_at.is_some_and(|at| at >= job.expires_at.unwrap()), "{job:?}");
        assert_eq!((job.attempts, job.started_at), (0, None), "an expired job never started");
    }
    assert_eq!(*ran.lock().unwrap(), HashSet::from([in_time.clone(), plain.clone()]));
    let listed: HashSet<String> =
        s.queue.list_jobs(JobState::Expired, 0, 10).await.unwrap().jobs.into_iter().map(|j| j.id).collect();
    assert_eq!(listed, HashSet::from([late_waiting.clone(), late_delayed.clone()]));

    // Finished: it cannot be cancelled; it can be removed, and cleaned by age.
    let refused = s.queue.cancel(&late_delayed).await.expect_err("an expired job is finished");
    assert!(refused.to_string().contains("expired"), "{refused}");

    // Retried by hand, an expired job runs (its deadline was for its first start).
    s.queue.retry_job(&late_waiting).await.unwrap();
    wait_for_state(&s.queue, &late_waiting, JobState::Completed).await;
    assert!(ran.lock().unwrap().contains(&late_waiting));
    assert_eq!(s.queue.clean(JobState::Expired, Duration::ZERO).await.unwrap(), 1);
    assert!(s.queue.get_job(&late_delayed).await.unwrap().is_none());
    assert_eq!(s.queue.counts().await.unwrap().expired, 0);
    worker.stop().await;
}

#[tokio::test]
async fn an_expired_job_can_be_removed() {
    let s = setup().await;
    s.queue.pause().await.unwrap();
    let id = s.queue.enqueue(expiring("late", 20, None)).await.unwrap().id;
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.queue.recover_stalled().await.unwrap();
    assert_eq!(s.queue.get_job(&id).await.unwrap().unwrap().state, JobState::Expired);
    s.queue.remove(&id).await.unwrap();
    assert!(s.queue.get_job(&id).await.unwrap().is_none());
    assert_eq!(s.queue.counts().await.unwrap().expired, 0);
}

#[tokio::test]
async fn a_worker_claiming_skips_and_expires_an_overdue_job() {
    let s = setup().await;
    let late = s.queue.enqueue(expiring("late", 50, None)).await.unwrap().id;
    let next = s.queue.enqueue(NewJob::new("next", json!({}))).await.unwrap().id;
    tokio::time::sleep(Duration::from_millis(120)).await;
    // The claim itself ends the overdue job, then takes the next one.
    let worker = spawn_worker(&s.queue, handler_fn(|_| async { Ok(json!(null)) }), fast_options());
    wait_for_state(&s.queue, &next, JobState::Completed).await;
    assert_eq!(s.queue.get_job(&late).await.unwrap().unwrap().state, JobState::Expired);
    worker.stop().await;
}

#[tokio::test]
async fn bad_deadlines_are_refused_before_anything_is_written() {
    let s = setup().await;
    for (job, why) in [
        (expiring("zero", 0, None), "zero"),
        (expiring("not-after-delay", 1_000, Some(1_000)), "not longer than the delay"),
        (expiring("too-long", 366 * 24 * 3_600_000, None), "over 365 days"),
    ] {
        let refused = s.queue.enqueue(job).await.expect_err(why);
        assert!(refused.to_string().contains("expires_in"), "{why}: {refused}");
    }
    let counts = s.queue.counts().await.unwrap();
    assert_eq!(counts.waiting + counts.delayed, 0);
}
