//! `hoist worker` as a process: it runs the registered processors and stops cleanly.

use std::process::{Command, Stdio};
use std::time::Duration;

use hoist_queue::{JobState, NewJob, Queue, RedisConnection};
use hoist_testkit::RedisServer;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_process_runs_jobs_and_stops_on_sigterm() {
    let redis = RedisServer::start();
    let database = hoist_testkit::sqlite_database();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .arg("worker")
        .env("HOIST_PROCESSORS", "all")
        .env("REDIS_URL", redis.url())
        .env("DATABASE_URL", database.url())
        .env("HOIST_WORKER_ADDR", format!("127.0.0.1:{port}"))
        .env("HOIST_QUEUE_DEMO_CONCURRENCY", "2")
        .env("RUST_LOG", "warn,hoist_server=info")
        .env("HOIST_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let connection = RedisConnection::connect(&redis.url()).await.unwrap();
    let queue = Queue::new(&connection, "demo").unwrap();
    let e = queue
        .enqueue(NewJob::new("demo-sync", json!({ "duration_ms": 200, "fail_first_attempt": true })))
        .await
        .unwrap();
    let mut job = None;
    for _ in 0..300 {
        let j = queue.get_job(&e.id).await.unwrap().unwrap();
        if j.state == JobState::Completed {
            job = Some(j);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let job = job.expect("the worker process completed the job");
    assert_eq!(job.attempts, 2, "failed once on purpose, then retried");
    assert_eq!(job.progress.unwrap().stage.as_deref(), Some("completed"));
    assert_eq!(job.result, Some(json!({ "accounts": 3, "transactions": 42 })));

    let workers = queue.workers(Duration::from_secs(60)).await.unwrap();
    assert!(!workers.is_empty(), "the worker checks in");
    let ready = reqwest_get(port, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    // Its own attempts (one failed on purpose, one completed); the per-queue series are
    // left to `hoist serve`, whose /metrics may require a sign-in.
    let metrics = reqwest_get(port, "/metrics").await;
    assert!(metrics.contains(r#"hoist_jobs_processed_total{queue="demo",outcome="completed"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"hoist_jobs_processed_total{queue="demo",outcome="failed"} 1"#), "{metrics}");
    assert!(metrics.contains("hoist_metrics_exporter 0"), "{metrics}");
    assert!(!metrics.contains("hoist_queue_jobs_"), "{metrics}");
    assert_eq!(queue.totals().await.unwrap().retried, 1, "the retry is in the queue's totals");

    // SIGTERM: a graceful stop.
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..200 {
        if let Some(code) = child.try_wait().unwrap() {
            exited = Some(code);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(exited.expect("stopped within 10 s").success());
    assert!(queue.workers(Duration::from_secs(60)).await.unwrap().is_empty(), "signed off");

    // JSON logs, and a line a handler writes names its job.
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut logs).unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let finished = lines
        .iter()
        .find(|l| l["fields"]["message"] == "demo sync finished")
        .unwrap_or_else(|| panic!("no job line in:\n{logs}"));
    assert_eq!(finished["span"]["job_id"], e.id.as_str(), "{finished}");
    assert_eq!(finished["span"]["queue"], "demo");
}

/// A bare HTTP/1.1 GET, to keep the test free of an HTTP client dependency.
async fn reqwest_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for _ in 0..100 {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            return response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("worker health endpoint never answered");
}
