//! Workers against a real Redis: completion, retries, dead letters, panics, timeouts,
//! cancellation, priorities, progress, pause, shutdown.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, fast_options, setup, spawn_worker, wait_for_state};
use futures::StreamExt;
use hoist_queue::{
    Backoff, CancelOutcome, JobError, JobOptions, JobState, NewJob, Progress, QueueError, WorkerOptions, handler_fn,
};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_wait_out_their_backoff() {
    let s = setup().await;
    let worker = spawn_worker(
        &s.queue,
        handler_fn(|_| async { Err::<serde_json::Value, _>(JobError::retryable("try later")) }),
        fast_options(),
    );
    let options = JobOptions {
        max_attempts: 4,
        backoff: Backoff::Exponential {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(300),
            jitter: 0.0,
        },
        ..Default::default()
    };
    let e = s.queue.enqueue(NewJob::new("backoff", json!({})).with_options(options)).await.unwrap();
    let job = wait_for_state(&s.queue, &e.id, JobState::Dead).await;
    let at: Vec<i64> = job.errors.iter().map(|r| r.at).collect();
    let gaps: Vec<i64> = at.windows(2).map(|w| w[1] - w[0]).collect();
    // 100, 200, then capped at 300 ms: never earlier, and not much later either.
    for (gap, want) in gaps.iter().zip([100, 200, 300]) {
        assert!(*gap >= want, "retried after {gap} ms, backoff was {want} ms ({gaps:?})");
        assert!(*gap < want + 1000, "retried after {gap} ms, backoff was {want} ms ({gaps:?})");
    }
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_all_and_clean_by_state_and_age() {
    let s = setup().await;
    // The first run of each failing job fails for good; a requeued run succeeds.
    let failures = Arc::new(AtomicU32::new(0));
    let worker = spawn_worker(
        &s.queue,
        handler_fn(move |ctx| {
            let failures = failures.clone();
            async move {
                if ctx.job().payload["fail"].as_bool() == Some(true) && failures.fetch_add(1, Ordering::SeqCst) < 5 {
                    return Err(JobError::permanent("first time fails"));
                }
                Ok(json!("ok"))
            }
        }),
        fast_options(),
    );
    let failing: Vec<NewJob> = (0..5).map(|_| NewJob::new("f", json!({ "fail": true }))).collect();
    s.queue.enqueue_bulk(failing).await.unwrap();
    s.queue.enqueue_bulk((0..3).map(|_| NewJob::new("ok", json!({}))).collect()).await.unwrap();
    eventually("5 dead, 3 completed", Duration::from_secs(10), || async {
        let c = s.queue.counts().await.unwrap();
        (c.dead == 5 && c.completed == 3).then_some(())
    })
    .await;
    assert_eq!(s.queue.retry_all(JobState::Dead).await.unwrap(), 5);
    eventually("all 8 completed", Duration::from_secs(10), || async {
        let c = s.queue.counts().await.unwrap();
        (c.completed == 8 && c.dead == 0).then_some(())
    })
    .await;
    assert!(s.queue.retry_all(JobState::Completed).await.is_err(), "completed jobs are not retried");
    // Nothing is older than an hour; everything is older than zero.
    assert_eq!(s.queue.clean(JobState::Completed, Duration::from_secs(3600)).await.unwrap(), 0);
    assert_eq!(s.queue.clean(JobState::Completed, Duration::ZERO).await.unwrap(), 8);
    assert_eq!(s.queue.counts().await.unwrap().completed, 0);
    assert!(s.queue.clean(JobState::Active, Duration::ZERO).await.is_err());
    worker.stop().await;
}

fn retry_fast(max_attempts: u32) -> JobOptions {
    JobOptions { max_attempts, backoff: Backoff::Fixed { delay: Duration::from_millis(30) }, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completes_jobs_stores_results_and_emits_events() {
    let s = setup().await;
    let worker = spawn_worker(
        &s.queue,
        handler_fn(|ctx| async move {
            let n = ctx.job().payload["n"].as_i64().unwrap_or(0);
            Ok(json!({ "double": n * 2 }))
        }),
        fast_options(),
    );
    let ids = s.queue.enqueue_bulk((0..50).map(|n| NewJob::new("double", json!({ "n": n }))).collect()).await.unwrap();
    for (n, e) in ids.iter().enumerate() {
        let job = wait_for_state(&s.queue, &e.id, JobState::Completed).await;
        assert_eq!(job.result, Some(json!({ "double": n as i64 * 2 })));
        assert_eq!(job.attempts, 1);
        assert!(job.finished_at.unwrap() >= job.started_at.unwrap());
    }
    let counts = s.queue.counts().await.unwrap();
    assert_eq!((counts.completed, counts.active, counts.waiting), (50, 0, 0));

    let events = s.queue.read_events(None, 1000).await.unwrap();
    let of_first: Vec<&str> = events.iter().filter(|e| e.job_id == ids[0].id).map(|e| e.kind.as_str()).collect();
    assert_eq!(of_first, vec!["added", "active", "completed"]);

    let minute = hoist_now_minute();
    let stats = s.queue.stats(minute - 1, minute).await.unwrap();
    assert_eq!(stats.iter().map(|m| m.completed).sum::<u64>(), 50);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_totals_count_every_outcome_and_go_with_the_queue() {
    let s = setup().await;
    let worker = spawn_worker(
        &s.queue,
        handler_fn(|ctx| async move {
            match ctx.job().name.as_str() {
                "fine" => Ok(json!({})),
                "revoked" => Err(JobError::permanent("401")),
                _ => Err(JobError::retryable("flaky")),
            }
        }),
        fast_options(),
    );
    let twice = JobOptions {
        max_attempts: 2,
        backoff: Backoff::Fixed { delay: Duration::from_millis(10) },
        ..Default::default()
    };
    let fine = s.queue.enqueue(NewJob::new("fine", json!({}))).await.unwrap();
    let revoked = s.queue.enqueue(NewJob::new("revoked", json!({}))).await.unwrap();
    let flaky = s.queue.enqueue(NewJob::new("flaky", json!({})).with_options(twice)).await.unwrap();
    wait_for_state(&s.queue, &fine.id, JobState::Completed).await;
    wait_for_state(&s.queue, &revoked.id, JobState::Dead).await;
    wait_for_state(&s.queue, &flaky.id, JobState::Dead).await;
    worker.stop().await;
    let totals = s.queue.totals().await.unwrap();
    assert_eq!(
        (totals.completed, totals.failed, totals.retried, totals.dead),
        (1, 3, 1, 2),
        "one completed; three failed attempts, of which one retried; two dead: {totals:?}"
    );
    // The totals outlive the jobs they counted...
    s.queue.remove(&fine.id).await.unwrap();
    assert_eq!(s.queue.totals().await.unwrap().completed, 1);
    // ...but not the queue.
    s.queue.obliterate(true).await.unwrap();
    assert_eq!(s.queue.totals().await.unwrap(), hoist_queue::QueueTotals::default());
}

fn hoist_now_minute() -> i64 {
    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() / 60_000) as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_errors_back_off_then_go_to_the_dead_letter_queue() {
    let s = setup().await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let worker = spawn_worker(
        &s.queue,
        handler_fn(move |_ctx| {
            let counter = counter.clone();
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                Err::<serde_json::Value, _>(JobError::retryable(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    format!("provider reset the connection (call {n})"),
                )))
            }
        }),
        fast_options(),
    );
    let e = s.queue.enqueue(NewJob::new("flaky", json!({})).with_options(retry_fast(3))).await.unwrap();
    let job = wait_for_state(&s.queue, &e.id, JobState::Dead).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3, "one policy, three attempts in all");
    assert_eq!(job.attempts, 3);
    assert_eq!(job.errors.len(), 3);
    assert_eq!(job.errors.iter().map(|e| e.attempt).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(job.errors[2].message.contains("call 3"), "{:?}", job.errors);
    assert_eq!(job.last_error.as_ref().unwrap().kind, "retryable");
    let kinds: Vec<String> = s.queue.read_events(None, 100).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "retrying").count(), 2);
    assert_eq!(kinds.iter().filter(|k| *k == "dead").count(), 1);

    // Requeue from the dead-letter queue: a fresh set of attempts.
    assert_eq!(s.queue.requeue_dead(std::slice::from_ref(&e.id)).await.unwrap(), 1);
    let again = wait_for_state(&s.queue, &e.id, JobState::Dead).await;
    assert_eq!(calls.load(Ordering::SeqCst), 6);
    assert_eq!(again.errors.len(), 6, "the error history is kept across requeues");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_skip_retries() {
    let s = setup().await;
    let worker = spawn_worker(
        &s.queue,
        handler_fn(|_ctx| async move {
            Err::<serde_json::Value, _>(JobError::permanent("401 Unauthorized: consent revoked"))
        }),
        fast_options(),
    );
    let e = s.queue.enqueue(NewJob::new("auth", json!({})).with_options(retry_fast(5))).await.unwrap();
    let job = wait_for_state(&s.queue, &e.id, JobState::Dead).await;
    assert_eq!(job.attempts, 1);
    assert_eq!(job.last_error.unwrap().kind, "permanent");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_fails_the_attempt_not_the_worker() {
    let s = setup().await;
    let worker = spawn_worker(
        &s.queue,
        handler_fn(|ctx| async move {
            if ctx.job().name == "boom" {
                panic!("handler bug: index out of range");
            }
            Ok(json!("fine"))
        }),
        WorkerOptions { concurrency: 1, ..fast_options() },
    );
    let boom = s.queue.enqueue(NewJob::new("boom", json!({})).with_options(retry_fast(1))).await.unwrap();
    let fine = s.queue.enqueue(NewJob::new("fine", json!({}))).await.unwrap();
    let dead = wait_for_state(&s.queue, &boom.id, JobState::Dead).await;
    let record = dead.last_error.unwrap();
    assert_eq!(record.kind, "panic");
    assert!(record.message.contains("index out of range"), "{}", record.message);
    wait_for_state(&s.queue, &fine.id, JobState::Completed).await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_cancels_the_handler_and_counts_as_a_failure() {
    let s = setup().await;
    let saw_cancel = Arc::new(AtomicU32::new(0));
    let flag = saw_cancel.clone();
    let worker = spawn_worker(
        &s.queue,
        handler_fn(move |ctx| {
            let flag = flag.clone();
            async move {
                let token = ctx.cancellation().clone();
                tokio::spawn(async move {
                    token.cancelled().await;
                    flag.fetch_add(1, Ordering::SeqCst);
                });
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(json!("never"))
            }
        }),
        fast_options(),
    );
    let options = JobOptions { timeout: Some(Duration::from_millis(100)), ..retry_fast(2) };
    let e = s.queue.enqueue(NewJob::new("slow", json!({})).with_options(options)).await.unwrap();
    let job = wait_for_state(&s.queue, &e.id, JobState::Dead).await;
    assert_eq!(job.attempts, 2);
    assert!(job.errors.iter().all(|r| r.kind == "timeout"), "{:?}", job.errors);
    eventually("cancellation observed", Duration::from_secs(2), || async {
        (saw_cancel.load(Ordering::SeqCst) == 2).then_some(())
    })
    .await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_active_job_signals_its_token() {
    let s = setup().await;
    let worker = spawn_worker(
        &s.queue,
        handler_fn(|ctx| async move {
            ctx.progress(Progress::stage("syncing_accounts").percent(10.0)).await?;
            ctx.cancellation().cancelled().await;
            Ok(json!("stopped"))
        }),
        fast_options(),
    );
    let e = s.queue.enqueue(NewJob::new("long", json!({}))).await.unwrap();
    let active = eventually("progress reported", Duration::from_secs(10), || async {
        s.queue.get_job(&e.id).await.unwrap().filter(|j| j.progress.is_some())
    })
    .await;
    assert_eq!(active.state, JobState::Active);
    assert_eq!(s.queue.cancel(&e.id).await.unwrap(), CancelOutcome::Requested);
    let job = wait_for_state(&s.queue, &e.id, JobState::Cancelled).await;
    assert_eq!(job.progress.unwrap().stage.as_deref(), Some("syncing_accounts"));
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lower_priority_numbers_run_first_fifo_within_a_priority() {
    let s = setup().await;
    let order = Arc::new(Mutex::new(vec![]));
    let jobs = [("a", 5), ("b", 0), ("c", 5), ("d", 0), ("e", 1)];
    for (name, priority) in jobs {
        let options = JobOptions { priority, ..Default::default() };
        s.queue.enqueue(NewJob::new(name, json!({})).with_options(options)).await.unwrap();
    }
    let seen = order.clone();
    let worker = spawn_worker(
        &s.queue,
        handler_fn(move |ctx| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(ctx.job().name.clone());
                Ok(json!(null))
            }
        }),
        WorkerOptions { concurrency: 1, ..fast_options() },
    );
    eventually("all five ran", Duration::from_secs(10), || async { (order.lock().unwrap().len() == 5).then_some(()) })
        .await;
    assert_eq!(*order.lock().unwrap(), vec!["b", "d", "e", "a", "c"]);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_logs_are_stored_and_streamed() {
    let s = setup().await;
    let start = s.queue.last_event_position().await.unwrap();
    let mut events = Box::pin(s.queue.subscribe(Some(start)));
    let worker = spawn_worker(
        &s.queue,
        handler_fn(|ctx| async move {
            for (i, stage) in ["starting", "syncing_transactions", "finalizing"].iter().enumerate() {
                let p = Progress::stage(*stage).percent(i as f64 * 40.0).counter("transactions", i as i64 * 10);
                ctx.progress(p).await?;
                ctx.log(format!("entered {stage}")).await?;
            }
            Ok(json!({ "ok": true }))
        }),
        fast_options(),
    );
    let e = s.queue.enqueue(NewJob::new("sync", json!({}))).await.unwrap();
    let job = wait_for_state(&s.queue, &e.id, JobState::Completed).await;
    let progress = job.progress.unwrap();
    assert_eq!(progress.stage.as_deref(), Some("finalizing"));
    assert_eq!(progress.percent, Some(80.0));
    assert_eq!(progress.counters["transactions"], 20);
    assert_eq!(job.logs, vec!["entered starting", "entered syncing_transactions", "entered finalizing"]);

    let mut kinds = vec![];
    while kinds.last().map(String::as_str) != Some("completed") {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next()).await.unwrap().unwrap().unwrap();
        kinds.push(event.kind);
    }
    assert_eq!(kinds, vec!["added", "active", "progress", "progress", "progress", "completed"]);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_queues_hold_jobs_until_resumed() {
    let s = setup().await;
    s.queue.pause().await.unwrap();
    let worker = spawn_worker(&s.queue, handler_fn(|_| async { Ok(json!(1)) }), fast_options());
    let e = s.queue.enqueue(NewJob::new("held", json!({}))).await.unwrap();
    // The worker is idle and woken by the enqueue, yet must not claim: give it the time
    // a claim takes several times over, then check.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.queue.get_job(&e.id).await.unwrap().unwrap().state, JobState::Waiting);
    s.queue.resume().await.unwrap();
    wait_for_state(&s.queue, &e.id, JobState::Completed).await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_workers_wake_on_enqueue_and_delayed_jobs_start_on_time() {
    let s = setup().await;
    let worker = spawn_worker(&s.queue, handler_fn(|_| async { Ok(json!(1)) }), fast_options());
    // Let the worker go idle (parked on Redis).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let e = s.queue.enqueue(NewJob::new("now", json!({}))).await.unwrap();
    let job = wait_for_state(&s.queue, &e.id, JobState::Completed).await;
    // The safety-net poll is 5 s; a wake-up must come far sooner.
    assert!(
        job.started_at.unwrap() - job.created_at < 1000,
        "woke after {} ms",
        job.started_at.unwrap() - job.created_at
    );

    let delayed = JobOptions { delay: Some(Duration::from_millis(700)), ..Default::default() };
    let e = s.queue.enqueue(NewJob::new("later", json!({})).with_options(delayed)).await.unwrap();
    let job = wait_for_state(&s.queue, &e.id, JobState::Completed).await;
    let late = job.started_at.unwrap() - job.run_at;
    assert!(job.started_at.unwrap() >= job.run_at, "not early");
    assert!(late < 1000, "started {late} ms after its time with nothing else enqueued");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_running_jobs_finish_then_hands_back_the_rest() {
    let s = setup().await;
    let options = WorkerOptions { shutdown_grace: Duration::from_millis(300), ..fast_options() };
    let worker = spawn_worker(
        &s.queue,
        handler_fn(|ctx| async move {
            let ms = ctx.job().payload["ms"].as_u64().unwrap();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(ms)) => Ok(json!("done")),
                _ = ctx.cancellation().cancelled() => Err(JobError::retryable("interrupted")),
            }
        }),
        options,
    );
    let quick = s.queue.enqueue(NewJob::new("quick", json!({ "ms": 100 }))).await.unwrap();
    let slow = s.queue.enqueue(NewJob::new("slow", json!({ "ms": 60_000 }))).await.unwrap();
    eventually("both active", Duration::from_secs(5), || async {
        (s.queue.counts().await.unwrap().active == 2).then_some(())
    })
    .await;
    worker.stop().await;
    assert_eq!(s.queue.get_job(&quick.id).await.unwrap().unwrap().state, JobState::Completed);
    let slow = s.queue.get_job(&slow.id).await.unwrap().unwrap();
    assert_eq!(slow.state, JobState::Waiting, "handed back, not lost");
    assert_eq!(slow.attempts, 0, "shutdown does not spend an attempt");
    assert!(s.queue.workers(Duration::from_secs(60)).await.unwrap().is_empty(), "worker signed off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_wait_in_the_archive_until_copied_and_retention_spares_them() {
    let s = setup().await;
    let config = hoist_queue::QueueConfig {
        completed: hoist_queue::Retention { max_count: Some(2), max_age: None },
        ..Default::default()
    };
    let queue = hoist_queue::Queue::with_config(&s.redis, "archived", config).unwrap();
    queue.set_archiving(true).await.unwrap();
    let worker = spawn_worker(
        &queue,
        handler_fn(|ctx| async move {
            match ctx.job().payload["n"].as_i64() {
                Some(n) if n % 3 == 0 => Err(JobError::permanent("multiple of three")),
                _ => Ok(json!({ "ok": true })),
            }
        }),
        fast_options(),
    );
    let ids: Vec<String> = queue
        .enqueue_bulk((1..=9).map(|n| NewJob::new("n", json!({ "n": n }))).collect())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let pending = eventually("all nine in the archive set", Duration::from_secs(15), || async {
        let jobs: Vec<hoist_queue::Job> =
            queue.unarchived(100).await.unwrap().into_iter().filter_map(|p| p.job.ok()).collect();
        (jobs.len() == 9).then_some(jobs)
    })
    .await;
    // Retention (keep 2 completed) could not drop the six completed jobs: not copied yet.
    assert_eq!(queue.counts().await.unwrap().completed, 6);
    assert_eq!(queue.counts().await.unwrap().dead, 3);
    let dead = pending.iter().filter(|j| j.state == JobState::Dead).count();
    assert_eq!(dead, 3);
    assert!(pending.iter().filter(|j| j.state == JobState::Dead).all(|j| j.errors.len() == 1));
    let mut listed: Vec<String> = pending.iter().map(|j| j.id.clone()).collect();
    listed.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(listed, want);

    // A stale acknowledgement (another finish time) releases nothing.
    assert_eq!(queue.mark_archived(&[(pending[0].id.clone(), 1)]).await.unwrap(), 0);
    // Copied out of order, all but the oldest completed job: retention takes jobs in the
    // order they finished, so it waits for that one.
    let oldest_completed = pending.iter().filter(|j| j.state == JobState::Completed).min_by_key(|j| j.finished_at);
    let oldest_completed = oldest_completed.unwrap().id.clone();
    let copied: Vec<(String, i64)> =
        pending.iter().filter(|j| j.id != oldest_completed).map(|j| (j.id.clone(), j.finished_at.unwrap())).collect();
    assert_eq!(queue.mark_archived(&copied).await.unwrap(), 8);
    queue.enqueue(NewJob::new("n", json!({ "n": 10 }))).await.unwrap();
    eventually("the tenth job completed", Duration::from_secs(15), || async {
        (queue.counts().await.unwrap().completed == 7).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(queue.counts().await.unwrap().completed, 7, "retention waits for the oldest to be copied");
    let rest: Vec<(String, i64)> =
        queue.unarchived(100).await.unwrap().into_iter().map(|p| (p.id, p.finished_at)).collect();
    assert_eq!(rest.len(), 2);
    assert_eq!(queue.mark_archived(&rest).await.unwrap(), 2);
    assert!(queue.unarchived(100).await.unwrap().is_empty());

    // Now retention applies again: the next completion trims completed down to 2.
    queue.enqueue(NewJob::new("n", json!({ "n": 11 }))).await.unwrap();
    eventually("completed trimmed to 2", Duration::from_secs(15), || async {
        (queue.counts().await.unwrap().completed == 2).then_some(())
    })
    .await;
    worker.stop().await;
    queue.set_archiving(false).await.unwrap();
}

/// Two jobs of one worker in their first attempt share the lease token `worker:1`; when
/// one of them loses its lease, that job's handler is stopped and the other runs on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_lease_stops_only_its_own_job() {
    let s = setup().await;
    let stopped = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = stopped.clone();
    let options = WorkerOptions { lease: Duration::from_millis(600), ..fast_options() };
    let worker = spawn_worker(
        &s.queue,
        handler_fn(move |ctx| {
            let stopped = stopped.clone();
            async move {
                tokio::select! {
                    _ = ctx.cancellation().cancelled() => {
                        stopped.lock().unwrap().push(ctx.job().id.clone());
                        Err(JobError::retryable("stopped"))
                    }
                    _ = tokio::time::sleep(Duration::from_millis(1500)) => Ok(json!("done")),
                }
            }
        }),
        options,
    );
    let a = s.queue.enqueue(NewJob::new("long", json!({ "n": "a" }))).await.unwrap().id;
    let b = s.queue.enqueue(NewJob::new("long", json!({ "n": "b" }))).await.unwrap().id;
    wait_for_state(&s.queue, &a, JobState::Active).await;
    wait_for_state(&s.queue, &b, JobState::Active).await;
    // Someone else owns job a now (as after a recovery and a claim by another worker).
    let key = format!("hoist:{{tests}}:job:{a}");
    let _: () = s.redis.query(redis::cmd("HSET").arg(&key).arg("lease").arg("other-worker:1")).await.unwrap();
    eventually("job a's handler to stop", Duration::from_secs(5), || async {
        seen.lock().unwrap().contains(&a).then_some(())
    })
    .await;
    let done = wait_for_state(&s.queue, &b, JobState::Completed).await;
    assert_eq!(done.result, Some(json!("done")));
    assert_eq!(*seen.lock().unwrap(), vec![a.clone()], "only job a was stopped");
    worker.stop().await;
}

/// A job that fails an attempt and will run again is listed for the search index again,
/// with its error.
#[tokio::test]
async fn failed_jobs_that_run_again_are_listed_for_the_search_index() {
    let s = setup().await;
    s.queue.set_archiving(true).await.unwrap();
    let options = hoist_queue::JobOptions {
        max_attempts: 3,
        backoff: hoist_queue::Backoff::Fixed { delay: Duration::from_secs(3600) },
        ..Default::default()
    };
    let added = s.queue.enqueue(NewJob::new("f", json!({})).with_options(options)).await.unwrap();
    // Entries of the current millisecond wait for the next read.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let first = s.queue.unindexed(10, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(s.queue.mark_indexed(&first.listed).await.unwrap(), 1);
    let worker = spawn_worker(
        &s.queue,
        handler_fn(|_| async { Err::<serde_json::Value, _>(JobError::retryable("provider timed out")) }),
        fast_options(),
    );
    wait_for_state(&s.queue, &added.id, JobState::Retrying).await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    let page = s.queue.unindexed(10, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(page.jobs.len(), 1);
    assert_eq!(page.jobs[0].state, JobState::Retrying);
    assert_eq!(page.jobs[0].errors.len(), 1, "read with its errors");
    worker.stop().await;
}

/// A job that died of its input runs again with the input fixed: same id, name, owner
/// and options, fresh attempts, only the payload replaced (however its name and payload
/// are spelled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_job_retried_with_a_fixed_payload_completes() {
    let s = setup().await;
    let worker = spawn_worker(
        &s.queue,
        handler_fn(|ctx| async move {
            match ctx.job().payload["account"].as_i64() {
                Some(account) => Ok(json!({ "synced": account })),
                None => Err(JobError::permanent("no account")),
            }
        }),
        fast_options(),
    );
    // A name and payload that spell the spec's payload key inside strings.
    let name = r#"sync,"payload":{"#;
    let options = JobOptions { owner: Some("user-7".into()), priority: 3, max_attempts: 2, ..Default::default() };
    let e =
        s.queue.enqueue(NewJob::new(name, json!({ "note": r#","payload":1}"# })).with_options(options)).await.unwrap();
    let dead = wait_for_state(&s.queue, &e.id, JobState::Dead).await;

    let fixed = json!({ "account": 42, "note": r#"a "quoted" ,"payload": text"# });
    s.queue.retry_with_payload(&e.id, &fixed).await.unwrap();
    let done = wait_for_state(&s.queue, &e.id, JobState::Completed).await;
    assert_eq!(done.payload, fixed);
    assert_eq!(done.result, Some(json!({ "synced": 42 })));
    assert_eq!((done.name.as_str(), done.owner.as_deref(), done.priority), (name, Some("user-7"), 3));
    assert_eq!(done.created_at, dead.created_at, "the same job, not a copy");
    assert_eq!(done.attempts, 1, "fresh attempts");
    assert!(done.run_at >= dead.finished_at.unwrap(), "ready again from the retry: its wait counts from there");
    let owned = s.queue.list_owned("user-7", &[JobState::Completed], 0, 10).await.unwrap();
    assert_eq!(owned.jobs.len(), 1, "still in its owner's index");

    // Only dead or cancelled jobs, only payloads within the bound, only jobs that exist.
    match s.queue.retry_with_payload(&e.id, &fixed).await {
        Err(QueueError::WrongState { state, .. }) => assert_eq!(state, "completed"),
        other => panic!("{other:?}"),
    }
    let huge = json!({ "blob": "x".repeat(600 * 1024) });
    let cancelled = s.queue.enqueue(
        NewJob::new("later", json!({}))
            .with_options(JobOptions { delay: Some(Duration::from_secs(3600)), ..Default::default() }),
    );
    let cancelled = cancelled.await.unwrap();
    s.queue.cancel(&cancelled.id).await.unwrap();
    assert!(matches!(s.queue.retry_with_payload(&cancelled.id, &huge).await, Err(QueueError::PayloadTooLarge { .. })));
    assert_eq!(s.queue.get_job(&cancelled.id).await.unwrap().unwrap().payload, json!({}), "left as it was");
    assert!(matches!(
        s.queue.retry_with_payload("01J9Z3V6G6Y3W8Q0M2B4C5D6E7", &fixed).await,
        Err(QueueError::NotFound { .. })
    ));
    // A job stored before specs (its fields apart, no `spec`) is refused and left where
    // it was, not taken out of its state's list.
    let key = format!("hoist:{{tests}}:job:{}", cancelled.id);
    let _: () = s.redis.query(redis::cmd("HDEL").arg(&key).arg("spec")).await.unwrap();
    let _: () =
        s.redis.query(redis::cmd("HSET").arg(&key).arg("name").arg("later").arg("payload").arg("{}")).await.unwrap();
    match s.queue.retry_with_payload(&cancelled.id, &fixed).await {
        Err(QueueError::WrongState { state, .. }) => assert!(state.contains("older format"), "{state}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.queue.counts().await.unwrap().cancelled, 1, "still listed as cancelled");
    worker.stop().await;
}

/// `NewJob::like` copies what a rerun needs and leaves the dedup key behind.
#[tokio::test]
async fn a_job_duplicated_with_like_is_a_new_job_with_the_same_input() {
    let s = setup().await;
    let options = JobOptions {
        owner: Some("user-9".into()),
        priority: 5,
        max_attempts: 7,
        timeout: Some(Duration::from_secs(3)),
        dedup_key: Some("once".into()),
        backoff: Backoff::Fixed { delay: Duration::from_millis(40) },
        ..Default::default()
    };
    let e = s.queue.enqueue(NewJob::new("report", json!({ "month": 11 })).with_options(options)).await.unwrap();
    let original = s.queue.get_job(&e.id).await.unwrap().unwrap();
    let copy = s.queue.enqueue(NewJob::like(&original)).await.unwrap();
    assert!(!copy.duplicate, "not deduplicated to the original");
    let copy = s.queue.get_job(&copy.id).await.unwrap().unwrap();
    assert_ne!(copy.id, original.id);
    assert_eq!((copy.name.as_str(), &copy.payload), ("report", &json!({ "month": 11 })));
    assert_eq!((copy.owner.as_deref(), copy.priority, copy.max_attempts), (Some("user-9"), 5, 7));
    assert_eq!((copy.timeout_ms, &copy.backoff), (Some(3000), &Backoff::Fixed { delay: Duration::from_millis(40) }));
    assert_eq!(copy.dedup_key, None);
}

/// Run and wait times land in the minute's statistics (and the totals) by bucket, and a
/// backlog sample a minute: the dashboard's percentiles and backlog chart read these.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minutes_count_run_and_wait_times_and_sample_the_backlog() {
    let s = setup().await;
    let slow = JobOptions { priority: 0, ..Default::default() };
    for i in 0..3 {
        s.queue.enqueue(NewJob::new("slow", json!({ "i": i })).with_options(slow.clone())).await.unwrap();
    }
    // Three wait, nobody works them yet: the sample says so, once in the minute.
    let minute = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 60;
    let before = minute();
    assert_eq!(s.queue.sample_backlog().await.unwrap(), Some(3));
    let again = s.queue.sample_backlog().await.unwrap();
    if minute() == before {
        assert_eq!(again, None, "the minute has its sample");
    }
    // They wait at least 300 ms before a worker starts, and each runs about 60 ms.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let worker = spawn_worker(
        &s.queue,
        handler_fn(|_| async {
            tokio::time::sleep(Duration::from_millis(60)).await;
            Ok(json!({}))
        }),
        fast_options(),
    );
    eventually("three completed", Duration::from_secs(10), || async {
        (s.queue.counts().await.unwrap().completed == 3).then_some(())
    })
    .await;
    worker.stop().await;
    let minutes = s.queue.recent_stats(2).await.unwrap();
    let (mut run, mut wait) = (hoist_queue::TimingHistogram::default(), hoist_queue::TimingHistogram::default());
    for minute in &minutes {
        run.merge(&minute.run_ms);
        wait.merge(&minute.wait_ms);
    }
    assert_eq!((run.total(), wait.total()), (3, 3), "{minutes:?}");
    let run_p50 = run.quantile(0.5).unwrap();
    assert!((50..=100).contains(&run_p50), "60 ms runs fall in the 50–100 ms bucket: {run_p50}");
    let wait_p50 = wait.quantile(0.5).unwrap();
    assert!((250..=1_000).contains(&wait_p50), "waited at least 300 ms: {wait_p50}");
    assert!(minutes.iter().any(|m| m.waiting == Some(3)), "{minutes:?}");
    assert_eq!(s.queue.totals().await.unwrap().completed, 3);
}
