//! History records the database refuses are quarantined (kept, visible to admins, and
//! released to retention) instead of stopping the queue's copy for good; connection
//! failures keep the whole batch for the next pass; and the daily prune never deletes
//! finished jobs the history store has not copied.
//!
//! The refusal is real: PostgreSQL refuses NUL in text, and jobs written by older
//! versions may hold one in their name (those are written here straight into Redis).
//! SQLite takes NUL, so there a trigger stands in for a refusal.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use hoist_queue::{
    CancellationToken, JobError, JobOptions, JobState, NewJob, Queue, RedisConnection, Worker, WorkerOptions,
    handler_fn,
};
use hoist_server::db::Db;
use hoist_server::history::{self, HistoryQuery, QuarantineQuery};
use hoist_server::processors::maintenance;
use hoist_server::users::{Role, create_user};
use hoist_testkit::{RedisServer, postgres_database, sqlite_database};
use serde_json::{Value, json};

const QUEUE: &str = "billing";

/// Runs a worker on `queue` until `stop`: `{"mode": "result"}` completes with a NUL in its
/// result, `{"mode": "error"}` dies with a NUL in its error, anything else completes.
fn start_worker(queue: &Queue, stop: &CancellationToken) -> tokio::task::JoinHandle<()> {
    let worker = Worker::new(
        queue.clone(),
        handler_fn(|ctx| async move {
            match ctx.job().payload["mode"].as_str() {
                Some("result") => Ok(json!({ "r": "x\u{0}y" })),
                Some("error") => Err(JobError::permanent("card \u{0} declined")),
                _ => Ok(json!({ "ok": true })),
            }
        }),
        WorkerOptions { concurrency: 4, ..WorkerOptions::default() },
    );
    let stop = stop.clone();
    tokio::spawn(async move { worker.run(stop).await.unwrap() })
}

async fn enqueue(queue: &Queue, name: &str, payload: Value) -> String {
    queue.enqueue(NewJob::new(name, payload)).await.unwrap().id
}

async fn wait_finished(queue: &Queue, ids: &[String]) {
    for _ in 0..400 {
        let mut done = 0;
        for id in ids {
            let job = queue.get_job(id).await.unwrap().unwrap();
            done += usize::from(matches!(job.state, JobState::Completed | JobState::Dead | JobState::Cancelled));
        }
        if done == ids.len() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("jobs did not finish");
}

/// Gives a finished job a name holding NUL, as an older version could have stored it
/// (enqueue refuses such names now).
async fn poison_name(redis_url: &str, id: &str, name: &str, poisoned: &str) {
    let client = redis::Client::open(redis_url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("hoist:{{{QUEUE}}}:job:{id}");
    let spec: String = redis::cmd("HGET").arg(&key).arg("spec").query_async(&mut conn).await.unwrap();
    let from = format!("\"name\":{}", json!(name));
    assert!(spec.contains(&from), "{spec}");
    let spec = spec.replace(&from, &format!("\"name\":{}", json!(poisoned)));
    let _: () = redis::cmd("HSET").arg(&key).arg("spec").arg(spec).query_async(&mut conn).await.unwrap();
}

async fn history_ids(db: &Db) -> Vec<String> {
    let mut ids: Vec<String> = history::search(db, &HistoryQuery { limit: Some(500), ..Default::default() })
        .await
        .unwrap()
        .unwrap()
        .records
        .into_iter()
        .map(|r| r.job_id)
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

async fn get_text(app: &axum::Router, path: &str) -> String {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().uri(path).body(axum::body::Body::empty()).unwrap();
    let addr: std::net::SocketAddr = "10.7.0.8:1".parse().unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(addr));
    let response = app.clone().oneshot(request).await.unwrap();
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

/// No age: every finished job the engine lets go of.
const AT_ANY_AGE: [(JobState, Option<Duration>); 3] = [
    (JobState::Completed, Some(Duration::ZERO)),
    (JobState::Dead, Some(Duration::ZERO)),
    (JobState::Cancelled, Some(Duration::ZERO)),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_postgres_refuses_are_quarantined_and_the_rest_copied() {
    let redis = RedisServer::start();
    let database = postgres_database().await;
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let queue = Queue::new(&engine, QUEUE).unwrap();
    queue.set_archiving(true).await.unwrap();
    let stop = CancellationToken::new();
    let running = start_worker(&queue, &stop);

    // NUL inside JSON (payload, result, error) is stored escaped and copies fine; NUL in
    // a name is refused by PostgreSQL ("invalid byte sequence for encoding UTF8: 0x00").
    let plain = enqueue(&queue, "charge", json!({ "amount": 1 })).await;
    let in_payload = enqueue(&queue, "charge", json!({ "s": "a\u{0}b" })).await;
    let in_result = enqueue(&queue, "charge", json!({ "mode": "result" })).await;
    let in_error = enqueue(&queue, "charge", json!({ "mode": "error" })).await;
    let bad_names = [enqueue(&queue, "charge", json!({ "n": 1 })).await, enqueue(&queue, "charge", json!({})).await];
    let mut good = vec![plain.clone(), in_payload.clone(), in_result.clone(), in_error.clone()];
    for _ in 0..6 {
        good.push(enqueue(&queue, "charge", json!({})).await);
    }
    let all: Vec<String> = good.iter().chain(&bad_names).cloned().collect();
    wait_finished(&queue, &all).await;
    for id in &bad_names {
        poison_name(&redis.url(), id, "charge", "char\u{0}ge").await;
    }
    assert_eq!(queue.get_job(&bad_names[0]).await.unwrap().unwrap().name, "char\u{0}ge");

    assert_eq!(history::copy_batch(&db, &queue, 500).await.unwrap(), all.len());
    assert_eq!(history_ids(&db).await, sorted(good.clone()), "every record PostgreSQL takes is copied");
    let copied = |id: &str| {
        let db = db.clone();
        let id = id.to_string();
        async move {
            let query = HistoryQuery { id: Some(id), ..Default::default() };
            history::search(&db, &query).await.unwrap().unwrap().records.remove(0)
        }
    };
    assert_eq!(copied(&in_payload).await.payload, json!({ "s": "a\u{0}b" }));
    assert_eq!(copied(&in_result).await.result, Some(json!({ "r": "x\u{0}y" })));
    let dead = copied(&in_error).await;
    assert_eq!((dead.status.as_str(), dead.error.unwrap()["message"].clone()), ("dead", json!("card \u{0} declined")));

    // The refused ones are kept, with the reason and the whole record, NUL escaped.
    let rows: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT job_id, name, reason, record FROM job_history_quarantine ORDER BY job_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(), sorted(bad_names.to_vec()));
    for (id, name, reason, record) in &rows {
        assert_eq!(name, "char\\u0000ge");
        assert!(reason.contains("0x00"), "{reason}");
        assert!(!record.contains('\0'), "{record:?}");
        let record: Value = serde_json::from_str(record).unwrap();
        assert_eq!((record["job_id"].as_str(), record["name"].as_str()), (Some(id.as_str()), Some("char\u{0}ge")));
        assert_eq!(record["status"], "completed");
    }

    // Every job was acknowledged, the quarantined ones too: nothing is left to copy, and
    // retention may now drop them from Redis.
    assert!(queue.unarchived(500).await.unwrap().is_empty());
    assert_eq!(history::copy_batch(&db, &queue, 500).await.unwrap(), 0);
    maintenance::clean_finished_jobs(&engine, &AT_ANY_AGE).await.unwrap();
    for id in &all {
        assert!(queue.get_job(id).await.unwrap().is_none(), "{id} was released to retention");
    }
    // The quarantine ages with the history.
    assert_eq!(history::prune(&db, i64::MAX).await.unwrap(), all.len() as u64);
    stop.cancel();
    running.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_takes_nul_and_quarantines_what_it_refuses() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let queue = Queue::new(&engine, QUEUE).unwrap();
    queue.set_archiving(true).await.unwrap();
    let stop = CancellationToken::new();
    let running = start_worker(&queue, &stop);

    // SQLite stores NUL in text: a NUL name is copied as it is.
    let nul_name = enqueue(&queue, "charge", json!({ "s": "a\u{0}b" })).await;
    wait_finished(&queue, std::slice::from_ref(&nul_name)).await;
    poison_name(&redis.url(), &nul_name, "charge", "char\u{0}ge").await;
    assert_eq!(history::copy_batch(&db, &queue, 500).await.unwrap(), 1);
    let page = history::search(&db, &HistoryQuery::default()).await.unwrap().unwrap();
    assert_eq!((page.records[0].name.as_str(), &page.records[0].payload), ("char\u{0}ge", &json!({ "s": "a\u{0}b" })));

    // A refusal (here a trigger's): the refused records are quarantined, the rest copied.
    sqlx::query(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON job_history WHEN NEW.name = 'poison' \
         BEGIN SELECT RAISE(ABORT, 'poison is refused'); END",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let mut good = vec![];
    let mut refused = vec![];
    for i in 0..9 {
        match i % 4 {
            1 => refused.push(enqueue(&queue, "poison", json!({ "i": i })).await),
            _ => good.push(enqueue(&queue, "charge", json!({ "i": i })).await),
        }
    }
    let all: Vec<String> = good.iter().chain(&refused).cloned().collect();
    wait_finished(&queue, &all).await;
    assert_eq!(history::copy_batch(&db, &queue, 500).await.unwrap(), all.len());
    let mut expected = good.clone();
    expected.push(nul_name.clone());
    assert_eq!(history_ids(&db).await, sorted(expected));
    let page = history::quarantined(&db, &QuarantineQuery::default()).await.unwrap().unwrap();
    assert_eq!(sorted(page.records.iter().map(|r| r.job_id.clone()).collect()), sorted(refused.clone()));
    assert!(page.records.iter().all(|r| r.reason.contains("poison is refused") && r.record["name"] == "poison"));
    assert!(queue.unarchived(500).await.unwrap().is_empty(), "the refused ones are released too");

    // A job refused again (it ended anew) keeps one row, the latest.
    let mut record: history::HistoryRecord = serde_json::from_value(page.records[0].record.clone()).unwrap();
    record.attempts += 1;
    history::quarantine(&db, &record, "refused again").await.unwrap();
    let page = history::quarantined(&db, &QuarantineQuery::default()).await.unwrap().unwrap();
    assert_eq!(page.records.len(), refused.len());
    let row = page.records.iter().find(|r| r.job_id == record.job_id).unwrap();
    assert_eq!((row.reason.as_str(), &row.record["attempts"]), ("refused again", &json!(record.attempts)));
    stop.cancel();
    running.await.unwrap();
}

/// A database that cannot be reached is no reason to quarantine: the batch stays whole
/// for the next pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_failures_keep_the_whole_batch() {
    for database in [sqlite_database(), postgres_database().await] {
        let redis = RedisServer::start();
        let db = Db::connect(database.url()).await.unwrap();
        db.migrate().await.unwrap();
        let engine = RedisConnection::connect(&redis.url()).await.unwrap();
        let queue = Queue::new(&engine, QUEUE).unwrap();
        queue.set_archiving(true).await.unwrap();
        let stop = CancellationToken::new();
        let running = start_worker(&queue, &stop);
        let ids = vec![enqueue(&queue, "charge", json!({})).await, enqueue(&queue, "charge", json!({})).await];
        wait_finished(&queue, &ids).await;
        poison_name(&redis.url(), &ids[0], "charge", "char\u{0}ge").await;

        let closed = Db::connect(database.url()).await.unwrap();
        closed.pool.close().await;
        assert!(history::copy_batch(&closed, &queue, 500).await.is_err());
        assert_eq!(queue.unarchived(500).await.unwrap().len(), 2, "nothing released");
        let quarantined: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM job_history_quarantine").fetch_one(&db.pool).await.unwrap();
        assert_eq!(quarantined, 0);

        assert_eq!(history::copy_batch(&db, &queue, 500).await.unwrap(), 2, "the next pass copies them");
        assert!(queue.unarchived(500).await.unwrap().is_empty());
        stop.cancel();
        running.await.unwrap();
    }
}

/// The daily prune cleans finished jobs in Redis, but never one the history store has not
/// copied: with archiving on, jobs stay until copied, however old. (Relies on the
/// engine's `clean` skipping uncopied jobs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_never_deletes_jobs_history_has_not_copied() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let queue = Queue::new(&engine, QUEUE).unwrap();
    queue.set_archiving(true).await.unwrap();
    let stop = CancellationToken::new();
    let running = start_worker(&queue, &stop);
    let completed = enqueue(&queue, "charge", json!({})).await;
    let dead = enqueue(&queue, "charge", json!({ "mode": "error" })).await;
    let cancelled = queue
        .enqueue(
            NewJob::new("charge", json!({}))
                .with_options(JobOptions { delay: Some(Duration::from_secs(3600)), ..Default::default() }),
        )
        .await
        .unwrap()
        .id;
    queue.cancel(&cancelled).await.unwrap();
    let ids = [completed, dead, cancelled];
    wait_finished(&queue, &ids).await;

    assert_eq!(maintenance::clean_finished_jobs(&engine, &AT_ANY_AGE).await.unwrap(), 0);
    for id in &ids {
        assert!(queue.get_job(id).await.unwrap().is_some(), "{id} was deleted before history copied it");
    }

    assert_eq!(history::copy_batch(&db, &queue, 500).await.unwrap(), 3);
    assert_eq!(maintenance::clean_finished_jobs(&engine, &AT_ANY_AGE).await.unwrap(), 3);
    for id in &ids {
        assert!(queue.get_job(id).await.unwrap().is_none(), "{id} is copied, so prune may delete it");
    }
    assert_eq!(history_ids(&db).await, sorted(ids.to_vec()));
    stop.cancel();
    running.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_listing_is_for_admins_only() {
    let t = common::TestApp::start_on(postgres_database().await).await;
    let engine = RedisConnection::connect(&t.redis.url()).await.unwrap();
    let queue = Queue::new(&engine, QUEUE).unwrap();
    queue.set_archiving(true).await.unwrap();
    let stop = CancellationToken::new();
    let running = start_worker(&queue, &stop);
    let ids = vec![
        enqueue(&queue, "charge", json!({ "i": 1 })).await,
        enqueue(&queue, "charge", json!({ "i": 2 })).await,
        enqueue(&queue, "charge", json!({ "i": 3 })).await,
    ];
    wait_finished(&queue, &ids).await;
    for id in &ids[..2] {
        poison_name(&t.redis.url(), id, "charge", "char\u{0}ge").await;
    }
    assert_eq!(history::copy_batch(&t.db, &queue, 500).await.unwrap(), 3);

    let mut admin = t.admin;
    let r = admin.send("GET", "/api/v1/history/quarantine", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let listed: Vec<String> =
        r.body["records"].as_array().unwrap().iter().map(|r| r["job_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(sorted(listed), sorted(ids[..2].to_vec()));
    let first = &r.body["records"][0];
    assert_eq!((first["queue"].as_str(), first["name"].as_str()), (Some(QUEUE), Some("char\\u0000ge")));
    assert_eq!(first["record"]["name"], "char\u{0}ge");
    assert!(first["reason"].as_str().unwrap().contains("0x00"));
    assert!(r.body["next"].is_null());

    // Paged by cursor, one at a time, each once.
    let page = admin.send("GET", "/api/v1/history/quarantine?limit=1", None, &[]).await;
    let next = page.body["next"].as_str().unwrap().to_string();
    let rest = admin.send("GET", &format!("/api/v1/history/quarantine?limit=1&cursor={next}"), None, &[]).await;
    assert!(rest.body["next"].is_null());
    let paged = vec![
        page.body["records"][0]["job_id"].as_str().unwrap().to_string(),
        rest.body["records"][0]["job_id"].as_str().unwrap().to_string(),
    ];
    assert_eq!(sorted(paged), sorted(ids[..2].to_vec()));
    let other = admin.send("GET", "/api/v1/history/quarantine?queue=mail", None, &[]).await;
    assert_eq!(other.body["records"], json!([]));

    for (path, field) in [
        ("/api/v1/history/quarantine?limit=0", "limit"),
        ("/api/v1/history/quarantine?limit=501", "limit"),
        ("/api/v1/history/quarantine?limit=ten", "limit"),
        ("/api/v1/history/quarantine?cursor=yesterday", "cursor"),
        ("/api/v1/history/quarantine?colour=red", "colour"),
    ] {
        let r = admin.send("GET", path, None, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(r.body["error"]["field"], field, "{path}: {:?}", r.body);
    }

    // Records of everyone's jobs, with the database's errors: admins only.
    for (username, role) in [("otto", Role::Operator), ("vera", Role::Viewer), ("ulla", Role::User)] {
        create_user(&t.db, username, "a-long-password", role).await.unwrap();
        let mut client = common::Client::new(&t.app, "10.7.0.3:1");
        client.login(username, "a-long-password").await;
        let r = client.send("GET", "/api/v1/history/quarantine", None, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{username}");
        assert_eq!(r.body["error"]["code"], "forbidden", "{username}: {:?}", r.body);
    }
    let mut anonymous = common::Client::new(&t.app, "10.7.0.9:1");
    let r = anonymous.send("GET", "/api/v1/history/quarantine", None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Counted, and documented.
    let metrics = get_text(&t.app, "/metrics").await;
    let line = metrics.lines().find(|l| l.starts_with("hoist_history_quarantined_total{queue=\"billing\"}"));
    let count: f64 = line
        .unwrap_or_else(|| panic!("no quarantine metric in\n{metrics}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(count >= 2.0, "{line:?}");
    let doc = admin.send("GET", "/api/v1/openapi.json", None, &[]).await;
    assert!(doc.body["paths"]["/api/v1/history/quarantine"]["get"].is_object());
    stop.cancel();
    running.await.unwrap();
}

/// A finished job the engine cannot read (its stored spec damaged) no longer stops the
/// queue's copy: it is quarantined with its stored fields, and the rest is copied.
#[tokio::test]
async fn a_job_the_engine_cannot_read_is_quarantined_as_stored() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let queue = Queue::new(&engine, QUEUE).unwrap();
    queue.set_archiving(true).await.unwrap();
    let stop = CancellationToken::new();
    let running = start_worker(&queue, &stop);
    let damaged = enqueue(&queue, "charge", json!({ "i": 1 })).await;
    let fine = enqueue(&queue, "charge", json!({ "i": 2 })).await;
    wait_finished(&queue, &[damaged.clone(), fine.clone()]).await;
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("hoist:{{{QUEUE}}}:job:{damaged}");
    let _: () = redis::cmd("HSET").arg(&key).arg("spec").arg("{not json").query_async(&mut conn).await.unwrap();

    assert_eq!(history::copy_batch(&db, &queue, 500).await.unwrap(), 2);
    assert_eq!(history_ids(&db).await, vec![fine]);
    let page = history::quarantined(&db, &QuarantineQuery::default()).await.unwrap().unwrap();
    assert_eq!(page.records.len(), 1);
    let row = &page.records[0];
    assert_eq!(row.job_id, damaged);
    assert!(row.reason.contains("cannot read"), "{}", row.reason);
    assert_eq!(row.record["fields"]["spec"], "{not json");
    assert!(queue.unarchived(500).await.unwrap().is_empty(), "released like the copied one");
    stop.cancel();
    running.await.unwrap();
}
