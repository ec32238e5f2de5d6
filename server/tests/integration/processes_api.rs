//! `/api/v1/processes` by role, and its refusals: staff read the list, admins and
//! operators quiet and stop; each refusal names what is wrong.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use hoist_queue::{CancellationToken, Process, ProcessOptions, RedisConnection};
use hoist_server::users::{Role, create_user};
use serde_json::json;

#[tokio::test]
async fn processes_are_listed_for_staff_and_commanded_by_operators() {
    let t = common::TestApp::start().await;
    create_user(&t.db, "vera", "vera-password", Role::Viewer).await.unwrap();
    create_user(&t.db, "olga", "olga-password", Role::Operator).await.unwrap();
    create_user(&t.db, "ulan", "ulan-password", Role::User).await.unwrap();
    let (mut vera, vera_csrf) = t.client("vera", "vera-password", "10.1.0.9:1").await;
    let (mut olga, olga_csrf) = t.client("olga", "olga-password", "10.1.0.10:1").await;
    let (mut ulan, _) = t.client("ulan", "ulan-password", "10.1.0.11:1").await;
    let mut admin = t.admin;

    // A process of an embedding application, on the test's Redis.
    let redis = RedisConnection::connect(&t.redis.url()).await.unwrap();
    let options = ProcessOptions { kind: "billing".into(), version: "2.1.0".into(), id: Some("billing-1".into()) };
    let process = Process::new(&redis, options).unwrap();
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let (process, stop) = (process.clone(), stop.clone());
        async move { process.run(stop).await }
    });

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let listed = loop {
        let reply = vera.send("GET", "/api/v1/processes", None, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        if let Some(found) = reply.body["processes"].as_array().unwrap().iter().find(|p| p["id"] == "billing-1") {
            break found.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "the process was not listed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (&listed["kind"], &listed["version"], &listed["state"]),
        (&json!("billing"), &json!("2.1.0"), &json!("running"))
    );
    assert_eq!(ulan.send("GET", "/api/v1/processes", None, &[]).await.status, StatusCode::FORBIDDEN);

    let quiet = "/api/v1/processes/billing-1/quiet";
    let r = vera.send("POST", quiet, None, &[("x-csrf-token", vera_csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "viewers only watch");
    let r = olga.send("POST", quiet, None, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF header");
    let too_long = format!("/api/v1/processes/{}/quiet", "x".repeat(201));
    let r = olga.send("POST", &too_long, None, &[("x-csrf-token", olga_csrf.as_str())]).await;
    assert_eq!((r.status, &r.body["error"]["field"]), (StatusCode::BAD_REQUEST, &json!("id")), "{:?}", r.body);
    let r = olga.send("POST", "/api/v1/processes/nobody/quiet", None, &[("x-csrf-token", olga_csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!process.is_quiet(), "refusals send nothing");

    let r = olga.send("POST", quiet, None, &[("x-csrf-token", olga_csrf.as_str())]).await;
    assert_eq!((r.status, r.body), (StatusCode::ACCEPTED, json!({ "process": "billing-1", "command": "quiet" })));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !process.is_quiet() {
        assert!(tokio::time::Instant::now() < deadline, "the process did not hear the quiet");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // An embedding application (anything but a `hoist worker`) serves the dashboard and
    // API: only an admin stops it.
    let r = olga.send("POST", "/api/v1/processes/billing-1/stop", None, &[("x-csrf-token", olga_csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.body["error"]["message"], "stopping a server process needs the admin role");
    let r = admin.send("POST", "/api/v1/processes/billing-1/stop", None, &[("x-csrf-token", t.csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    tokio::time::timeout(Duration::from_secs(5), process.stop_requested()).await.expect("stop heard");

    stop.cancel();
    running.await.unwrap().unwrap();
    let r = admin.send("POST", quiet, None, &[("x-csrf-token", t.csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "a stopped process takes no command: {:?}", r.body);

    let audited: Vec<(String, String)> =
        sqlx::query_as("SELECT actor_name, action FROM audit_log WHERE target = 'billing-1' ORDER BY id")
            .fetch_all(&t.db.pool)
            .await
            .unwrap();
    assert_eq!(audited, [("olga".into(), "process.quiet".into()), ("admin".into(), "process.stop".into())]);
}
