//! Job history: copied from the engine's archive set into SQL (SQLite and PostgreSQL),
//! searched by every field, paged by cursor, pruned; and the HTTP search with each role.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use hoist_queue::{JobError, JobOptions, JobState, NewJob, Queue, Worker, WorkerOptions, handler_fn};
use hoist_server::db::Db;
use hoist_server::history::{self, HistoryQuery, HistoryRecord};
use hoist_server::users::{Role, create_user};
use hoist_testkit::{TestDatabase, postgres_database, sqlite_database};
use serde_json::json;

fn record(
    queue: &str,
    id: &str,
    owner: &str,
    status: &str,
    finished_at: i64,
    payload: serde_json::Value,
) -> HistoryRecord {
    HistoryRecord {
        queue: queue.into(),
        job_id: id.into(),
        name: "sync".into(),
        owner: Some(owner.into()),
        status: status.into(),
        payload,
        result: (status == "completed").then(|| json!({ "ok": true })),
        error: (status == "dead").then(|| json!({ "message": "Provider answered 503" })),
        errors: if status == "dead" { json!([{ "message": "Provider answered 503" }]) } else { json!([]) },
        attempts: 1,
        created_at: finished_at - 100,
        started_at: Some(finished_at - 50),
        finished_at,
        duration_ms: Some(50),
    }
}

async fn search(db: &Db, query: HistoryQuery) -> Vec<String> {
    history::search(db, &query).await.unwrap().unwrap().records.into_iter().map(|r| r.job_id).collect()
}

async fn exercise_sql(database: &TestDatabase) {
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let records = vec![
        record("sync", "j1", "7", "completed", 1_000, json!({ "account": "Checking" })),
        record("sync", "j2", "8", "dead", 2_000, json!({ "account": "Savings" })),
        record("mail", "j3", "7", "cancelled", 3_000, json!({ "to": "a@example.com", "note": "50%_off" })),
        record("sync", "j4", "7", "completed", 3_000, json!({ "account": "Brokerage" })),
    ];
    history::record(&db, &records).await.unwrap();
    // Writing a record again replaces it: one row per job.
    let mut again = records[0].clone();
    again.attempts = 2;
    history::record(&db, &[again]).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_history").fetch_one(&db.pool).await.unwrap();
    assert_eq!(rows, 4);

    let all = HistoryQuery::default();
    assert_eq!(search(&db, all.clone()).await, ["j4", "j3", "j2", "j1"], "newest first");
    let page = history::search(&db, &HistoryQuery { id: Some("j1".into()), ..all.clone() }).await.unwrap().unwrap();
    assert_eq!(page.records[0].attempts, 2);
    assert_eq!(page.records[0].payload, json!({ "account": "Checking" }));
    assert_eq!(search(&db, HistoryQuery { owner: Some("7".into()), ..all.clone() }).await, ["j4", "j3", "j1"]);
    assert_eq!(search(&db, HistoryQuery { queue: Some("mail".into()), ..all.clone() }).await, ["j3"]);
    assert_eq!(search(&db, HistoryQuery { status: Some("dead".into()), ..all.clone() }).await, ["j2"]);
    assert_eq!(search(&db, HistoryQuery { name: Some("other".into()), ..all.clone() }).await, Vec::<String>::new());
    assert_eq!(search(&db, HistoryQuery { from: Some(2_000), to: Some(3_000), ..all.clone() }).await, ["j2"]);
    // Text search: case-insensitive, in payload and errors, with LIKE wildcards taken literally.
    assert_eq!(search(&db, HistoryQuery { q: Some("savings".into()), ..all.clone() }).await, ["j2"]);
    assert_eq!(search(&db, HistoryQuery { q: Some("answered 503".into()), ..all.clone() }).await, ["j2"]);
    assert_eq!(search(&db, HistoryQuery { q: Some("50%_".into()), ..all.clone() }).await, ["j3"]);
    assert_eq!(search(&db, HistoryQuery { q: Some("5_%".into()), ..all.clone() }).await, Vec::<String>::new());

    // Cursor paging visits every record once, in order, even across equal finish times.
    let mut seen = vec![];
    let mut cursor = None;
    loop {
        let page = history::search(&db, &HistoryQuery { limit: Some(1), cursor: cursor.clone(), ..all.clone() })
            .await
            .unwrap()
            .unwrap();
        seen.extend(page.records.into_iter().map(|r| r.job_id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["j4", "j3", "j2", "j1"]);

    let bad = history::search(&db, &HistoryQuery { limit: Some(0), ..all.clone() }).await.unwrap().unwrap_err();
    assert_eq!(bad.field, "limit");
    let bad = history::search(&db, &HistoryQuery { status: Some("waiting".into()), ..all.clone() })
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(bad.field, "status");
    let bad =
        history::search(&db, &HistoryQuery { cursor: Some("nope".into()), ..all.clone() }).await.unwrap().unwrap_err();
    assert_eq!(bad.field, "cursor");

    assert_eq!(history::prune(&db, 2_500).await.unwrap(), 2);
    assert_eq!(search(&db, all.clone()).await, ["j4", "j3"]);

    // Expired jobs (not started by their deadline) are a finished status of their own.
    history::record(&db, &[record("sync", "j5", "7", "expired", 4_000, json!({}))]).await.unwrap();
    assert_eq!(search(&db, HistoryQuery { status: Some("expired".into()), ..all }).await, ["j5"]);
}

#[tokio::test]
async fn history_records_search_and_prune_on_sqlite() {
    exercise_sql(&sqlite_database()).await;
}

#[tokio::test]
async fn history_records_search_and_prune_on_postgres() {
    exercise_sql(&postgres_database().await).await;
}

/// Jobs run by a real worker end in all three ways; one copy pass writes each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_are_copied_once_with_their_errors() {
    let common::Stores { redis: _redis, database: _database, db, engine } = common::Stores::start().await;
    let queue = Queue::new(&engine, "billing").unwrap();
    queue.set_archiving(true).await.unwrap();

    let shutdown = hoist_queue::CancellationToken::new();
    let worker = Worker::new(
        queue.clone(),
        handler_fn(|ctx| async move {
            if ctx.job().payload["fail"] == true {
                Err(JobError::permanent("card declined"))
            } else {
                Ok(json!({ "charged": ctx.job().payload["amount"] }))
            }
        }),
        WorkerOptions { concurrency: 4, ..WorkerOptions::default() },
    );
    // Not started within 30 ms: the worker's first claim ends it expired.
    let stale = queue
        .enqueue(
            NewJob::new("charge", json!({ "amount": 1 }))
                .with_options(JobOptions { expires_in: Some(Duration::from_millis(30)), ..Default::default() }),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let running = tokio::spawn(worker.run(shutdown.clone()));
    let ok = queue.enqueue(NewJob::new("charge", json!({ "amount": 12 }))).await.unwrap();
    let bad = queue
        .enqueue(
            NewJob::new("charge", json!({ "amount": 99, "fail": true }))
                .with_options(JobOptions { owner: Some("42".into()), ..Default::default() }),
        )
        .await
        .unwrap();
    let later = queue
        .enqueue(
            NewJob::new("charge", json!({}))
                .with_options(JobOptions { delay: Some(Duration::from_secs(3600)), ..Default::default() }),
        )
        .await
        .unwrap();
    queue.cancel(&later.id).await.unwrap();
    for _ in 0..200 {
        let c = queue.counts().await.unwrap();
        if c.completed == 1 && c.dead == 1 && c.expired == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(history::copy_batch(&db, &queue, 500).await.unwrap(), 4);
    assert_eq!(history::copy_batch(&db, &queue, 500).await.unwrap(), 0, "nothing left to copy");

    let all = history::search(&db, &HistoryQuery::default()).await.unwrap().unwrap().records;
    assert_eq!(all.len(), 4);
    let expired = all.iter().find(|r| r.job_id == stale.id).expect("the expired job's record");
    assert_eq!((expired.status.as_str(), expired.started_at), ("expired", None));
    let by_id = |id: &str| all.iter().find(|r| r.job_id == id).unwrap().clone();
    let done = by_id(&ok.id);
    assert_eq!((done.status.as_str(), done.result.clone()), ("completed", Some(json!({ "charged": 12 }))));
    assert!(done.duration_ms.is_some());
    let dead = by_id(&bad.id);
    assert_eq!(dead.status, "dead");
    assert_eq!(dead.owner.as_deref(), Some("42"));
    assert_eq!(dead.error.unwrap()["message"], "card declined");
    assert_eq!(dead.errors.as_array().unwrap().len(), 1);
    assert_eq!(by_id(&later.id).status, "cancelled");
    assert_eq!(queue.get_job(&ok.id).await.unwrap().unwrap().state, JobState::Completed);
    shutdown.cancel();
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn history_search_over_http_shows_end_users_only_their_jobs() {
    let t = common::TestApp::start().await;
    let ulla = create_user(&t.db, "ulla", "ulla-password", Role::User).await.unwrap();
    create_user(&t.db, "vera", "vera-password", Role::Viewer).await.unwrap();
    history::record(
        &t.db,
        &[
            record("sync", "mine", &ulla.to_string(), "completed", 1_000, json!({})),
            record("sync", "theirs", "999", "completed", 2_000, json!({})),
        ],
    )
    .await
    .unwrap();

    let mut admin = t.admin;
    let r = admin.send("GET", "/api/v1/history", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let ids: Vec<&str> = r.body["records"].as_array().unwrap().iter().map(|r| r["job_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["theirs", "mine"]);

    let (mut vera, _) = t_client(&t.app, "vera", "vera-password").await;
    assert_eq!(
        vera.send("GET", "/api/v1/history?status=completed", None, &[]).await.body["records"].as_array().unwrap().len(),
        2
    );

    let (mut user, _) = t_client(&t.app, "ulla", "ulla-password").await;
    for path in ["/api/v1/history", "/api/v1/history?owner=999"] {
        let r = user.send("GET", path, None, &[]).await;
        let ids: Vec<&str> =
            r.body["records"].as_array().unwrap().iter().map(|r| r["job_id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["mine"], "{path}");
    }

    for (path, field) in [
        ("/api/v1/history?from=yesterday", "from"),
        ("/api/v1/history?limit=9999", "limit"),
        ("/api/v1/history?status=running", "status"),
        ("/api/v1/history?colour=red", "colour"),
    ] {
        let r = admin.send("GET", path, None, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(r.body["error"]["field"], field, "{path}: {:?}", r.body);
    }
    let mut anonymous = common::Client::new(&t.app, "10.7.0.9:1");
    assert_eq!(anonymous.send("GET", "/api/v1/history", None, &[]).await.status, StatusCode::UNAUTHORIZED);
}

async fn t_client(app: &axum::Router, username: &str, password: &str) -> (common::Client, String) {
    let mut client = common::Client::new(app, "10.7.0.2:1");
    let csrf = client.login(username, password).await.body["csrf_token"].as_str().unwrap_or_default().to_string();
    (client, csrf)
}

/// A server started with history off turns the archive sets a history left on off, so
/// the finished jobs they held go to retention and nothing more is listed for the index.
#[tokio::test]
async fn history_off_releases_what_history_left_waiting() {
    let common::Stores { redis: _redis, database: _database, db, engine } = common::Stores::start().await;
    let queue = Queue::new(&engine, "q").unwrap();
    queue.set_archiving(true).await.unwrap();
    let waiting = queue.enqueue(NewJob::new("n", json!({}))).await.unwrap().id;
    let ended = queue.enqueue(NewJob::new("n", json!({}))).await.unwrap().id;
    queue.cancel(&ended).await.unwrap();
    let backlog = queue.history_backlog().await.unwrap();
    assert_eq!((backlog.unarchived, backlog.unindexed), (1, 2), "{waiting} and {ended} listed, {ended} to be copied");
    let stop = hoist_queue::CancellationToken::new();
    let archiving = std::sync::Arc::new(history::Archiving::new(false));
    history::run_writer(db.clone(), engine.clone(), archiving, history::HistoryConfig::from_days(0), stop).await;
    assert_eq!(queue.history_backlog().await.unwrap(), hoist_queue::HistoryBacklog::default());
    queue.enqueue(NewJob::new("n", json!({}))).await.unwrap();
    assert_eq!(queue.history_backlog().await.unwrap().unindexed, 0, "no longer listed");
}
