//! One search over live and finished jobs: results equal a brute-force reference over the
//! same jobs for a few hundred generated queries (SQLite and PostgreSQL), and the HTTP
//! search shows end users only their own jobs.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use hoist_queue::{
    Backoff, CancellationToken, JobError, JobOptions, JobState, NewJob, Queue, RedisConnection, Worker, WorkerOptions,
    handler_fn,
};
use hoist_server::db::{Db, now_ms};
use hoist_server::history::{self, Archiving};
use hoist_server::search::{self, Query, Term};
use hoist_server::users::{Role, create_user};
use hoist_testkit::{RedisServer, TestDatabase, postgres_database, sqlite_database};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sqlx::Row;

const QUEUES: [&str; 3] = ["mail", "sync", "sync:eu"];
const NAMES: [&str; 4] = ["charge", "refund", "report", "email"];
const OWNERS: [Option<&str>; 4] = [None, Some("7"), Some("8"), Some("42")];
const NOTES: [&str; 5] = ["urgent", "routine", "Timeout seen", "late", "quarterly report"];

/// A job as the reference sees it: the job in Redis while live, its history row once
/// finished.
#[derive(Clone, Debug)]
struct Truth {
    queue: String,
    id: String,
    name: String,
    owner: Option<String>,
    state: String,
    payload: Value,
    result: Option<String>,
    errors: String,
    created_at: i64,
}

/// The reference: each term read straight from its definition, over one job.
fn reference_matches(query: &Query, job: &Truth) -> bool {
    let has = |hay: &str, needle: &str| hay.to_ascii_lowercase().contains(&needle.to_ascii_lowercase());
    query.terms.iter().all(|term| match term {
        Term::Queue(v) => v.contains(&job.queue),
        Term::State(v) => v.iter().any(|s| s.as_str() == job.state),
        Term::Name(v) => v.contains(&job.name),
        Term::Owner(v) => job.owner.as_ref().is_some_and(|o| v.contains(o)),
        Term::Id(v) => v.contains(&job.id),
        Term::Error(text) => has(&job.errors, text),
        Term::Before(at) => job.created_at < *at,
        Term::After(at) => job.created_at >= *at,
        Term::Payload { path, values } => {
            let mut at = Some(&job.payload);
            for segment in path {
                at = at.and_then(|v| match v {
                    Value::Object(m) => m.get(segment),
                    Value::Array(a) => segment.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => None,
                });
            }
            at.is_some_and(|v| {
                values.iter().any(|text| match v {
                    Value::String(s) => s == text,
                    Value::Array(_) | Value::Object(_) => false,
                    other => &other.to_string() == text,
                })
            })
        }
        Term::Text(text) => {
            has(&job.name, text)
                || has(&job.payload.to_string(), text)
                || job.result.as_deref().is_some_and(|r| has(r, text))
                || has(&job.errors, text)
        }
    })
}

/// Fills three queues with jobs in every state: waiting, delayed and cancelled (no
/// worker on `mail`), completed, dead and retrying (workers on the others), one retried
/// out of the dead-letter queue. Returns every job id by queue.
async fn fill(engine: &RedisConnection, rng: &mut StdRng) -> BTreeMap<String, Vec<String>> {
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for queue_name in QUEUES {
        let queue = Queue::new(engine, queue_name).unwrap();
        queue.set_archiving(true).await.unwrap();
        let mut jobs = vec![];
        for i in 0..150 {
            let fail = match rng.random_range(0..10) {
                0 | 1 => "permanent",
                2 => "retry",
                _ => "no",
            };
            let region = *["eu", "us", "ap"].choose(rng).unwrap();
            let tag = *["a", "b"].choose(rng).unwrap();
            let note = *NOTES.choose(rng).unwrap();
            let payload = json!({
                "connection_id": rng.random_range(0..9),
                "region": region,
                "tier": { "level": rng.random_range(0..4), "tags": [tag, "z"] },
                "note": note,
                "fail": fail,
                "n": i,
                // Keys that look like an index or a JSON literal, text beyond ASCII (its
                // case is kept: only ASCII letters fold), and a NUL that PostgreSQL
                // cannot read as text in a JSON value.
                "keys": { "0": tag, "null": region },
                "label": *["Été", "ÉTÉ", "ete"].choose(rng).unwrap(),
                "raw": if i % 9 == 0 { "nul\u{0}here" } else { "plain" },
            });
            let options = JobOptions {
                owner: OWNERS.choose(rng).unwrap().map(String::from),
                delay: (queue_name == "mail" && i % 5 == 0).then_some(Duration::from_secs(3600)),
                max_attempts: 3,
                backoff: Backoff::Fixed { delay: Duration::from_secs(3600) },
                ..Default::default()
            };
            jobs.push(NewJob::new(*NAMES.choose(rng).unwrap(), payload).with_options(options));
        }
        let added = queue.enqueue_bulk(jobs).await.unwrap();
        let list: Vec<String> = added.into_iter().map(|a| a.id).collect();
        if queue_name == "mail" {
            for id in list.iter().step_by(7) {
                queue.cancel(id).await.unwrap();
            }
        }
        ids.insert(queue_name.to_string(), list);
    }
    let stop = CancellationToken::new();
    let mut workers = vec![];
    for queue_name in ["sync", "sync:eu"] {
        let queue = Queue::new(engine, queue_name).unwrap();
        let worker = Worker::new(
            queue,
            handler_fn(|ctx| async move {
                match ctx.job().payload["fail"].as_str() {
                    Some("permanent") => Err(JobError::permanent("card declined by the bank")),
                    Some("retry") => Err(JobError::retryable("temporary glitch")),
                    _ => Ok(json!({ "ok": ctx.job().payload["n"], "summary": "charged in full" })),
                }
            }),
            WorkerOptions { concurrency: 8, ..WorkerOptions::default() },
        );
        workers.push(tokio::spawn(worker.run(stop.clone())));
    }
    for queue_name in ["sync", "sync:eu"] {
        let queue = Queue::new(engine, queue_name).unwrap();
        for _ in 0..400 {
            let c = queue.counts().await.unwrap();
            if c.waiting + c.active == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    stop.cancel();
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
    // A dead job retried from the dead-letter queue is live again.
    let sync = Queue::new(engine, "sync").unwrap();
    let dead = sync.list_jobs(JobState::Dead, 0, 1).await.unwrap().jobs;
    sync.retry(JobState::Dead, &[dead[0].id.clone()]).await.unwrap();
    ids
}

/// Runs the history copier (finished jobs, then live ones) until a pass finds nothing.
async fn settle(db: &Db, engine: &RedisConnection) {
    let archiving = Archiving::new(true);
    let writers = Arc::new(tokio::sync::Semaphore::new(history::writers_for(db.kind)));
    for _ in 0..100 {
        // What was listed in the current millisecond waits for the next read.
        tokio::time::sleep(Duration::from_millis(2)).await;
        if history::copy_all(db, engine, &archiving, &writers, Duration::ZERO).await == 0 {
            return;
        }
    }
    panic!("the copier never caught up");
}

/// Each job as the reference sees it.
async fn truths(db: &Db, engine: &RedisConnection, ids: &BTreeMap<String, Vec<String>>) -> Vec<Truth> {
    let mut out = vec![];
    for (queue_name, list) in ids {
        let queue = Queue::new(engine, queue_name).unwrap();
        for job in queue.load_jobs_with_errors(list).await.unwrap() {
            if job.state.is_finished() {
                continue; // its history row is the truth
            }
            out.push(Truth {
                queue: job.queue.clone(),
                id: job.id.clone(),
                name: job.name.clone(),
                owner: job.owner.clone(),
                state: job.state.as_str().into(),
                payload: job.payload.clone(),
                result: job.result.as_ref().map(|r| r.to_string()),
                errors: serde_json::to_string(&job.errors).unwrap(),
                created_at: job.created_at,
            });
        }
    }
    let rows = sqlx::query(
        "SELECT queue, job_id, name, owner, status, payload, result, errors, created_at FROM job_history \
         WHERE finished_at IS NOT NULL",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    for row in rows {
        out.push(Truth {
            queue: row.get("queue"),
            id: row.get("job_id"),
            name: row.get("name"),
            owner: row.get("owner"),
            state: row.get("status"),
            payload: serde_json::from_str(&row.get::<String, _>("payload")).unwrap(),
            result: row.get("result"),
            errors: row.get("errors"),
            created_at: row.get("created_at"),
        });
    }
    out
}

/// A random query of one to three terms.
fn random_query(rng: &mut StdRng, jobs: &[Truth]) -> String {
    let some = |rng: &mut StdRng, items: &[&str]| -> String {
        let n = rng.random_range(1..=2);
        let picked: BTreeSet<&str> = (0..n).map(|_| *items.choose(rng).unwrap()).collect();
        picked
            .into_iter()
            .map(|v| if v.contains(':') { format!("\"{v}\"") } else { v.to_string() })
            .collect::<Vec<_>>()
            .join(",")
    };
    let states: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
    let n = rng.random_range(1..=3);
    let mut terms = vec![];
    for _ in 0..n {
        let job = jobs.choose(rng).unwrap();
        terms.push(match rng.random_range(0..12) {
            0 => format!("queue:{}", some(rng, &QUEUES)),
            1 => format!("state:{}", some(rng, &states)),
            2 => format!("name:{}", some(rng, &NAMES)),
            3 => format!("owner:{}", some(rng, &["7", "8", "42", "9"])),
            4 => format!("id:{}", job.id),
            5 => format!("error:{}", ["declined", "\"temporary glitch\"", "nothing-like-this"].choose(rng).unwrap()),
            6 => format!("after:{}", job.created_at_text()),
            7 => format!("before:{}", job.created_at_text()),
            8 => format!("payload.connection_id:{}", rng.random_range(0..10)),
            9 => [
                "payload.region:eu",
                "payload.tier.level:2",
                "payload.tier.tags.0:a",
                "payload.tier.tags.1:z",
                "payload.keys.0:a",
                "payload.keys.null:eu",
                "payload.raw:plain",
                "payload.note:urgent",
                "payload.missing:1",
                "payload.tier:1",
                "payload.fail:retry",
            ]
            .choose(rng)
            .unwrap()
            .to_string(),
            _ => ["urgent", "timeout", "charge", "\"in full\"", "QUARTERLY", "glitch", "eu", "été", "ÉTÉ", "ETE"]
                .choose(rng)
                .unwrap()
                .to_string(),
        });
    }
    terms.join(" ")
}

impl Truth {
    fn created_at_text(&self) -> String {
        let at = chrono::DateTime::from_timestamp_millis(self.created_at).unwrap();
        // To the millisecond, so bounds fall exactly on some jobs' creation times.
        at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

/// Every hit of a query, page by page.
async fn all_hits(db: &Db, engine: &RedisConnection, query: &Query, limit: u32) -> Vec<(String, String, String)> {
    let mut hits = vec![];
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let page = search::search(db, engine, query, cursor.as_deref(), limit).await.unwrap().unwrap();
        assert!(page.hits.len() <= limit as usize);
        hits.extend(page.hits.into_iter().map(|h| (h.queue, h.job_id, h.state)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return hits,
        }
    }
    panic!("paging never ended");
}

async fn compare_with_reference(database: &TestDatabase) {
    let redis = RedisServer::start();
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let mut rng = StdRng::seed_from_u64(17);
    let ids = fill(&engine, &mut rng).await;
    settle(&db, &engine).await;
    let jobs = truths(&db, &engine, &ids).await;
    assert_eq!(jobs.len(), 450, "every job is either live in Redis or recorded, once");
    let states: BTreeSet<&str> = jobs.iter().map(|j| j.state.as_str()).collect();
    assert_eq!(
        states,
        BTreeSet::from(["cancelled", "completed", "dead", "delayed", "retrying", "waiting"]),
        "the jobs cover every state a search can see at rest"
    );

    let mut nonempty = 0;
    for round in 0..300 {
        let text = if round == 0 { String::new() } else { random_query(&mut rng, &jobs) };
        let query = search::parse(&text, now_ms()).unwrap_or_else(|e| panic!("{text}: {e}"));
        let expected: BTreeSet<(String, String, String)> = jobs
            .iter()
            .filter(|j| reference_matches(&query, j))
            .map(|j| (j.queue.clone(), j.id.clone(), j.state.clone()))
            .collect();
        let limit = rng.random_range(7..=60);
        let hits = all_hits(&db, &engine, &query, limit).await;
        let found: BTreeSet<_> = hits.iter().cloned().collect();
        assert_eq!(found.len(), hits.len(), "{text}: a job listed twice");
        assert_eq!(found, expected, "{text}");
        nonempty += usize::from(!expected.is_empty());
    }
    assert!(nonempty > 100, "most generated queries match something ({nonempty} of 300)");

    // A job removed from Redis drops out of the results (and its live row goes).
    let mail = Queue::new(&engine, "mail").unwrap();
    let waiting = mail.list_jobs(JobState::Waiting, 0, 1).await.unwrap().jobs;
    let query = search::parse(&format!("id:{}", waiting[0].id), now_ms()).unwrap();
    assert_eq!(all_hits(&db, &engine, &query, 10).await.len(), 1);
    mail.remove(&waiting[0].id).await.unwrap();
    assert_eq!(all_hits(&db, &engine, &query, 10).await.len(), 0);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_history WHERE job_id = $1")
        .bind(&waiting[0].id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);

    let bad = search::search(&db, &engine, &Query::default(), Some("nope"), 10).await.unwrap().unwrap_err();
    assert_eq!(bad.field, "cursor");
    let bad = search::search(&db, &engine, &Query::default(), None, 0).await.unwrap().unwrap_err();
    assert_eq!(bad.field, "limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_equals_a_brute_force_reference_on_sqlite() {
    compare_with_reference(&sqlite_database()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_equals_a_brute_force_reference_on_postgres() {
    compare_with_reference(&postgres_database().await).await;
}

/// A live row never replaces the record of a later ending, and a record never replaces
/// a live row read after its ending.
#[tokio::test]
async fn the_newer_of_a_live_row_and_a_record_wins() {
    let common::Stores { redis: _redis, database: _database, db, engine } = common::Stores::start().await;
    let queue = Queue::new(&engine, "q").unwrap();
    let job = queue.enqueue(NewJob::new("n", json!({}))).await.unwrap();
    let live = queue.get_job(&job.id).await.unwrap().unwrap();
    let status = || async {
        sqlx::query_scalar::<_, String>("SELECT status FROM job_history WHERE job_id = $1")
            .bind(&job.id)
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    let mut ended = history::HistoryRecord {
        queue: live.queue.clone(),
        job_id: live.id.clone(),
        name: live.name.clone(),
        owner: None,
        status: "completed".into(),
        payload: json!({}),
        result: None,
        error: None,
        errors: json!([]),
        attempts: 1,
        created_at: live.created_at,
        started_at: None,
        finished_at: 2_000,
        duration_ms: None,
    };
    history::index_live(&db, std::slice::from_ref(&live), 1_000).await.unwrap();
    assert_eq!(status().await, "live");
    history::record(&db, std::slice::from_ref(&ended)).await.unwrap();
    assert_eq!(status().await, "completed");
    // Read live at 1,500, before the ending at 2,000: too old to replace it.
    history::index_live(&db, std::slice::from_ref(&live), 1_500).await.unwrap();
    assert_eq!(status().await, "completed");
    // Read live at 3,000: retried after that ending.
    history::index_live(&db, std::slice::from_ref(&live), 3_000).await.unwrap();
    assert_eq!(status().await, "live");
    // The record of the ending at 2,000 arrives late: the live row read at 3,000 stays.
    history::record(&db, std::slice::from_ref(&ended)).await.unwrap();
    assert_eq!(status().await, "live");
    ended.finished_at = 4_000;
    history::record(&db, std::slice::from_ref(&ended)).await.unwrap();
    assert_eq!(status().await, "completed");
}

/// Pages show each job once as of the first page: a job shown live that ends before the
/// next page is not shown again as finished, and one that ends before its turn is shown
/// once, as it ended.
#[tokio::test]
async fn pages_show_each_job_once_though_jobs_end_between_them() {
    let common::Stores { redis: _redis, database: _database, db, engine } = common::Stores::start().await;
    let queue = Queue::new(&engine, "q").unwrap();
    queue.set_archiving(true).await.unwrap();
    let mut ids = vec![];
    for i in 0..4 {
        ids.push(queue.enqueue(NewJob::new("n", json!({ "i": i }))).await.unwrap().id);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // One that ended before the search: shown once, in the finished phase.
    queue.cancel(&ids[0]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await;
    settle(&db, &engine).await;
    let query = search::parse("queue:q", 0).unwrap();
    let first = search::search(&db, &engine, &query, None, 1).await.unwrap().unwrap();
    assert_eq!(first.hits[0].job_id, ids[3], "newest live job first");
    // Both the one shown and one not shown yet end now, and are copied.
    tokio::time::sleep(Duration::from_millis(2)).await;
    queue.cancel(&ids[3]).await.unwrap();
    queue.cancel(&ids[1]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await;
    settle(&db, &engine).await;
    let mut seen = vec![(first.hits[0].job_id.clone(), first.hits[0].state.clone())];
    let mut cursor = first.next;
    while let Some(next) = cursor {
        let page = search::search(&db, &engine, &query, Some(&next), 1).await.unwrap().unwrap();
        seen.extend(page.hits.into_iter().map(|h| (h.job_id, h.state)));
        cursor = page.next;
    }
    let expected = [(&ids[3], "waiting"), (&ids[2], "waiting"), (&ids[1], "cancelled"), (&ids[0], "cancelled")];
    assert_eq!(seen, expected.map(|(id, state)| (id.clone(), state.to_string())));
}

/// A job removed from Redis leaves its live row; the copier's sweep drops it (and keeps
/// records of endings).
#[tokio::test]
async fn the_sweep_drops_rows_of_jobs_gone_from_redis() {
    let common::Stores { redis: _redis, database: _database, db, engine } = common::Stores::start().await;
    let queue = Queue::new(&engine, "q").unwrap();
    queue.set_archiving(true).await.unwrap();
    let kept = queue.enqueue(NewJob::new("n", json!({}))).await.unwrap().id;
    let removed = queue.enqueue(NewJob::new("n", json!({}))).await.unwrap().id;
    let ended = queue.enqueue(NewJob::new("n", json!({}))).await.unwrap().id;
    queue.cancel(&ended).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await;
    settle(&db, &engine).await;
    queue.remove(&removed).await.unwrap();
    queue.remove(&ended).await.unwrap();
    let rows = || async {
        sqlx::query_scalar::<_, String>("SELECT job_id || ' ' || status FROM job_history ORDER BY job_id")
            .fetch_all(&db.pool)
            .await
            .unwrap()
    };
    assert_eq!(rows().await.len(), 3);
    let mut cursor = history::SweepCursor::default();
    assert_eq!(history::sweep_live_rows(&db, &engine, &mut cursor).await.unwrap(), 1);
    let mut expected = vec![format!("{kept} live"), format!("{ended} cancelled")];
    expected.sort();
    assert_eq!(rows().await, expected);
}

#[tokio::test]
async fn search_over_http_shows_end_users_only_their_jobs() {
    let t = common::TestApp::start().await;
    let engine = RedisConnection::connect(&t.redis.url()).await.unwrap();
    let ulla = create_user(&t.db, "ulla", "ulla-password", Role::User).await.unwrap();
    let queue = Queue::new(&engine, "sync").unwrap();
    queue.set_archiving(true).await.unwrap();
    for owner in [ulla.to_string(), "999".into()] {
        let options = JobOptions { owner: Some(owner.clone()), ..Default::default() };
        queue.enqueue(NewJob::new("sync", json!({ "for": owner })).with_options(options)).await.unwrap();
    }
    settle(&t.db, &engine).await;

    let (mut user, user_csrf) = t.client("ulla", "ulla-password", "10.7.0.2:1").await;
    let mut admin = t.admin;
    let r = admin.send("GET", "/api/v1/search?q=state:waiting", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["hits"].as_array().unwrap().len(), 2);

    for q in ["", "owner:999", "state:waiting"] {
        let r = user.send("GET", &format!("/api/v1/search?q={q}"), None, &[]).await;
        let owners: Vec<&str> =
            r.body["hits"].as_array().unwrap().iter().map(|h| h["owner"].as_str().unwrap()).collect();
        let expected: Vec<String> = if q == "owner:999" { vec![] } else { vec![ulla.to_string()] };
        assert_eq!(owners, expected, "{q}");
    }

    // Autocomplete: qualifiers, then values from the engine and the index.
    let suggest = |r: common::Reply| -> (u64, Vec<String>) {
        let values = r.body["values"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        (r.body["from"].as_u64().unwrap(), values)
    };
    for (q, from, values) in [
        ("st", 0, vec!["state:"]),
        ("state:waiting qu", 14, vec!["queue:"]),
        ("queue:sy", 0, vec!["queue:sync"]),
        ("state:waiting,de", 0, vec!["state:waiting,delayed", "state:waiting,dead"]),
        ("name:s", 0, vec!["name:sync"]),
        ("payload.f", 0, vec!["payload.for:"]),
        ("owner:99", 0, vec!["owner:999"]),
        ("after:1", 0, vec!["after:1h", "after:1d"]),
    ] {
        let r = admin.send("GET", &format!("/api/v1/search/suggestions?q={}", q.replace(' ', "%20")), None, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {:?}", r.body);
        assert_eq!(suggest(r), (from, values.into_iter().map(String::from).collect()), "{q}");
    }
    // End users are offered neither others' owners nor queue names.
    for q in ["owner:", "queue:"] {
        let r = user.send("GET", &format!("/api/v1/search/suggestions?q={q}"), None, &[]).await;
        assert_eq!(suggest(r).1, Vec::<String>::new(), "{q}");
    }
    // Saved searches: per user, with counts; a bad query or name is refused.
    let headers = [("x-csrf-token", t.csrf.as_str())];
    let r = admin
        .send("POST", "/api/v1/search/saved", Some(json!({ "name": "waiting", "q": "state:waiting" })), &headers)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    let r = admin.send("GET", "/api/v1/search/saved", None, &[]).await;
    assert_eq!(r.body[0]["name"], "waiting");
    assert_eq!(r.body[0]["count"], json!({ "count": 2, "at_least": false }));
    for (body, field) in [
        (json!({ "name": "bad", "q": "colour:red" }), "q"),
        (json!({ "name": "", "q": "state:dead" }), "name"),
        (json!({ "name": "x".repeat(101), "q": "state:dead" }), "name"),
    ] {
        let r = admin.send("POST", "/api/v1/search/saved", Some(body), &headers).await;
        assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)));
    }
    for n in 1..20 {
        let body = json!({ "name": format!("s{n}"), "q": "state:dead" });
        assert_eq!(admin.send("POST", "/api/v1/search/saved", Some(body), &headers).await.status, StatusCode::OK);
    }
    let full = json!({ "name": "one too many", "q": "state:dead" });
    assert_eq!(admin.send("POST", "/api/v1/search/saved", Some(full), &headers).await.status, StatusCode::CONFLICT);
    // Another user sees none of them and cannot delete them.
    assert_eq!(user.send("GET", "/api/v1/search/saved", None, &[]).await.body, json!([]));
    let path = format!("/api/v1/search/saved/{id}");
    assert_eq!(
        user.send("DELETE", &path, None, &[("x-csrf-token", user_csrf.as_str())]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(admin.send("DELETE", &path, None, &headers).await.status, StatusCode::NO_CONTENT);

    let long = "x".repeat(1001);
    let r = admin.send("GET", &format!("/api/v1/search/suggestions?q={long}"), None, &[]).await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("q")));

    for (path, field) in [
        ("/api/v1/search?q=colour:red", "q"),
        ("/api/v1/search?q=state:running", "q"),
        ("/api/v1/search?q=%22open", "q"),
        ("/api/v1/search?limit=0", "limit"),
        ("/api/v1/search?limit=201", "limit"),
        ("/api/v1/search?cursor=nope", "cursor"),
        ("/api/v1/search?sort=id", "sort"),
    ] {
        let r = admin.send("GET", path, None, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(r.body["error"]["field"], field, "{path}: {:?}", r.body);
    }
    let mut anonymous = common::Client::new(&t.app, "10.7.0.9:1");
    assert_eq!(anonymous.send("GET", "/api/v1/search", None, &[]).await.status, StatusCode::UNAUTHORIZED);
}

/// Acting on a search: a count first, a confirmation, then bounded requests until done
/// (100,000 matches deleted without any request near its timeout), retry and requeue,
/// audited; and exports as JSON lines and CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_actions_on_a_search_and_exports() {
    let t = common::TestApp::start().await;
    let engine = RedisConnection::connect(&t.redis.url()).await.unwrap();
    let big = Queue::new(&engine, "big").unwrap();
    big.set_archiving(true).await.unwrap();
    for _ in 0..10 {
        big.enqueue_bulk((0..10_000).map(|i| NewJob::new("bulk", json!({ "i": i }))).collect()).await.unwrap();
    }
    let small = Queue::new(&engine, "small").unwrap();
    small.set_archiving(true).await.unwrap();
    let added = small
        .enqueue_bulk(
            (0..50)
                .map(|i| {
                    NewJob::new("x", json!({ "i": i, "note": "a \"quoted\", comma" }))
                        .with_options(JobOptions { delay: Some(Duration::from_secs(3600)), ..Default::default() })
                })
                .collect(),
        )
        .await
        .unwrap();
    for job in &added {
        small.cancel(&job.id).await.unwrap();
    }
    settle(&t.db, &engine).await;

    let csrf = t.csrf.clone();
    let mut admin = t.admin;
    let count = admin.send("GET", "/api/v1/search/count?q=queue:big", None, &[]).await;
    assert_eq!(count.body, json!({ "count": 100_000, "at_least": false }));
    let count = admin.send("GET", "/api/v1/search/count?q=queue:big%20state:waiting", None, &[]).await;
    assert_eq!(count.body["at_least"], true, "{:?}", count.body);
    assert!(count.body["count"].as_u64().unwrap() >= 20_000);
    let count = admin.send("GET", "/api/v1/search/count?q=queue:small%20state:cancelled", None, &[]).await;
    assert_eq!(count.body, json!({ "count": 50, "at_least": false }));

    let headers = [("x-csrf-token", csrf.as_str())];
    let unconfirmed = json!({ "q": "queue:big", "action": "delete", "confirm": false });
    let r = admin.send("POST", "/api/v1/search/actions", Some(unconfirmed), &headers).await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("confirm")));

    // Exports, before anything changes: every match once, in both formats.
    let r = admin.send("GET", "/api/v1/search/export?q=queue:small&format=csv", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.body.as_str().unwrap().to_string();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap().get(0), Some("queue"));
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 50);
    assert!(records.iter().all(|r| r.get(4) == Some("cancelled")));
    let payload: Value = serde_json::from_str(records[0].get(9).unwrap()).unwrap();
    assert_eq!(payload["note"], "a \"quoted\", comma");
    let r = admin.send("GET", "/api/v1/search/export?q=queue:small", None, &[]).await;
    let lines: Vec<Value> = r.body.as_str().unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let ids: BTreeSet<&str> = lines.iter().map(|l| l["job_id"].as_str().unwrap()).collect();
    assert_eq!(ids, added.iter().map(|a| a.id.as_str()).collect());

    // Delete 100,000 matches, a bounded request at a time.
    let mut cursor: Option<String> = None;
    let (mut matched, mut changed, mut requests) = (0, 0, 0);
    loop {
        let body = json!({ "q": "queue:big", "action": "delete", "confirm": true, "cursor": cursor });
        let started = std::time::Instant::now();
        let r = admin.send("POST", "/api/v1/search/actions", Some(body), &headers).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert!(started.elapsed() < Duration::from_secs(20), "a request took {:?}", started.elapsed());
        matched += r.body["matched"].as_u64().unwrap();
        changed += r.body["changed"].as_u64().unwrap();
        requests += 1;
        match r.body["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!((matched, changed), (100_000, 100_000));
    assert!(requests >= 20, "at most 5,000 matches per request ({requests} requests)");
    assert_eq!(big.counts().await.unwrap().waiting, 0);
    let rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM job_history WHERE queue = 'big'").fetch_one(&t.db.pool).await.unwrap();
    assert_eq!(rows, 0);

    // Retry the cancelled jobs in place, then requeue them as new jobs.
    let retry = json!({ "q": "queue:small state:cancelled", "action": "retry", "confirm": true });
    let r = admin.send("POST", "/api/v1/search/actions", Some(retry), &headers).await;
    assert_eq!((r.body["matched"].as_u64(), r.body["changed"].as_u64()), (Some(50), Some(50)), "{:?}", r.body);
    assert_eq!(small.counts().await.unwrap().waiting, 50);
    // Retried jobs are found as live once the copier has indexed them again.
    settle(&t.db, &engine).await;
    let requeue = json!({ "q": "queue:small state:waiting", "action": "requeue", "confirm": true });
    let r = admin.send("POST", "/api/v1/search/actions", Some(requeue), &headers).await;
    assert_eq!(r.body["changed"], 50, "{:?}", r.body);
    assert_eq!(small.counts().await.unwrap().waiting, 100);

    let audited: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE action LIKE 'search.%' ORDER BY id")
            .fetch_all(&t.db.pool)
            .await
            .unwrap();
    assert_eq!(audited.len(), requests + 2);
    assert_eq!(audited.last().map(String::as_str), Some("search.requeue"));
}
