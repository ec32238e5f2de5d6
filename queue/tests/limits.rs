//! Throttling: per-key sliding windows on enqueue, deferral from handlers, a global
//! concurrency cap, and a queue rate limit shared by several worker processes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{eventually, fast_options, setup, spawn_worker, wait_for_state};
use hoist_queue::{
    CancellationToken, JobOptions, JobState, KeyRateLimit, NewJob, Queue, QueueError, QueueLimits, RateLimit,
    RedisConnection, Worker, WorkerOptions, handler_fn,
};
use serde_json::json;

fn limited(key: &str) -> NewJob {
    let rate_limit = Some(KeyRateLimit { key: key.into(), max: 10, per: Duration::from_secs(2) });
    NewJob::new("notify", json!({})).with_options(JobOptions { rate_limit, ..Default::default() })
}

#[tokio::test]
async fn per_key_limit_rejects_the_eleventh_and_admits_it_after_the_window() {
    let s = setup().await;
    for _ in 0..10 {
        s.queue.enqueue(limited("owner:1")).await.unwrap();
    }
    let retry_after = match s.queue.enqueue(limited("owner:1")).await {
        Err(QueueError::RateLimited { retry_after }) => retry_after,
        other => panic!("expected RateLimited, got {other:?}"),
    };
    assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(2), "{retry_after:?}");
    // Another key has its own window.
    s.queue.enqueue(limited("owner:2")).await.unwrap();
    // A batch that would overflow is refused whole.
    let batch = vec![limited("owner:3"); 11];
    assert!(matches!(s.queue.enqueue_bulk(batch).await, Err(QueueError::RateLimited { .. })));
    assert_eq!(s.queue.counts().await.unwrap().waiting, 11);

    tokio::time::sleep(retry_after + Duration::from_millis(50)).await;
    s.queue.enqueue(limited("owner:1")).await.expect("admitted once the window moved on");
}

#[tokio::test]
async fn ten_per_owner_per_hour_says_when_the_eleventh_may_come() {
    let s = setup().await;
    let hourly = |owner: &str| {
        let rate_limit = Some(KeyRateLimit { key: format!("owner:{owner}"), max: 10, per: Duration::from_secs(3600) });
        NewJob::new("email", json!({})).with_options(JobOptions { rate_limit, ..Default::default() })
    };
    for _ in 0..10 {
        s.queue.enqueue(hourly("9")).await.unwrap();
    }
    match s.queue.enqueue(hourly("9")).await {
        Err(QueueError::RateLimited { retry_after }) => {
            assert!(
                retry_after > Duration::from_secs(3590) && retry_after <= Duration::from_secs(3600),
                "{retry_after:?}"
            )
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_can_defer_to_the_next_free_slot_without_spending_an_attempt() {
    let s = setup().await;
    let worker = spawn_worker(
        &s.queue,
        handler_fn(|ctx| async move {
            ctx.take_key_slot("owner:7", 2, Duration::from_millis(800)).await?;
            Ok(json!("sent"))
        }),
        fast_options(),
    );
    let one_attempt = JobOptions { max_attempts: 1, ..Default::default() };
    let ids = s
        .queue
        .enqueue_bulk((0..4).map(|_| NewJob::new("email", json!({})).with_options(one_attempt.clone())).collect())
        .await
        .unwrap();
    let mut starts = vec![];
    for e in &ids {
        let job = wait_for_state(&s.queue, &e.id, JobState::Completed).await;
        assert_eq!(job.attempts, 1, "deferring did not spend the only attempt");
        starts.push(job.started_at.unwrap());
    }
    starts.sort();
    assert!(starts[2] - starts[0] >= 800, "the third ran only after the window: {starts:?}");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_concurrency_is_never_exceeded_across_workers() {
    let s = setup().await;
    s.queue
        .set_limits(&QueueLimits {
            concurrency: Some(3),
            rate: None,
            process_concurrency: None,
            group_concurrency: None,
        })
        .await
        .unwrap();
    assert_eq!(s.queue.limits().await.unwrap().concurrency, Some(3));
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (now, peak) = (now.clone(), peak.clone());
        Arc::new(handler_fn(move |_| {
            let (now, peak) = (now.clone(), peak.clone());
            async move {
                let current = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(current, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(json!(null))
            }
        }))
    };
    let workers: Vec<_> = (0..3)
        .map(|_| spawn_worker(&s.queue, handler.clone(), WorkerOptions { concurrency: 5, ..fast_options() }))
        .collect();
    s.queue.enqueue_bulk((0..60).map(|i| NewJob::new("n", json!(i))).collect()).await.unwrap();
    eventually("all 60 done", Duration::from_secs(30), || async {
        (s.queue.counts().await.unwrap().completed == 60).then_some(())
    })
    .await;
    assert_eq!(peak.load(Ordering::SeqCst), 3, "15 slots in workers, 3 allowed by the queue");
    for worker in workers {
        worker.stop().await;
    }
    assert!(
        s.queue
            .set_limits(&QueueLimits {
                concurrency: Some(0),
                rate: None,
                process_concurrency: None,
                group_concurrency: None
            })
            .await
            .is_err()
    );
}

/// Not a test of its own: the worker process of
/// `three_worker_processes_never_exceed_the_queue_rate_limit`.
#[test]
#[ignore = "the worker process of three_worker_processes_never_exceed_the_queue_rate_limit"]
fn child_rate_limited_worker() {
    let url = std::env::var("HOIST_CHILD_REDIS_URL").expect("run by the parent test");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let redis = RedisConnection::connect(&url).await.unwrap();
        let queue = Queue::new(&redis, "throttled").unwrap();
        let handler = handler_fn(|_| async { Ok(json!(null)) });
        Worker::new(queue, handler, WorkerOptions { concurrency: 10, ..fast_options() })
            .run(CancellationToken::new())
            .await
            .unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_worker_processes_never_exceed_the_queue_rate_limit() {
    let s = setup().await;
    let queue = Queue::new(&s.redis, "throttled").unwrap();
    let window = Duration::from_millis(500);
    queue
        .set_limits(&QueueLimits {
            concurrency: None,
            rate: Some(RateLimit { max: 5, per: window }),
            process_concurrency: None,
            group_concurrency: None,
        })
        .await
        .unwrap();
    let mut children: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["child_rate_limited_worker", "--exact", "--ignored", "--nocapture"])
                .env("HOIST_CHILD_REDIS_URL", s.server.url())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let ids = queue.enqueue_bulk((0..30).map(|i| NewJob::new("n", json!(i))).collect()).await.unwrap();
    let max_active = Arc::new(std::sync::atomic::AtomicU64::new(0));
    eventually("all 30 done", Duration::from_secs(30), || async {
        let c = queue.counts().await.unwrap();
        max_active.fetch_max(c.active, Ordering::SeqCst);
        (c.completed == 30).then_some(())
    })
    .await;
    let max_active = max_active.load(Ordering::SeqCst);
    for child in &mut children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(max_active <= 5, "limited workers hold no more jobs than they may start ({max_active})");
    let mut starts: Vec<i64> = vec![];
    for e in &ids {
        starts.push(queue.get_job(&e.id).await.unwrap().unwrap().started_at.unwrap());
    }
    starts.sort();
    for (i, t) in starts.iter().enumerate() {
        let in_window = starts[i..].iter().take_while(|u| **u < t + window.as_millis() as i64).count();
        assert!(in_window <= 5, "{in_window} starts within {window:?} from {t}: {starts:?}");
    }
    // 30 jobs at 5 per 500 ms take at least 2.5 s.
    assert!(starts[29] - starts[0] >= 2500, "{starts:?}");
}

/// Regression: a window of 2^64-1 ms was stored, then every claim failed half-way (after
/// taking jobs off the waiting set) on the limiter's expiry, dropping the jobs.
#[tokio::test]
async fn limits_out_of_range_are_refused_and_a_bad_stored_window_drops_no_job() {
    let s = setup().await;
    for (limits, field) in [
        (
            QueueLimits { concurrency: Some(0), rate: None, process_concurrency: None, group_concurrency: None },
            "concurrency",
        ),
        (
            QueueLimits { concurrency: Some(100_001), rate: None, process_concurrency: None, group_concurrency: None },
            "concurrency",
        ),
        (
            QueueLimits {
                concurrency: None,
                rate: Some(RateLimit { max: 1, per: Duration::from_millis(u64::MAX) }),
                process_concurrency: None,
                group_concurrency: None,
            },
            "rate",
        ),
        (
            QueueLimits {
                concurrency: None,
                rate: Some(RateLimit { max: 0, per: Duration::from_secs(1) }),
                process_concurrency: None,
                group_concurrency: None,
            },
            "rate",
        ),
        (QueueLimits { group_concurrency: Some(0), ..QueueLimits::default() }, "group_concurrency"),
        (QueueLimits { group_concurrency: Some(100_001), ..QueueLimits::default() }, "group_concurrency"),
    ] {
        let err = s.queue.set_limits(&limits).await.unwrap_err();
        assert!(matches!(err, QueueError::InvalidOption { field: f, .. } if f == field), "{limits:?}: {err}");
    }
    assert_eq!(s.queue.limits().await.unwrap(), QueueLimits::default());

    // A window past any bound, stored by an older version or by hand: ignored, not fatal.
    let mut hset = redis::cmd("HSET");
    hset.arg("hoist:{tests}:meta").arg("rate_max").arg(1).arg("rate_window").arg(u64::MAX.to_string());
    let _: () = s.redis.query(&hset).await.unwrap();
    let ids: Vec<String> =
        s.queue.enqueue_bulk(vec![NewJob::new("x", json!({})); 5]).await.unwrap().into_iter().map(|e| e.id).collect();
    let worker = spawn_worker(&s.queue, handler_fn(|_| async { Ok(json!(null)) }), fast_options());
    for id in &ids {
        wait_for_state(&s.queue, id, JobState::Completed).await;
    }
    worker.stop().await;
}

/// A lockout counts an attempt against every subject at once and refuses, with the wait,
/// once any subject used its allowance; giving back clears or returns one attempt.
#[tokio::test]
async fn a_lockout_refuses_once_a_subject_used_its_allowance() {
    let s = setup().await;
    let lockout = hoist_queue::Lockout::new(&s.redis, "sign-in");
    let window = Duration::from_secs(60);
    let subjects = [("user:ada", 2), ("addr:10.0.0.7", 3)];
    assert_eq!(lockout.take(&subjects, window).await.unwrap(), None);
    assert_eq!(lockout.take(&subjects, window).await.unwrap(), None);
    let refused = lockout.take(&subjects, window).await.unwrap().expect("the account used its two");
    assert_eq!(refused.subject, 0, "the account refused it");
    let wait = refused.wait;
    assert!(wait > Duration::from_secs(55) && wait <= window, "{wait:?}");
    // Another account behind the same address has one attempt left there.
    assert_eq!(lockout.take(&[("user:bob", 2), ("addr:10.0.0.7", 3)], window).await.unwrap(), None);
    let refused = lockout.take(&[("user:cy", 2), ("addr:10.0.0.7", 3)], window).await.unwrap();
    assert_eq!(refused.map(|r| r.subject), Some(1), "the address refused it");
    // A success clears the account and gives the address its attempt back.
    lockout.give_back(&[("user:ada", true), ("addr:10.0.0.7", false)]).await.unwrap();
    assert_eq!(lockout.take(&subjects, window).await.unwrap(), None);
    assert!(matches!(lockout.take(&[("", 1)], window).await, Err(QueueError::InvalidOption { field: "subject", .. })));
    assert!(matches!(lockout.take(&[("user:x", 0)], window).await, Err(QueueError::InvalidOption { .. })));
}

/// A role has one holder at a time: others are refused until it is released or its ttl
/// runs out without a renewal; bad holders and ttls are refused before Redis.
#[tokio::test]
async fn a_role_has_one_holder_until_released_or_expired() {
    let s = setup().await;
    let role = hoist_queue::Role::new(&s.redis, "metrics-exporter");
    // Long enough not to run out between two calls on a busy machine.
    let ttl = Duration::from_secs(10);
    assert!(role.claim("web-1", ttl).await.unwrap());
    assert!(!role.claim("web-2", ttl).await.unwrap(), "held by web-1");
    assert!(role.claim("web-1", ttl).await.unwrap(), "the holder keeps it");
    role.release("web-2").await.unwrap();
    assert!(!role.claim("web-2", ttl).await.unwrap(), "only the holder can release it");
    role.release("web-1").await.unwrap();
    role.release("web-2").await.unwrap();
    assert!(role.claim("web-2", Duration::from_millis(300)).await.unwrap(), "free once released");
    // web-2 stops renewing: after its ttl, web-1 takes over.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(role.claim("web-1", ttl).await.unwrap(), "free once expired");
    // Another role is independent.
    assert!(hoist_queue::Role::new(&s.redis, "other").claim("web-2", ttl).await.unwrap());

    for (holder, ttl) in [("", ttl), (&"x".repeat(201)[..], ttl), ("web-3", Duration::ZERO)] {
        let refused = role.claim(holder, ttl).await.unwrap_err();
        assert!(matches!(refused, hoist_queue::QueueError::InvalidOption { .. }), "{refused:?}");
    }
}
