//! `/metrics` beyond the counts: the SQL history's backlog; counters that only grow;
//! per-queue series from one process at a time; none left of a removed queue.
//!
//! The process's metrics recorder is shared by every test of this binary: these tests
//! use queue names no other test does, so no other test's series show up in theirs.

use hoist_queue::{Handlers, JobError, NewJob, Queue, Worker, WorkerOptions, handler_fn};
use hoist_server::Hoist;

/// `/metrics` says how many finished jobs wait in Redis for the SQL history copy.
#[tokio::test]
async fn metrics_show_the_history_backlog() {
    let (redis, database) = (hoist_testkit::RedisServer::start(), hoist_testkit::sqlite_database());
    let hoist = Hoist::builder()
        .redis_url(redis.url())
        .database_url(database.url())
        .admin_password("metrics-admin-pw")
        .build()
        .await
        .unwrap();
    let queue = Queue::new(hoist.connection(), "backlogged").unwrap();
    queue.set_archiving(true).await.unwrap();
    for _ in 0..3 {
        queue.enqueue(NewJob::new("r", serde_json::json!({}))).await.unwrap();
    }
    let handlers = Handlers::new().on("r", handler_fn(|_ctx| async { Ok(serde_json::json!(null)) }));
    Worker::new(queue.clone(), handlers, WorkerOptions::default()).run_until_idle().await.unwrap();

    let text = metrics(&hoist.router()).await;
    let line = text.lines().find(|l| l.starts_with("hoist_history_backlog{queue=\"backlogged\"}"));
    assert_eq!(line, Some("hoist_history_backlog{queue=\"backlogged\"} 3"), "{text}");
}

/// The value of the sample `series` (name and labels as written), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn per_queue_counters_grow_come_from_one_process_and_go_with_their_queue() {
    let (redis, database) = (hoist_testkit::RedisServer::start(), hoist_testkit::sqlite_database());
    let build = || {
        Hoist::builder().redis_url(redis.url()).database_url(database.url()).admin_password("metrics-admin-pw").build()
    };
    // Two server processes' worth of routers on one Redis.
    let (first, second) = (build().await.unwrap(), build().await.unwrap());
    let queue = Queue::new(first.connection(), "metered").unwrap();
    let handlers = Handlers::new().on(
        "charge",
        handler_fn(|ctx| async move {
            match ctx.job().payload["card"].as_str() {
                Some("ok") => Ok(serde_json::json!(null)),
                _ => Err(JobError::permanent("card declined")),
            }
        }),
    );
    let run = |cards: &'static [&'static str]| {
        let (queue, handlers) = (queue.clone(), handlers.clone());
        async move {
            for card in cards {
                queue.enqueue(NewJob::new("charge", serde_json::json!({ "card": card }))).await.unwrap();
            }
            Worker::new(queue, handlers, WorkerOptions::default()).run_until_idle().await.unwrap();
        }
    };
    run(&["ok", "ok", "declined"]).await;

    let text = metrics(&first.router()).await;
    assert_eq!(sample(&text, "hoist_metrics_exporter"), Some(1.0), "the first process scraped exports: {text}");
    assert!(text.contains("# TYPE hoist_queue_jobs_completed_total counter"), "{text}");
    assert_eq!(sample(&text, r#"hoist_queue_jobs_completed_total{queue="metered"}"#), Some(2.0), "{text}");
    assert_eq!(sample(&text, r#"hoist_queue_jobs_failed_total{queue="metered"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"hoist_queue_jobs_dead_total{queue="metered"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"hoist_queue_jobs_retried_total{queue="metered"}"#), Some(0.0), "{text}");
    assert_eq!(sample(&text, r#"hoist_jobs{queue="metered",state="completed"}"#), Some(2.0), "{text}");

    // The other process reports only its own series while the first one exports.
    let other = metrics(&second.router()).await;
    assert_eq!(sample(&other, "hoist_metrics_exporter"), Some(0.0), "{other}");
    assert!(!other.contains("hoist_jobs{") && !other.contains("hoist_queue_"), "no per-queue series twice: {other}");

    // Counters only grow, also when the jobs they counted are cleaned away.
    run(&["ok"]).await;
    queue.clean(hoist_queue::JobState::Completed, std::time::Duration::ZERO).await.unwrap();
    let text = metrics(&first.router()).await;
    assert_eq!(sample(&text, r#"hoist_queue_jobs_completed_total{queue="metered"}"#), Some(3.0), "{text}");
    assert_eq!(sample(&text, r#"hoist_jobs{queue="metered",state="completed"}"#), Some(0.0), "{text}");

    // A removed queue's per-queue series are gone from the next scrape.
    queue.obliterate(true).await.unwrap();
    let text = metrics(&first.router()).await;
    assert_eq!(sample(&text, "hoist_metrics_exporter"), Some(1.0), "{text}");
    let left: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(r#"queue="metered""#) && !l.starts_with("hoist_jobs_processed_total"))
        .collect();
    assert!(left.iter().all(|l| l.starts_with("hoist_job_duration_seconds")), "series of the removed queue: {left:?}");
}

async fn metrics(app: &axum::Router) -> String {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().uri("/metrics").body(axum::body::Body::empty()).unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo("10.8.0.1:1".parse::<std::net::SocketAddr>().unwrap()));
    let response = app.clone().oneshot(request).await.unwrap();
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}
