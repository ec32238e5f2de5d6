//! Provider sync against real Redis and SQL (SQLite and PostgreSQL): progress stages in
//! order on the event stream, a retried sync leaves no duplicate rows, a revoked consent
//! dead-letters the job and flags the connection, fan-out is staggered and announces the
//! batch, consents about to expire are flagged, and the HTTP API per role.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use futures::StreamExt;
use hoist_queue::{CancellationToken, Event, JobState, NewJob, Queue, RedisConnection, Worker, WorkerOptions};
use hoist_server::db::{Db, now_ms};
use hoist_server::processors::Registry;
use hoist_server::processors::sync::demo_provider::{DemoProvider, Fault};
use hoist_server::processors::sync::{self, SyncConfig, SyncContext, store};
use hoist_server::users::{Role, create_user};
use hoist_testkit::{RedisServer, TestDatabase, postgres_database, sqlite_database};
use serde_json::json;

struct Rig {
    _redis: RedisServer,
    _database: TestDatabase,
    db: Db,
    queue: Queue,
    provider: Arc<DemoProvider>,
    stop: CancellationToken,
    worker: tokio::task::JoinHandle<()>,
}

async fn rig(database: TestDatabase, stagger_ms: u64) -> Rig {
    let redis = RedisServer::start();
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let provider = Arc::new(DemoProvider::new(Duration::from_millis(5)));
    let config = SyncConfig { sync_stagger_ms: stagger_ms, sync_retry_base_ms: 50, ..Default::default() };
    let mut registry = Registry::new();
    sync::register(&mut registry, sync::DEFAULT_QUEUE, SyncContext::new(db.clone(), provider.clone(), &config));
    let handlers = registry.queues().find(|(name, _)| *name == sync::DEFAULT_QUEUE).unwrap().1.clone();
    let queue = Queue::new(&engine, sync::DEFAULT_QUEUE).unwrap();
    let stop = CancellationToken::new();
    let worker = Worker::new(queue.clone(), handlers, WorkerOptions { concurrency: 4, ..WorkerOptions::default() });
    let token = stop.clone();
    let worker = tokio::spawn(async move { worker.run(token).await.unwrap() });
    Rig { _redis: redis, _database: database, db, queue, provider, stop, worker }
}

impl Rig {
    async fn finish(self) {
        self.stop.cancel();
        self.worker.await.unwrap();
    }
}

async fn wait_state(queue: &Queue, id: &str, state: JobState) -> hoist_queue::Job {
    for _ in 0..400 {
        if let Some(job) = queue.get_job(id).await.unwrap().filter(|j| j.state == state) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {id} never became {state}: {:?}", queue.get_job(id).await.unwrap().map(|j| j.state));
}

async fn row_counts(db: &Db) -> (i64, i64) {
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(&db.pool).await.unwrap();
    let transactions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transactions").fetch_one(&db.pool).await.unwrap();
    (accounts, transactions)
}

fn sync_job(connection_id: i64) -> NewJob {
    NewJob::new(sync::SYNC_CONNECTION, json!({ "connection_id": connection_id })).with_options(
        hoist_queue::JobOptions {
            max_attempts: 3,
            backoff: hoist_queue::Backoff::Fixed { delay: Duration::from_millis(50) },
            ..Default::default()
        },
    )
}

async fn exercise_sync(database: TestDatabase) {
    let rig = rig(database, 0).await;
    let org = store::create_organisation(&rig.db, "Acme").await.unwrap();
    let id = store::create_connection(&rig.db, org, "7", "bank-a", "Golomt", None).await.unwrap();

    // First a clean sync, watched on the event stream.
    let start = rig.queue.last_event_position().await.unwrap();
    let events = rig.queue.subscribe(Some(start));
    let e = rig.queue.enqueue(sync_job(id)).await.unwrap();
    let job = wait_state(&rig.queue, &e.id, JobState::Completed).await;
    let result = job.result.unwrap();
    let (accounts, transactions) = row_counts(&rig.db).await;
    assert_eq!(
        (result["accounts"].as_i64().unwrap(), result["transactions"].as_i64().unwrap()),
        (accounts, transactions)
    );
    assert!(accounts >= 2 && transactions >= 30, "{accounts} accounts, {transactions} transactions");
    let seen: Vec<Event> = events
        .take_while(|e| {
            let done = e.as_ref().is_ok_and(|e| e.kind == "sync.completed");
            async move { !done }
        })
        .map(|e| e.unwrap())
        .collect()
        .await;
    let stages: Vec<String> = seen
        .iter()
        .filter(|e| e.kind == "progress")
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.fields["progress"]).unwrap()["stage"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .fold(vec![], |mut acc, stage| {
            if acc.last() != Some(&stage) {
                acc.push(stage);
            }
            acc
        });
    assert_eq!(stages, ["starting", "syncing_accounts", "syncing_transactions", "finalizing", "completed"]);
    let connection = store::connection(&rig.db, id).await.unwrap().unwrap();
    assert_eq!(connection.status, "active");
    assert!(connection.last_synced_at.is_some());

    // The provider fails mid-way (503 on the first transactions call): the retry finishes
    // the job, and the rows are the same ones, not twice as many.
    rig.provider.inject("bank-a", &[None, Some(Fault::Unavailable)]);
    let e = rig.queue.enqueue(sync_job(id)).await.unwrap();
    let job = wait_state(&rig.queue, &e.id, JobState::Completed).await;
    assert_eq!(job.attempts, 2, "503 failed the first attempt");
    assert!(job.errors[0].message.contains("503"), "{:?}", job.errors);
    assert_eq!(row_counts(&rig.db).await, (accounts, transactions), "no duplicate rows");

    // A revoked consent cannot be retried away: dead letter, connection flagged.
    rig.provider.inject("bank-a", &[Some(Fault::Unauthorized)]);
    let e = rig.queue.enqueue(sync_job(id)).await.unwrap();
    let job = wait_state(&rig.queue, &e.id, JobState::Dead).await;
    assert_eq!(job.attempts, 1);
    let connection = store::connection(&rig.db, id).await.unwrap().unwrap();
    assert_eq!(connection.status, "requires_reauth");
    assert!(connection.last_error.unwrap().contains("401"));
    let failed = rig.queue.read_events(None, 10_000).await.unwrap();
    assert!(failed.iter().any(|e| e.kind == "sync.failed" && e.job_id == job.id));
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_reports_stages_and_a_retry_adds_no_rows_on_sqlite() {
    exercise_sync(sqlite_database()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_reports_stages_and_a_retry_adds_no_rows_on_postgres() {
    exercise_sync(postgres_database().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_is_staggered_and_announces_the_batch() {
    let rig = rig(sqlite_database(), 300).await;
    let org = store::create_organisation(&rig.db, "Fan").await.unwrap();
    for (i, bank) in ["b1", "b2", "b3"].iter().enumerate() {
        store::create_connection(&rig.db, org, &format!("{i}"), bank, "Khan Bank", None).await.unwrap();
    }
    let other = store::create_organisation(&rig.db, "Other").await.unwrap();
    store::create_connection(&rig.db, other, "9", "elsewhere", "TDB", None).await.unwrap();

    let e = rig.queue.enqueue(NewJob::new(sync::SYNC_ALL_ORG, json!({ "org_id": org }))).await.unwrap();
    let job = wait_state(&rig.queue, &e.id, JobState::Completed).await;
    let ids: Vec<String> =
        job.result.unwrap()["jobs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 3, "one job per connection of the organisation");
    let mut run_at = vec![];
    for id in &ids {
        let child = wait_state(&rig.queue, id, JobState::Completed).await;
        run_at.push(child.run_at);
    }
    for pair in run_at.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((300..600).contains(&gap), "jobs start 300 ms apart: {run_at:?}");
    }
    let mut announced = 0;
    for _ in 0..100 {
        let events = rig.queue.read_events(None, 10_000).await.unwrap();
        announced = events.iter().filter(|ev| ev.kind == "batch.completed" && ev.job_id == e.id).count();
        if announced > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(announced, 1, "the batch is announced once, when its last job is done");
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consents_ending_within_a_week_are_flagged() {
    let rig = rig(sqlite_database(), 0).await;
    let org = store::create_organisation(&rig.db, "Consent").await.unwrap();
    let day = 86_400_000;
    let soon = store::create_connection(&rig.db, org, "1", "soon", "Golomt", Some(now_ms() + 3 * day)).await.unwrap();
    let later =
        store::create_connection(&rig.db, org, "1", "later", "Golomt", Some(now_ms() + 30 * day)).await.unwrap();
    let e = rig.queue.enqueue(NewJob::new(sync::REFRESH_CONSENTS, json!({}))).await.unwrap();
    let job = wait_state(&rig.queue, &e.id, JobState::Completed).await;
    assert_eq!(job.result.unwrap()["flagged"], json!([soon]));
    assert_eq!(store::connection(&rig.db, soon).await.unwrap().unwrap().status, "requires_reauth");
    assert_eq!(store::connection(&rig.db, later).await.unwrap().unwrap().status, "active");
    let events = rig.queue.read_events(None, 1000).await.unwrap();
    let expiring = events.iter().find(|ev| ev.kind == "consents.expiring").expect("announced");
    assert_eq!(expiring.fields["count"], "1");
    rig.finish().await;
}

#[tokio::test]
async fn end_users_sync_and_see_only_their_own_connections() {
    let t = common::TestApp::start().await;
    let ulla = create_user(&t.db, "ulla", "ulla-password", Role::User).await.unwrap();
    create_user(&t.db, "vera", "vera-password", Role::Viewer).await.unwrap();
    let org = store::create_organisation(&t.db, "Org").await.unwrap();
    let mine = store::create_connection(&t.db, org, &ulla.to_string(), "mine", "Golomt", None).await.unwrap();
    let theirs = store::create_connection(&t.db, org, "999", "theirs", "Golomt", None).await.unwrap();

    let (mut user, csrf) = t.client("ulla", "ulla-password", "10.6.0.2:1").await;
    let h = [("x-csrf-token", csrf.as_str())];
    let r = user.send("GET", "/api/v1/connections", None, &[]).await;
    let ids: Vec<i64> = r.body.as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [mine]);
    let r = user.send("POST", &format!("/api/v1/connections/{mine}/sync"), None, &h).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let job_id = r.body["job_id"].as_str().unwrap().to_string();
    // Pressing "Sync now" again while that sync waits: the same job, not another.
    let r = user.send("POST", &format!("/api/v1/connections/{mine}/sync"), None, &h).await;
    assert_eq!((r.status, r.body["job_id"].as_str()), (StatusCode::ACCEPTED, Some(job_id.as_str())));
    let r = user.send("GET", &format!("/api/v1/queues/sync/jobs/{job_id}"), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "the user can watch their sync job");
    assert_eq!(
        user.send("GET", &format!("/api/v1/connections/{theirs}"), None, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let r = user.send("POST", &format!("/api/v1/connections/{theirs}/sync"), None, &h).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let (mut viewer, vcsrf) = t.client("vera", "vera-password", "10.6.0.3:1").await;
    assert_eq!(viewer.send("GET", "/api/v1/connections", None, &[]).await.body.as_array().unwrap().len(), 2);
    let r = viewer
        .send("POST", &format!("/api/v1/connections/{mine}/sync"), None, &[("x-csrf-token", vcsrf.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let mut admin = t.admin;
    let r = admin
        .send("POST", &format!("/api/v1/connections/{theirs}/sync"), None, &[("x-csrf-token", t.csrf.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

/// The handlers do not trust the payload: a job owned by a user syncs only that user's
/// connection, and fans out only over their connections of an organisation they belong to.
/// "Sync now" while a sync of the connection waits or runs returns that sync.
#[tokio::test]
async fn handlers_check_the_jobs_owner_and_sync_now_is_deduplicated() {
    let rig = rig(sqlite_database(), 1).await;
    let org = store::create_organisation(&rig.db, "Org").await.unwrap();
    let other_org = store::create_organisation(&rig.db, "Other").await.unwrap();
    let mine = store::create_connection(&rig.db, org, "7", "mine", "Golomt", None).await.unwrap();
    let theirs = store::create_connection(&rig.db, org, "8", "theirs", "Golomt", None).await.unwrap();
    store::create_connection(&rig.db, other_org, "8", "far", "Khan", None).await.unwrap();
    let owned_by = |owner: &str, name: &str, payload: serde_json::Value| {
        let options = hoist_queue::JobOptions { owner: Some(owner.into()), max_attempts: 1, ..Default::default() };
        NewJob::new(name, payload).with_options(options)
    };

    let stolen =
        rig.queue.enqueue(owned_by("7", sync::SYNC_CONNECTION, json!({ "connection_id": theirs }))).await.unwrap();
    let job = wait_state(&rig.queue, &stolen.id, JobState::Dead).await;
    let error = job.last_error.unwrap().message;
    assert!(error.contains(&format!("connection {theirs} does not belong to the job's owner")), "{error}");
    // A payload naming a batch its job does not belong to (another user's fan-out) cannot
    // count that batch down.
    let forged = json!({ "connection_id": mine, "batch": "someone-elses-fan-out" });
    let forged = rig.queue.enqueue(owned_by("7", sync::SYNC_CONNECTION, forged)).await.unwrap();
    let job = wait_state(&rig.queue, &forged.id, JobState::Dead).await;
    assert!(job.last_error.unwrap().message.contains("did not add this job"));
    let own = rig.queue.enqueue(owned_by("7", sync::SYNC_CONNECTION, json!({ "connection_id": mine }))).await.unwrap();
    wait_state(&rig.queue, &own.id, JobState::Completed).await;

    let foreign = rig.queue.enqueue(owned_by("7", sync::SYNC_ALL_ORG, json!({ "org_id": other_org }))).await.unwrap();
    let job = wait_state(&rig.queue, &foreign.id, JobState::Dead).await;
    assert!(job.last_error.unwrap().message.contains("has no connection of the job's owner"));
    let fan = rig.queue.enqueue(owned_by("7", sync::SYNC_ALL_ORG, json!({ "org_id": org }))).await.unwrap();
    let job = wait_state(&rig.queue, &fan.id, JobState::Completed).await;
    assert_eq!(job.result.unwrap()["jobs"].as_array().unwrap().len(), 1, "only the owner's own connection");

    // Sync now: the same job while it waits, a new one after it finished.
    rig.queue.pause().await.unwrap();
    let first = sync::enqueue_sync(&rig.queue, Duration::from_millis(50), mine, "7", None, None).await.unwrap();
    let again = sync::enqueue_sync(&rig.queue, Duration::from_millis(50), mine, "7", None, None).await.unwrap();
    assert_eq!((again.id.as_str(), again.duplicate), (first.id.as_str(), true));
    rig.queue.resume().await.unwrap();
    let done = wait_state(&rig.queue, &first.id, JobState::Completed).await;
    assert_eq!(done.group.as_deref(), Some("user:7"), "each user's syncs are a fair group of their own");
    let later = sync::enqueue_sync(&rig.queue, Duration::from_millis(50), mine, "7", None, None).await.unwrap();
    assert!(!later.duplicate);
    assert_ne!(later.id, first.id);
    wait_state(&rig.queue, &later.id, JobState::Completed).await;
    rig.finish().await;
}
