//! The HTTP server against a real Redis and SQLite: health, readiness, the SSR page and
//! start-up errors.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use hoist_server::config::{HttpConfig, StoreConfig};
use hoist_server::server::{build_state, router};
use hoist_testkit::{RedisServer, TestDatabase, sqlite_database};
use http_body_util::BodyExt;
use tower::ServiceExt;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    store: StoreConfig,
    #[command(flatten)]
    http: HttpConfig,
}

fn config(redis_url: &str, db: &TestDatabase) -> Args {
    Args::parse_from([
        "hoist",
        "--redis-url",
        redis_url,
        "--database-url",
        db.url(),
        "--addr",
        "127.0.0.1:0",
        "--admin-password",
        "test-admin-pass",
    ])
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, String) {
    let response = app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn health_readiness_and_home_page() {
    let mut redis = RedisServer::start();
    let db = sqlite_database();
    let args = config(&redis.url(), &db);
    let (state, _) = build_state(&args.store, &args.http).await.unwrap();
    let app = router(state);

    let (status, body) = get(&app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"status\":\"ok\""), "{body}");

    let (status, body) = get(&app, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("redis 7") || body.contains("redis "), "{body}");

    let (status, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("System status"), "{body}");
    assert!(body.contains("healthy"), "rendered with live data: {body}");
    assert!(body.contains("/pkg/hoist.js") || body.contains("hoist"), "hydration script linked");

    let (status, _) = get(&app, "/no-such-page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // With Redis gone, liveness holds and readiness names the culprit.
    redis.kill();
    let (status, _) = get(&app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get(&app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    let redis_report = &report["components"][0];
    assert_eq!(redis_report["name"], "Redis");
    assert_eq!(redis_report["up"], false);
    assert_eq!(report["components"][1]["up"], true);

    // And it recovers once Redis is back.
    redis.restart();
    let mut recovered = false;
    for _ in 0..50 {
        if get(&app, "/readyz").await.0 == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "readiness recovers after Redis restarts");
}

#[tokio::test]
async fn unreachable_redis_is_one_clear_error() {
    let db = sqlite_database();
    // A port nobody listens on: bind, read the port, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let args = config(&format!("redis://127.0.0.1:{port}"), &db);
    let err = build_state(&args.store, &args.http).await.err().expect("must fail");
    let message = format!("{err:#}");
    assert!(message.starts_with("REDIS_URL: cannot connect to redis://127.0.0.1:"), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
}

#[tokio::test]
async fn malformed_urls_name_their_variable() {
    let db = sqlite_database();
    let args = config("definitely not a url", &db);
    let err = build_state(&args.store, &args.http).await.err().unwrap();
    assert!(format!("{err:#}").starts_with("REDIS_URL:"), "{err:#}");

    let redis = RedisServer::start();
    let mut args = config(&redis.url(), &db);
    args.store.database_url = Some("mysql://nope/x".into());
    let err = build_state(&args.store, &args.http).await.err().unwrap();
    assert!(format!("{err:#}").starts_with("DATABASE_URL:"), "{err:#}");
}

#[tokio::test]
async fn metrics_expose_queue_counts_without_auth() {
    let redis = RedisServer::start();
    let db = sqlite_database();
    let args = config(&redis.url(), &db);
    let (state, _) = build_state(&args.store, &args.http).await.unwrap();
    let queue = hoist_queue::Queue::new(&state.engine, "mailer").unwrap();
    queue.enqueue(hoist_queue::NewJob::new("send", serde_json::json!({}))).await.unwrap();
    queue.enqueue(hoist_queue::NewJob::new("send", serde_json::json!({}))).await.unwrap();
    queue.pause().await.unwrap();
    let app = router(state);
    let (status, body) = get(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#"hoist_jobs{queue="mailer",state="waiting"} 2"#), "{body}");
    assert!(body.contains(r#"hoist_queue_paused{queue="mailer"} 1"#), "{body}");
    assert!(body.contains("# HELP hoist_jobs Jobs per queue and state"), "{body}");
}
