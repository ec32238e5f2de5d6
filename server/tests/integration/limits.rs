//! A queue's limits over the API: read, set, refused with the field named, audited, for
//! operators only; and a change reaches every process at once — three workers, each in a
//! connection of its own, start what a raised cap allows within a second, and stop
//! starting beyond a lowered one.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use hoist_queue::{NewJob, Queue, RedisConnection, WorkerOptions};
use hoist_server::users::{Role, create_user};
use serde_json::json;

#[tokio::test]
async fn limits_are_read_set_checked_and_audited() {
    let t = common::TestApp::start().await;
    create_user(&t.db, "vera", "vera-password", Role::Viewer).await.unwrap();
    let (mut vera, vera_csrf) = t.client("vera", "vera-password", "10.1.0.9:1").await;
    let mut admin = t.admin;
    let csrf = [("x-csrf-token", t.csrf.as_str())];

    let r = admin.send("GET", "/api/v1/queues/mail/limits", None, &[]).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::OK,
            json!({ "concurrency": null, "rate": null, "process_concurrency": null, "group_concurrency": null })
        )
    );

    let limits = json!({ "concurrency": 7, "rate": { "max": 100, "per_ms": 60000 }, "process_concurrency": 3, "group_concurrency": 2 });
    let r = admin.send("PUT", "/api/v1/queues/mail/limits", Some(limits.clone()), &csrf).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, limits.clone()));
    assert_eq!(admin.send("GET", "/api/v1/queues/mail/limits", None, &[]).await.body, limits);

    for (body, field) in [
        (
            json!({ "concurrency": 0, "rate": null, "process_concurrency": null, "group_concurrency": null }),
            "concurrency",
        ),
        (
            json!({ "concurrency": 100001, "rate": null, "process_concurrency": null, "group_concurrency": null }),
            "concurrency",
        ),
        (
            json!({ "concurrency": null, "rate": { "max": 0, "per_ms": 1000 }, "process_concurrency": null, "group_concurrency": null }),
            "rate.max",
        ),
        (
            json!({ "concurrency": null, "rate": { "max": 5, "per_ms": 0 }, "process_concurrency": null, "group_concurrency": null }),
            "rate.per_ms",
        ),
        (
            json!({ "concurrency": null, "rate": null, "process_concurrency": 0, "group_concurrency": null }),
            "process_concurrency",
        ),
        (
            json!({ "concurrency": null, "rate": null, "process_concurrency": 10001, "group_concurrency": null }),
            "process_concurrency",
        ),
        (
            json!({ "concurrency": null, "rate": null, "process_concurrency": null, "group_concurrency": 0 }),
            "group_concurrency",
        ),
        (
            json!({ "concurrency": null, "rate": null, "process_concurrency": null, "group_concurrency": 100001 }),
            "group_concurrency",
        ),
    ] {
        let r = admin.send("PUT", "/api/v1/queues/mail/limits", Some(body.clone()), &csrf).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert_eq!(r.body["error"]["field"], field, "{body}: {:?}", r.body);
    }
    let r = admin.send("PUT", "/api/v1/queues/mail/limits", Some(json!({ "concurrency": 2, "burst": 1 })), &csrf).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "unknown fields are refused: {:?}", r.body);
    let r = admin
        .send("PUT", "/api/v1/queues/mail/limits", Some(json!({ "concurrency": 2, "process_concurrency": 1 })), &csrf)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a left-out limit is not taken as removed: {:?}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("rate"), "{:?}", r.body);
    assert_eq!(
        admin.send("GET", "/api/v1/queues/mail/limits", None, &[]).await.body,
        limits,
        "refusals change nothing"
    );

    // Removing a limit is `null`.
    let r = admin
        .send(
            "PUT",
            "/api/v1/queues/mail/limits",
            Some(json!({ "concurrency": null, "rate": null, "process_concurrency": null, "group_concurrency": null })),
            &csrf,
        )
        .await;
    assert_eq!(
        r.body,
        json!({ "concurrency": null, "rate": null, "process_concurrency": null, "group_concurrency": null })
    );

    assert_eq!(vera.send("GET", "/api/v1/queues/mail/limits", None, &[]).await.status, StatusCode::OK);
    let r = vera
        .send("PUT", "/api/v1/queues/mail/limits", Some(limits.clone()), &[("x-csrf-token", vera_csrf.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let audited: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor_name, params, result FROM audit_log WHERE action = 'queue.limits' AND target = 'mail' ORDER BY id",
    )
    .fetch_all(&t.db.pool)
    .await
    .unwrap();
    assert_eq!(audited.len(), 2, "the two changes; refused input changes nothing and is not audited: {audited:?}");
    assert_eq!(audited[0].0, "admin");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&audited[0].1).unwrap(),
        json!({ "concurrency": 7, "rate": { "max": 100, "per_ms": 60000 }, "process_concurrency": 3, "group_concurrency": 2 })
    );
    assert_eq!(audited[0].2, "ok");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&audited[1].1).unwrap(),
        json!({ "concurrency": null, "rate": null, "process_concurrency": null, "group_concurrency": null })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_changed_cap_reaches_three_processes_within_a_second() {
    let t = common::TestApp::start().await;
    let mut admin = t.admin;
    let csrf = [("x-csrf-token", t.csrf.as_str())];
    let cap =
        |n: u32| json!({ "concurrency": n, "rate": null, "process_concurrency": null, "group_concurrency": null });
    assert_eq!(admin.send("PUT", "/api/v1/queues/capped/limits", Some(cap(1)), &csrf).await.status, StatusCode::OK);

    let (stop, running, workers) = three_processes(&t.redis.url(), "capped", 4).await;
    let total = |running: &[Arc<AtomicUsize>]| running.iter().map(|r| r.load(Ordering::SeqCst)).sum::<usize>();

    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(total(&running), 1, "the cap of 1 holds across the three");

    let raised = Instant::now();
    assert_eq!(admin.send("PUT", "/api/v1/queues/capped/limits", Some(cap(9)), &csrf).await.status, StatusCode::OK);
    while total(&running) < 9 {
        assert!(
            raised.elapsed() < Duration::from_secs(1),
            "9 running within a second; {} after {:?}",
            total(&running),
            raised.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = raised.elapsed();
    let per_process: Vec<usize> = running.iter().map(|r| r.load(Ordering::SeqCst)).collect();
    assert!(per_process.iter().all(|&n| n >= 1), "every process took part: {per_process:?}");
    println!("raised cap seen by all three processes in {took:?}: {per_process:?}");

    // Lowered: what runs finishes; no process starts beyond the new cap.
    assert_eq!(admin.send("PUT", "/api/v1/queues/capped/limits", Some(cap(2)), &csrf).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1700)).await; // the nine finish
    let watch_until = Instant::now() + Duration::from_millis(2000);
    while Instant::now() < watch_until {
        assert!(total(&running) <= 2, "at most 2 running after the cap went down: {}", total(&running));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
}

/// Each process's concurrency, set on the queue: three processes started with 1 each run
/// 3 each within a second of the PUT, and go back to 1 when it is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_changed_per_process_concurrency_reaches_three_processes_within_a_second() {
    let t = common::TestApp::start().await;
    let mut admin = t.admin;
    let csrf = [("x-csrf-token", t.csrf.as_str())];
    let per_process = |n: Option<u32>| json!({ "concurrency": null, "rate": null, "process_concurrency": n, "group_concurrency": null });
    let (stop, running, workers) = three_processes(&t.redis.url(), "spread", 1).await;
    let each = |running: &[Arc<AtomicUsize>]| running.iter().map(|r| r.load(Ordering::SeqCst)).collect::<Vec<_>>();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(each(&running), [1, 1, 1], "each process runs its own 1");

    let raised = Instant::now();
    let r = admin.send("PUT", "/api/v1/queues/spread/limits", Some(per_process(Some(3))), &csrf).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    while each(&running) != [3, 3, 3] {
        assert!(raised.elapsed() < Duration::from_secs(1), "3 each within a second; {:?}", each(&running));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("per-process concurrency 1 -> 3 seen by all three processes in {:?}", raised.elapsed());

    assert_eq!(
        admin.send("PUT", "/api/v1/queues/spread/limits", Some(per_process(None)), &csrf).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(1700)).await; // what ran finishes
    let watch_until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < watch_until {
        assert!(each(&running).iter().all(|&n| n <= 1), "back to 1 each: {:?}", each(&running));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
}

/// 60 slow jobs on `queue_name`, and three processes working it: each its own connection,
/// its own worker of `concurrency`, and its own count of jobs running.
async fn three_processes(
    redis_url: &str,
    queue_name: &str,
    concurrency: usize,
) -> (hoist_queue::CancellationToken, Vec<Arc<AtomicUsize>>, Vec<tokio::task::JoinHandle<hoist_queue::Result<()>>>) {
    let producer = Queue::new(&RedisConnection::connect(redis_url).await.unwrap(), queue_name).unwrap();
    for n in 0..60 {
        producer.enqueue(NewJob::new("slow", json!({ "n": n }))).await.unwrap();
    }
    let stop = hoist_queue::CancellationToken::new();
    let mut running = vec![];
    let mut workers = vec![];
    for _ in 0..3 {
        let queue = Queue::new(&RedisConnection::connect(redis_url).await.unwrap(), queue_name).unwrap();
        let now_running = Arc::new(AtomicUsize::new(0));
        running.push(now_running.clone());
        let handler = hoist_queue::handler_fn(move |_| {
            let now_running = now_running.clone();
            async move {
                now_running.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1500)).await;
                now_running.fetch_sub(1, Ordering::SeqCst);
                Ok(json!(null))
            }
        });
        let options = WorkerOptions { concurrency, ..WorkerOptions::default() };
        let worker = hoist_queue::Worker::new(queue, hoist_queue::Handlers::new().on("slow", handler), options);
        workers.push(tokio::spawn(worker.run(stop.clone())));
    }
    (stop, running, workers)
}
