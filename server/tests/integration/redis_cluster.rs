//! `hoist serve` on a Redis Cluster, configured as README says (`REDIS_URL` listing the
//! nodes): the REST API enqueues and lists, the dashboard's queue list shows the queues,
//! and the server's workers run the jobs of several queues.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use hoist_server::Hoist;
use hoist_server::queue::{Handlers, JobState, handler_fn};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_on_a_redis_cluster() {
    let cluster = hoist_testkit::RedisCluster::start();
    let database = hoist_testkit::sqlite_database();
    let echo = || Handlers::new().on("echo", handler_fn(|ctx| async move { Ok(ctx.job().payload.clone()) }));
    let hoist = Hoist::builder()
        .redis_url(cluster.url())
        .database_url(database.url())
        .admin_password(common::ADMIN_PASSWORD)
        .queue("alpha", echo())
        .queue("beta", echo())
        .queue("gamma", echo())
        .build()
        .await
        .unwrap();
    let running = hoist.start().await.unwrap();
    let mut admin = common::Client::new(&hoist.router(), "10.5.0.1:1");
    let csrf = admin.login("admin", common::ADMIN_PASSWORD).await.body["csrf_token"].as_str().unwrap().to_string();

    let mut ids = vec![];
    for queue in ["alpha", "beta", "gamma"] {
        let added = admin
            .send(
                "POST",
                &format!("/api/v1/queues/{queue}/jobs"),
                Some(json!({ "name": "echo", "payload": { "on": queue } })),
                &[("x-csrf-token", &csrf)],
            )
            .await;
        assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.body);
        ids.push((queue, added.body["id"].as_str().unwrap().to_string()));
    }
    let queues = admin.send("GET", "/api/v1/queues", None, &[]).await;
    let mut names: Vec<&str> = queues.body.as_array().unwrap().iter().filter_map(|q| q["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["alpha", "beta", "gamma"], "{}", queues.body);
    for (queue, id) in &ids {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let job = admin.send("GET", &format!("/api/v1/queues/{queue}/jobs/{id}"), None, &[]).await;
            if job.body["state"] == "completed" {
                assert_eq!(job.body["result"], json!({ "on": queue }), "{}", job.body);
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{queue}: {}", job.body);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let job = hoist.queue("beta").unwrap().get_job(&ids[1].1).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Completed);
    running.stop().await;
}
