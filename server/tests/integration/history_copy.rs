//! The history copy under load, with the server killed (SIGKILL) mid-copy several times:
//! every finished job ends up in SQL exactly once, none is lost, and Redis releases them
//! all. Run on SQLite and on PostgreSQL.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hoist_queue::{CancellationToken, NewJob, Queue, RedisConnection, Worker, WorkerOptions, handler_fn};
use hoist_server::db::Db;
use hoist_testkit::{RedisServer, TestDatabase, postgres_database, sqlite_database};
use serde_json::json;

/// A child process that is killed when dropped, so a failing test leaves none behind.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_serve(redis: &RedisServer, database: &TestDatabase) -> Process {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .arg("serve")
        .env("HOIST_PROCESSORS", "all")
        .env("REDIS_URL", redis.url())
        .env("DATABASE_URL", database.url())
        .env("HOIST_ADDR", format!("127.0.0.1:{port}"))
        .env("HOIST_ADMIN_PASSWORD", "admin-password-1")
        .env("HOIST_HISTORY_DAYS", "30")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Process(child)
}

async fn history_count(db: &Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM job_history").fetch_one(&db.pool).await.unwrap_or(0)
}

async fn killed_mid_copy_loses_and_duplicates_nothing(database: TestDatabase) {
    const JOBS: usize = 30_000;
    let redis = RedisServer::start();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let queue = Queue::new(&engine, "copied").unwrap();
    // As `hoist serve` does before it enqueues or works: every ending is archived.
    queue.set_archiving(true).await.unwrap();
    let mut serve = spawn_serve(&redis, &database);
    let db = Db::connect(database.url()).await.unwrap();

    // Jobs are worked in this process while the server copies them.
    let stop = CancellationToken::new();
    let options = WorkerOptions { concurrency: 50, ..WorkerOptions::default() };
    let worker = Worker::new(queue.clone(), handler_fn(|_| async { Ok(json!({ "ok": true })) }), options);
    let worker_task = tokio::spawn(worker.run(stop.clone()));
    let producer = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let mut ids = Vec::with_capacity(JOBS);
            for chunk in 0..JOBS / 500 {
                let batch = (0..500).map(|i| NewJob::new("copy", json!({ "n": chunk * 500 + i }))).collect();
                ids.extend(queue.enqueue_bulk(batch).await.unwrap().into_iter().map(|e| e.id));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            ids
        })
    };

    // Kill the server three times, each time once it has copied more since the last.
    let mut kills = 0;
    let mut seen = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while kills < 3 {
        assert!(tokio::time::Instant::now() < deadline, "the copy made no progress to kill it in");
        let copied = history_count(&db).await;
        if copied > seen + 2_000 && (copied as usize) < JOBS {
            serve.0.kill().unwrap();
            serve.0.wait().unwrap();
            kills += 1;
            seen = copied;
            serve = spawn_serve(&redis, &database);
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let ids: HashSet<String> = producer.await.unwrap().into_iter().collect();
    assert_eq!(ids.len(), JOBS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while history_count(&db).await < JOBS as i64 || !queue.unarchived(1).await.unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "history has {} of {JOBS} rows", history_count(&db).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.cancel();
    worker_task.await.unwrap().unwrap();
    drop(serve);

    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT job_id, status FROM job_history").fetch_all(&db.pool).await.unwrap();
    assert_eq!(rows.len(), JOBS, "one row per job");
    let recorded: HashSet<String> = rows.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(recorded, ids, "each job once, none missing");
    let others: Vec<&(String, String)> = rows.iter().filter(|(_, status)| status != "completed").take(5).collect();
    assert!(others.is_empty(), "jobs that did not end completed (the first 5): {others:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_history_survives_kills_mid_copy() {
    killed_mid_copy_loses_and_duplicates_nothing(sqlite_database()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_history_survives_kills_mid_copy() {
    killed_mid_copy_loses_and_duplicates_nothing(postgres_database().await).await;
}
