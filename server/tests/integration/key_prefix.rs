//! Two installations on one Redis, each under its own key prefix (`HOIST_KEY_PREFIX`),
//! never see each other's queues, jobs or schedules.

use crate::common;

use axum::http::StatusCode;
use hoist_queue::{NewJob, Queue, RedisConnection, ScheduleSpec, Scheduler};
use serde_json::json;

#[tokio::test]
async fn a_server_sees_only_the_queues_under_its_prefix() {
    let mut t = common::TestApp::start_with(hoist_testkit::sqlite_database(), &["--key-prefix", "billing"]).await;
    let plain = RedisConnection::connect(&t.redis.url()).await.unwrap();
    let billing = plain.clone().with_key_prefix("billing").unwrap();
    Queue::new(&plain, "emails").unwrap().enqueue(NewJob::new("welcome", json!({}))).await.unwrap();
    Queue::new(&billing, "invoices").unwrap().enqueue(NewJob::new("send", json!({}))).await.unwrap();

    let queues = t.admin.send("GET", "/api/v1/queues", None, &[]).await;
    assert_eq!(queues.status, StatusCode::OK);
    let names: Vec<&str> = queues.body.as_array().unwrap().iter().filter_map(|q| q["name"].as_str()).collect();
    assert_eq!(names, ["invoices"], "{}", queues.body);
    let missing = t.admin.send("GET", "/api/v1/queues/emails/jobs?state=waiting", None, &[]).await;
    assert_eq!(missing.body["jobs"].as_array().map(Vec::len).unwrap_or_default(), 0, "{}", missing.body);

    // What the server enqueues lands under its prefix only.
    let csrf = t.csrf.clone();
    let headers = [("x-csrf-token", csrf.as_str())];
    let body = json!({ "name": "x", "payload": {} });
    let added = t.admin.send("POST", "/api/v1/queues/emails/jobs", Some(body), &headers).await;
    assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.body);
    let id = added.body["id"].as_str().unwrap();
    assert!(Queue::new(&billing, "emails").unwrap().get_job(id).await.unwrap().is_some());
    assert!(Queue::new(&plain, "emails").unwrap().get_job(id).await.unwrap().is_none());
    assert_eq!(Queue::new(&plain, "emails").unwrap().counts().await.unwrap().waiting, 1, "the other's job untouched");
}

#[tokio::test]
async fn schedules_and_queue_lists_stay_under_their_prefix() {
    let redis = hoist_testkit::RedisServer::start();
    let a = RedisConnection::connect(&redis.url()).await.unwrap().with_key_prefix("a").unwrap();
    let b = a.clone().with_key_prefix("b").unwrap();
    Queue::new(&a, "q").unwrap().enqueue(NewJob::new("n", json!({}))).await.unwrap();
    Scheduler::new(&a)
        .upsert(&ScheduleSpec::new("tick", "0 * * * * *", "q", NewJob::new("n", json!({}))))
        .await
        .unwrap();
    assert_eq!(Queue::list_all(&a).await.unwrap(), ["q"]);
    assert!(Queue::list_all(&b).await.unwrap().is_empty());
    assert_eq!(Queue::new(&b, "q").unwrap().counts().await.unwrap().waiting, 0);
    assert_eq!(Scheduler::new(&a).list().await.unwrap().len(), 1);
    assert!(Scheduler::new(&b).list().await.unwrap().is_empty());
    for bad in ["", "a b", "x{y}", "a:b", &"p".repeat(65)] {
        assert!(a.clone().with_key_prefix(bad).is_err(), "{bad:?}");
    }
}
