//! The dead-letter queue across queues over the API.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use hoist_queue::{
    CancellationToken, JobError, JobOptions, NewJob, Queue, RedisConnection, Worker, WorkerOptions, handler_fn,
};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_requeue_and_purge_dead_letters() {
    let t = common::TestApp::start().await;
    let redis = &t.redis;
    // Fill two dead-letter queues with real failures.
    let connection = RedisConnection::connect(&redis.url()).await.unwrap();
    let once = JobOptions { max_attempts: 1, ..Default::default() };
    let stop = CancellationToken::new();
    for (queue_name, count, error) in
        [("emails", 3, "SMTP 550 mailbox unavailable"), ("sync", 2, "401 consent revoked")]
    {
        let queue = Queue::new(&connection, queue_name).unwrap();
        let jobs = (0..count).map(|i| NewJob::new("j", json!(i)).with_options(once.clone())).collect();
        queue.enqueue_bulk(jobs).await.unwrap();
        let handler = handler_fn(move |_| async move { Err::<serde_json::Value, _>(JobError::permanent(error)) });
        tokio::spawn(Worker::new(queue, handler, WorkerOptions::default()).run(stop.clone()));
    }
    let queues = [Queue::new(&connection, "emails").unwrap(), Queue::new(&connection, "sync").unwrap()];
    for _ in 0..200 {
        if queues[0].counts().await.unwrap().dead == 3 && queues[1].counts().await.unwrap().dead == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    stop.cancel();

    let (mut admin, csrf) = (t.admin, t.csrf);
    let h = [("x-csrf-token", csrf.as_str())];

    let all = admin.send("GET", "/api/v1/dead-letters", None, &[]).await;
    assert_eq!(all.body.as_array().unwrap().len(), 5, "{:?}", all.body);
    let smtp = admin.send("GET", "/api/v1/dead-letters?error=smtp%20550", None, &[]).await;
    assert_eq!(smtp.body.as_array().unwrap().len(), 3);
    assert!(smtp.body.as_array().unwrap().iter().all(|j| j["queue"] == "emails"));
    let by_queue = admin.send("GET", "/api/v1/dead-letters?queue=sync", None, &[]).await;
    assert_eq!(by_queue.body.as_array().unwrap().len(), 2);
    let old = admin.send("GET", "/api/v1/dead-letters?older_than_ms=3600000", None, &[]).await;
    assert!(old.body.as_array().unwrap().is_empty(), "none died an hour ago");

    // Requeue a selection (with max_attempts 1 they die again, but they were requeued).
    let id = smtp.body[0]["id"].as_str().unwrap();
    let r = admin
        .send("POST", "/api/v1/dead-letters/requeue", Some(json!({ "jobs": { "queue": "emails", "ids": [id] } })), &h)
        .await;
    assert_eq!((r.status, r.body["affected"].as_u64()), (StatusCode::OK, Some(1)), "{:?}", r.body);
    assert_eq!(queues[0].counts().await.unwrap().waiting, 1);

    // Purge everything a filter matches.
    let r =
        admin.send("POST", "/api/v1/dead-letters/purge", Some(json!({ "filter": { "error": "consent" } })), &h).await;
    assert_eq!(r.body["affected"], 2);
    assert_eq!(queues[1].counts().await.unwrap().dead, 0);
    assert_eq!(queues[0].counts().await.unwrap().dead, 2, "other errors untouched");
    let r = admin
        .send("POST", "/api/v1/dead-letters/purge", Some(json!({ "jobs": { "queue": "emails", "ids": [] } })), &h)
        .await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("ids")));
    let r = admin.send("POST", "/api/v1/dead-letters/purge", Some(json!({ "everything": true })), &h).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
