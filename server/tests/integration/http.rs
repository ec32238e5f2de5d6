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

    let (status, body) = get(&app, "/status").await;
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
    // A Sentinel URL without ports, or without a master name.
    for bad in ["redis+sentinel://sentinel-a/jobs", "redis+sentinel://10.0.0.1:26379"] {
        let err = build_state(&config(bad, &db).store, &args.http).await.err().unwrap();
        assert!(format!("{err:#}").starts_with("REDIS_URL:"), "{bad}: {err:#}");
    }

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_job_attempts_by_outcome_and_http_requests() {
    use hoist_queue::{JobError, NewJob, Queue, Worker, WorkerOptions, handler_fn};
    let redis = RedisServer::start();
    let db = sqlite_database();
    let args = config(&redis.url(), &db);
    let (state, _) = build_state(&args.store, &args.http).await.unwrap();
    let queue = Queue::new(&state.engine, "counted").unwrap();
    let shutdown = hoist_queue::CancellationToken::new();
    let worker = Worker::new(
        queue.clone(),
        handler_fn(|ctx| async move {
            if ctx.job().payload["fail"] == true { Err(JobError::permanent("no")) } else { Ok(serde_json::json!(null)) }
        }),
        WorkerOptions::default(),
    );
    let running = tokio::spawn(worker.run(shutdown.clone()));
    for payload in [serde_json::json!({}), serde_json::json!({}), serde_json::json!({ "fail": true })] {
        queue.enqueue(NewJob::new("count", payload)).await.unwrap();
    }
    for _ in 0..200 {
        let c = queue.counts().await.unwrap();
        if c.completed == 2 && c.dead == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    shutdown.cancel();
    running.await.unwrap().unwrap();

    let app = router(state);
    assert_eq!(get(&app, "/healthz").await.0, StatusCode::OK);
    let (_, body) = get(&app, "/metrics").await;
    for line in [
        r#"hoist_jobs_processed_total{queue="counted",outcome="completed"} 2"#,
        r#"hoist_jobs_processed_total{queue="counted",outcome="failed_permanently"} 1"#,
        r#"hoist_job_duration_seconds_count{queue="counted"} 3"#,
        r#"hoist_http_requests_total{method="GET",route="/healthz",status="200"}"#,
    ] {
        assert!(body.contains(line), "missing {line} in:\n{body}");
    }
    assert!(body.contains(r#"hoist_job_duration_seconds_bucket{queue="counted",le="0.005"}"#), "{body}");
}

#[tokio::test]
async fn requests_get_an_id_compression_a_body_limit_and_metrics_can_require_auth() {
    let redis = RedisServer::start();
    let db = sqlite_database();
    let args = Args::parse_from([
        "hoist",
        "--redis-url",
        &redis.url(),
        "--database-url",
        db.url(),
        "--admin-password",
        "test-admin-pass",
        "--max-body-bytes",
        "1024",
        "--metrics-require-auth",
    ]);
    let (state, _) = build_state(&args.store, &args.http).await.unwrap();
    let database = state.db.clone();
    let app = router(state);

    let response = app.clone().oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
    let made_up = response.headers().get("x-request-id").expect("an id is made up").to_str().unwrap().to_string();
    assert_eq!(made_up.len(), 36, "a UUID: {made_up}");
    let response = app
        .clone()
        .oneshot(Request::get("/healthz").header("x-request-id", "trace-me-42").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42", "the caller's id is kept");

    let response = app
        .clone()
        .oneshot(Request::get("/").header("accept-encoding", "gzip").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));

    let big = serde_json::json!({ "username": "x".repeat(2000), "password": "y" }).to_string();
    let mut request =
        Request::post("/api/v1/auth/login").header("content-type", "application/json").body(Body::from(big)).unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([10, 0, 0, 1], 1))));
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");

    let (status, _) = get(&app, "/metrics").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The whole system's load is for staff: an end user's token is refused, an admin's
    // `jobs:read` token reads it.
    use hoist_server::policy::Scope;
    hoist_server::users::create_user(&database, "ulla", "ulla-password", hoist_server::users::Role::User)
        .await
        .unwrap();
    for (user, expected) in [("ulla", StatusCode::FORBIDDEN), ("admin", StatusCode::OK)] {
        let token =
            hoist_server::tokens::create_token(&database, user, "metrics", &[Scope::JobsRead], None).await.unwrap();
        let request = Request::get("/metrics")
            .header("authorization", format!("Bearer {}", token.secret))
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.clone().oneshot(request).await.unwrap().status(), expected, "{user}");
    }
}
