//! `/metrics` beyond the counts: the SQL history's backlog.

use hoist_server::Hoist;

/// `/metrics` says how many finished jobs wait in Redis for the SQL history copy.
#[tokio::test]
async fn metrics_show_the_history_backlog() {
    use hoist_queue::{Handlers, NewJob, Queue, Worker, WorkerOptions, handler_fn};

    let (redis, database) = (hoist_testkit::RedisServer::start(), hoist_testkit::sqlite_database());
    let hoist = Hoist::builder()
        .redis_url(redis.url())
        .database_url(database.url())
        .admin_password("metrics-admin-pw")
        .build()
        .await
        .unwrap();
    let queue = Queue::new(hoist.connection(), "reports").unwrap();
    queue.set_archiving(true).await.unwrap();
    for _ in 0..3 {
        queue.enqueue(NewJob::new("r", serde_json::json!({}))).await.unwrap();
    }
    let handlers = Handlers::new().on("r", handler_fn(|_ctx| async { Ok(serde_json::json!(null)) }));
    Worker::new(queue.clone(), handlers, WorkerOptions::default()).run_until_idle().await.unwrap();

    let text = metrics(&hoist.router()).await;
    let line = text.lines().find(|l| l.starts_with("hoist_history_backlog{queue=\"reports\"}"));
    assert_eq!(line, Some("hoist_history_backlog{queue=\"reports\"} 3"), "{text}");
}

async fn metrics(app: &axum::Router) -> String {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().uri("/metrics").body(axum::body::Body::empty()).unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo("10.8.0.1:1".parse::<std::net::SocketAddr>().unwrap()));
    let response = app.clone().oneshot(request).await.unwrap();
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}
