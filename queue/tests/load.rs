//! Bounds under load: concurrency, retention, and a randomized run where every job must
//! end in exactly one terminal state.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{eventually, fast_options, setup, spawn_worker};
use hoist_queue::{
    Backoff, JobError, JobOptions, JobState, NewJob, Queue, QueueConfig, Retention, Worker, WorkerOptions, handler_fn,
};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_bound_is_never_exceeded() {
    let s = setup().await;
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (n, p) = (now.clone(), peak.clone());
    let handler = handler_fn(move |_| {
        let (n, p) = (n.clone(), p.clone());
        async move {
            let current = n.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(current, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            n.fetch_sub(1, Ordering::SeqCst);
            Ok(json!(null))
        }
    });
    let worker = Worker::new(s.queue.clone(), handler, WorkerOptions { concurrency: 5, ..fast_options() });
    let status = worker.status();
    assert!(!status.accepting_jobs(), "not before it runs");
    let shutdown = hoist_queue::CancellationToken::new();
    let handle = tokio::spawn(worker.run(shutdown.clone()));
    s.queue.enqueue_bulk((0..200).map(|i| NewJob::new("n", json!(i))).collect()).await.unwrap();
    eventually("all done", Duration::from_secs(30), || async {
        (s.queue.counts().await.unwrap().completed == 200).then_some(())
    })
    .await;
    assert!(status.accepting_jobs());
    assert_eq!(peak.load(Ordering::SeqCst), 5, "reached the bound, never above it");
    shutdown.cancel();
    handle.await.unwrap().unwrap();
    assert!(!status.accepting_jobs(), "not after shutdown");
}

/// The active set keeps an anchor member so Redis stores it as a skiplist (cheap ZADD and
/// ZREM at any size); counts, listings and the oldest-active query must not see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_jobs_are_counted_and_listed_without_the_sets_anchor() {
    let s = setup().await;
    let (release, gate) = tokio::sync::watch::channel(false);
    let handler = handler_fn(move |_| {
        let mut gate = gate.clone();
        async move {
            gate.wait_for(|open| *open).await.ok();
            Ok(json!(null))
        }
    });
    let worker = Worker::new(s.queue.clone(), handler, WorkerOptions { concurrency: 3, ..fast_options() });
    let shutdown = hoist_queue::CancellationToken::new();
    let handle = tokio::spawn(worker.run(shutdown.clone()));
    s.queue.enqueue_bulk((0..5).map(|i| NewJob::new("n", json!(i))).collect()).await.unwrap();
    eventually("three running", Duration::from_secs(10), || async {
        (s.queue.counts().await.unwrap().active == 3).then_some(())
    })
    .await;
    let page = s.queue.list_jobs(JobState::Active, 0, 10).await.unwrap();
    assert_eq!((page.jobs.len(), page.total, page.next), (3, 3, None));
    assert!(page.jobs.iter().all(|j| j.state == JobState::Active));
    let second = s.queue.list_jobs(JobState::Active, 2, 10).await.unwrap();
    assert_eq!(second.jobs.len(), 1, "paging counts jobs only");
    assert!(s.queue.oldest_active_started_at().await.unwrap().is_some());
    let encoding: String =
        s.redis.query(redis::cmd("OBJECT").arg("ENCODING").arg("hoist:{tests}:active")).await.unwrap();
    assert_eq!(encoding, "skiplist");

    // Let everything finish: no active job is left, though the set (and anchor) stays.
    release.send(true).unwrap();
    eventually("all done", Duration::from_secs(10), || async {
        (s.queue.counts().await.unwrap().completed == 5).then_some(())
    })
    .await;
    assert_eq!(s.queue.counts().await.unwrap().active, 0);
    assert!(s.queue.list_jobs(JobState::Active, 0, 10).await.unwrap().jobs.is_empty());
    assert_eq!(s.queue.oldest_active_started_at().await.unwrap(), None);
    s.queue.obliterate(false).await.expect("no active job blocks obliterate");
    shutdown.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_redis_bounded() {
    let s = setup().await;
    let config = QueueConfig {
        completed: Retention { max_count: Some(20), max_age: None },
        dead: Retention { max_count: Some(5), max_age: None },
        max_events: 100,
        ..QueueConfig::default()
    };
    let queue = Queue::with_config(&s.redis, "bounded", config).unwrap();
    let worker = spawn_worker(
        &queue,
        handler_fn(|ctx| async move {
            if ctx.job().payload.as_i64().unwrap() % 10 == 0 {
                return Err(JobError::permanent("every tenth fails"));
            }
            Ok(json!("ok"))
        }),
        fast_options(),
    );
    let ids = queue.enqueue_bulk((1..=500).map(|i| NewJob::new("n", json!(i))).collect()).await.unwrap();
    eventually("all finished", Duration::from_secs(30), || async {
        let c = queue.counts().await.unwrap();
        (c.waiting + c.active == 0).then_some(())
    })
    .await;
    let counts = queue.counts().await.unwrap();
    assert_eq!(counts.completed, 20);
    assert_eq!(counts.dead, 5);
    // The removed jobs' hashes are gone too, not just their set entries.
    let newest = queue.get_job(&ids[498].id).await.unwrap();
    assert!(newest.is_some(), "recent completed job kept");
    assert!(queue.get_job(&ids[0].id).await.unwrap().is_none(), "old completed job removed");
    let keys = s.server.dbsize();
    // 25 job hashes (+ error lists of the dead) + the queue's own keys + stats minutes.
    assert!(keys < 60, "redis holds {keys} keys");
    let events: Vec<_> = queue.read_events(None, 10_000).await.unwrap();
    assert!(events.len() <= 300, "event stream capped, holds {}", events.len());

    // Age-based retention.
    s.server.flushall();
    let aged = QueueConfig {
        completed: Retention { max_count: None, max_age: Some(Duration::from_millis(200)) },
        ..QueueConfig::default()
    };
    let queue = Queue::with_config(&s.redis, "aged", aged).unwrap();
    let w2 = spawn_worker(&queue, handler_fn(|_| async { Ok(json!(1)) }), fast_options());
    let old = queue.enqueue(NewJob::new("old", json!(1))).await.unwrap();
    common::wait_for_state(&queue, &old.id, JobState::Completed).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let new = queue.enqueue(NewJob::new("new", json!(2))).await.unwrap();
    common::wait_for_state(&queue, &new.id, JobState::Completed).await;
    assert!(queue.get_job(&old.id).await.unwrap().is_none(), "aged out when the next job completed");
    worker.stop().await;
    w2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomized_run_every_job_ends_in_exactly_one_terminal_state() {
    let s = setup().await;
    let total = 3000usize;
    // Keep every finished job so the test can account for each.
    let unbounded = Retention { max_count: None, max_age: None };
    let config = QueueConfig { completed: unbounded.clone(), dead: unbounded, ..QueueConfig::default() };
    let queue = Queue::with_config(&s.redis, "random", config).unwrap();
    let mut jobs = Vec::with_capacity(total);
    for i in 0..total {
        let options = JobOptions {
            max_attempts: 1 + (i % 3) as u32,
            priority: (i % 4) as u16,
            delay: (i % 7 == 0).then(|| Duration::from_millis((i % 300) as u64)),
            backoff: Backoff::Exponential {
                base: Duration::from_millis(5),
                cap: Duration::from_millis(50),
                jitter: 0.5,
            },
            ..Default::default()
        };
        jobs.push(NewJob::new("random", json!({ "i": i })).with_options(options));
    }
    let handler = handler_fn(|ctx| async move {
        // Pseudo-random but reproducible per (job, attempt).
        let i = ctx.job().payload["i"].as_u64().unwrap();
        let roll = (i * 7919 + ctx.job().attempts as u64 * 104_729) % 100;
        tokio::time::sleep(Duration::from_micros(roll * 20)).await;
        match roll {
            0..=14 => Err(JobError::retryable("transient")),
            15..=19 => Err(JobError::permanent("bad input")),
            20 => panic!("boom"),
            _ => Ok(json!(roll)),
        }
    });
    let handler = Arc::new(handler);
    let workers: Vec<_> = (0..3)
        .map(|_| spawn_worker(&queue, handler.clone(), WorkerOptions { concurrency: 20, ..fast_options() }))
        .collect();
    for chunk in jobs.chunks(500) {
        queue.enqueue_bulk(chunk.to_vec()).await.unwrap();
    }
    eventually("every job finished", Duration::from_secs(120), || async {
        let c = queue.counts().await.unwrap();
        (c.completed + c.dead == total as u64).then_some(())
    })
    .await;
    for worker in workers {
        worker.stop().await;
    }
    let counts = queue.counts().await.unwrap();
    assert_eq!(counts.waiting + counts.delayed + counts.retrying + counts.active + counts.cancelled, 0);
    // Each id is in exactly one state set.
    let mut seen = HashSet::new();
    for state in [JobState::Completed, JobState::Dead] {
        let mut offset = 0;
        loop {
            let page = queue.list_jobs(state, offset, 1000).await.unwrap();
            for job in &page.jobs {
                assert_eq!(job.state, state);
                assert!(seen.insert(job.id.clone()), "job {} in two states", job.id);
                if state == JobState::Dead {
                    let last = job.last_error.as_ref().unwrap();
                    // Out of attempts, or failed for good. (A lease that lapsed under
                    // heavy load adds an attempt; that is a stall, not a lost job.)
                    assert!(last.kind == "permanent" || job.attempts >= job.max_attempts, "{job:?}");
                }
            }
            match page.next {
                Some(next) => offset = next,
                None => break,
            }
        }
    }
    assert_eq!(seen.len(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_drain_a_backlog_without_stalls() {
    let s = setup().await;
    let handler = Arc::new(handler_fn(|_| async { Ok(json!(null)) }));
    let workers: Vec<_> = (0..2)
        .map(|_| spawn_worker(&s.queue, handler.clone(), WorkerOptions { concurrency: 25, ..WorkerOptions::default() }))
        .collect();
    s.queue.enqueue_bulk((0..5000).map(|i| NewJob::new("n", json!(i))).collect()).await.unwrap();
    // With the default 30 s lease, a lost acknowledgement would show up as a stall.
    eventually("backlog drained", Duration::from_secs(20), || async {
        let c = s.queue.counts().await.unwrap();
        (c.waiting + c.active == 0).then_some(())
    })
    .await;
    let events = s.queue.read_events(None, 100_000).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "stalled").count(), 0);
    for worker in workers {
        worker.stop().await;
    }
}

/// A worker at the highest concurrency the limits allow (10,000) claims and completes
/// thousands of jobs per call: past Lua's `unpack` limit (about 8,000 values), which a
/// script with one argument per value would hit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_at_ten_thousand_concurrency_claims_and_completes_large_batches() {
    let s = setup().await;
    s.queue.pause().await.unwrap();
    for chunk in 0..12 {
        s.queue.enqueue_bulk((0..1000).map(|i| NewJob::new("n", json!(chunk * 1000 + i))).collect()).await.unwrap();
    }
    let release = Arc::new(tokio::sync::Notify::new());
    let started = Arc::new(AtomicUsize::new(0));
    let (r, n) = (release.clone(), started.clone());
    let handler = handler_fn(move |_| {
        let (r, n) = (r.clone(), n.clone());
        async move {
            n.fetch_add(1, Ordering::SeqCst);
            // Held until all are running, so one completion call carries thousands.
            r.notified().await;
            Ok(json!(null))
        }
    });
    let worker = spawn_worker(&s.queue, handler, WorkerOptions { concurrency: 10_000, ..fast_options() });
    s.queue.resume().await.unwrap();
    eventually("10,000 running", Duration::from_secs(60), || {
        let running = started.load(Ordering::SeqCst);
        async move { (running == 10_000).then_some(()) }
    })
    .await;
    release.notify_waiters();
    eventually("all done", Duration::from_secs(60), || {
        let (r, q, n) = (release.clone(), s.queue.clone(), started.clone());
        async move {
            r.notify_waiters();
            let counts = q.counts().await.unwrap();
            // (Completed jobs past the retention are deleted: count what ran instead.)
            let done = n.load(Ordering::SeqCst) == 12_000 && counts.waiting == 0 && counts.active == 0;
            done.then_some(counts)
        }
    })
    .await;
    worker.stop().await;
    assert_eq!(s.queue.counts().await.unwrap().dead, 0);
}
