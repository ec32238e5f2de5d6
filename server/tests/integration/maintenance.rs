//! The maintenance jobs do their work (categorize, sync everything, purge sessions, prune,
//! vacuum) and the built-in schedules are declared, minus the switched-off ones.

use std::time::Duration;

use hoist_queue::{CancellationToken, Job, JobState, NewJob, Queue, RedisConnection, Scheduler, Worker, WorkerOptions};
use hoist_server::Builtin;
use hoist_server::db::{Db, now_ms};
use hoist_server::history::{self, HistoryRecord};
use hoist_server::processors::maintenance::{self, MaintenanceConfig, MaintenanceContext};
use hoist_server::processors::sync::{self, provider::ProviderTransaction, store};
use hoist_server::processors::{ProcessorConfig, Registry};
use hoist_testkit::{RedisServer, TestDatabase, postgres_database, sqlite_database};
use serde_json::json;

struct Rig {
    _redis: RedisServer,
    _database: TestDatabase,
    db: Db,
    engine: RedisConnection,
    queue: Queue,
    stop: CancellationToken,
}

async fn rig(database: TestDatabase) -> Rig {
    let redis = RedisServer::start();
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let mut registry = Registry::new();
    let context = MaintenanceContext {
        db: db.clone(),
        engine: engine.clone(),
        history_retention: Some(Duration::from_secs(30 * 86_400)),
        sync_queue: sync::DEFAULT_QUEUE.into(),
    };
    maintenance::register(&mut registry, maintenance::DEFAULT_QUEUE, context);
    let handlers = registry.queues().find(|(n, _)| *n == maintenance::DEFAULT_QUEUE).unwrap().1.clone();
    let queue = Queue::new(&engine, maintenance::DEFAULT_QUEUE).unwrap();
    let stop = CancellationToken::new();
    let worker = Worker::new(queue.clone(), handlers, WorkerOptions { concurrency: 1, ..Default::default() });
    let token = stop.clone();
    tokio::spawn(async move { worker.run(token).await.unwrap() });
    Rig { _redis: redis, _database: database, db, engine, queue, stop }
}

impl Rig {
    async fn run(&self, name: &str) -> Job {
        let e = self.queue.enqueue(NewJob::new(name, json!({}))).await.unwrap();
        for _ in 0..400 {
            let job = self.queue.get_job(&e.id).await.unwrap().unwrap();
            match job.state {
                JobState::Completed => return job,
                JobState::Dead => panic!("{name} failed: {:?}", job.last_error),
                _ => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
        panic!("{name} did not finish");
    }
}

fn transaction(id: &str, description: &str, merchant: Option<&str>) -> ProviderTransaction {
    ProviderTransaction {
        external_id: id.into(),
        amount: -1000,
        currency: "MNT".into(),
        description: description.into(),
        merchant: merchant.map(Into::into),
        booked_at: 1_767_225_600_000,
    }
}

async fn categories(db: &Db) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT external_id, category FROM transactions ORDER BY external_id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

async fn exercise(database: TestDatabase) {
    let rig = rig(database).await;

    // Categorize: the first matching rule (longest keyword first), case-insensitive, in
    // the description or the merchant; unmatched ones stay open for later rules.
    let org = store::create_organisation(&rig.db, "Org").await.unwrap();
    let connection = store::create_connection(&rig.db, org, "1", "c-1", "Golomt", None).await.unwrap();
    let account = store::upsert_accounts(
        &rig.db,
        connection,
        &[sync::provider::ProviderAccount {
            external_id: "a-1".into(),
            name: "Checking".into(),
            kind: "checking".into(),
            currency: "MNT".into(),
            balance: 0,
        }],
    )
    .await
    .unwrap()[0];
    store::upsert_transactions(
        &rig.db,
        account,
        &[
            transaction("t1", "NOMIN SUPERMARKET 12", Some("Nomin Supermarket")),
            transaction("t2", "card payment", Some("Shell")),
            transaction("t3", "NETFLIX.COM", None),
            transaction("t4", "transfer to friend", None),
        ],
    )
    .await
    .unwrap();
    for (keyword, category) in [("nomin", "groceries"), ("shell", "fuel"), ("netflix", "subscriptions")] {
        sqlx::query("INSERT INTO category_rules (keyword, category) VALUES ($1, $2)")
            .bind(keyword)
            .bind(category)
            .execute(&rig.db.pool)
            .await
            .unwrap();
    }
    let job = rig.run(maintenance::CATEGORIZE).await;
    assert_eq!(job.result.unwrap(), json!({ "scanned": 4, "categorized": 3 }));
    let some = |c: &str| Some(c.to_string());
    assert_eq!(
        categories(&rig.db).await,
        vec![
            ("t1".into(), some("groceries")),
            ("t2".into(), some("fuel")),
            ("t3".into(), some("subscriptions")),
            ("t4".into(), None)
        ]
    );
    sqlx::query("INSERT INTO category_rules (keyword, category) VALUES ('transfer', 'transfers')")
        .execute(&rig.db.pool)
        .await
        .unwrap();
    let job = rig.run(maintenance::CATEGORIZE).await;
    assert_eq!(job.result.unwrap(), json!({ "scanned": 1, "categorized": 1 }), "only the open one is looked at");

    // Sync everything: one sync-all-org per organisation.
    store::create_organisation(&rig.db, "Second").await.unwrap();
    let job = rig.run(maintenance::SYNC_ALL).await;
    assert_eq!(job.result.unwrap()["organisations"], 2);
    let sync_queue = Queue::new(&rig.engine, sync::DEFAULT_QUEUE).unwrap();
    assert_eq!(sync_queue.counts().await.unwrap().waiting, 2);

    // Prune: history past its 30 days goes; recent stays.
    let record = |id: &str, finished_at: i64| HistoryRecord {
        queue: "q".into(),
        job_id: id.into(),
        name: "x".into(),
        owner: None,
        status: "completed".into(),
        payload: json!({}),
        result: None,
        error: None,
        errors: json!([]),
        attempts: 1,
        created_at: finished_at,
        started_at: Some(finished_at),
        finished_at,
        duration_ms: Some(0),
    };
    let day = 86_400_000;
    history::record(&rig.db, &[record("old", now_ms() - 40 * day), record("new", now_ms() - day)]).await.unwrap();
    let job = rig.run(maintenance::PRUNE).await;
    assert_eq!(job.result.unwrap()["history_deleted"], 1);
    let left: Vec<String> = sqlx::query_scalar("SELECT job_id FROM job_history").fetch_all(&rig.db.pool).await.unwrap();
    assert_eq!(left, ["new"]);

    let job = rig.run(maintenance::VACUUM).await;
    assert!(job.result.unwrap()["ran"].as_array().unwrap().iter().any(|s| s.as_str().unwrap().contains("ANALYZE")));
    rig.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_jobs_do_their_work_on_sqlite() {
    exercise(sqlite_database()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_jobs_do_their_work_on_postgres() {
    exercise(postgres_database().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_purged() {
    use tower_sessions::session::{Id, Record};
    use tower_sessions::session_store::SessionStore;
    let rig = rig(sqlite_database()).await;
    let store = hoist_server::auth::session_store::SqlSessionStore::connect(&rig.db).await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    let mut expired =
        Record { id: Id::default(), data: Default::default(), expiry_date: now - time::Duration::hours(1) };
    let mut live = Record { id: Id::default(), data: Default::default(), expiry_date: now + time::Duration::hours(1) };
    store.create(&mut expired).await.unwrap();
    store.create(&mut live).await.unwrap();
    let count = async || -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM tower_sessions").fetch_one(&rig.db.pool).await.unwrap()
    };
    assert_eq!(count().await, 2);
    rig.run(maintenance::PURGE_SESSIONS).await;
    assert_eq!(count().await, 1);
    assert!(store.load(&live.id).await.unwrap().is_some());
    rig.stop.cancel();
}

#[tokio::test]
async fn built_in_schedules_are_declared_and_can_be_switched_off() {
    let redis = RedisServer::start();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let config = ProcessorConfig {
        enabled: vec![Builtin::Maintenance, Builtin::Reports],
        maintenance: MaintenanceConfig { disabled_schedules: vec!["vacuum-database".into()] },
        ..Default::default()
    };
    hoist_server::processors::declare_schedules(&engine, &config, &Default::default()).await.unwrap();
    hoist_server::processors::declare_schedules(&engine, &config, &Default::default()).await.unwrap();
    let listed = Scheduler::new(&engine).list().await.unwrap();
    let mut found: Vec<(String, String, String)> =
        listed.iter().map(|s| (s.spec.name.clone(), s.spec.cron.clone(), s.spec.timezone.clone())).collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("categorize-transactions", "0 * * * *", "UTC"),
            ("monthly-reports", "0 0 1 * *", "UTC"),
            ("prune-history", "0 4 * * *", "UTC"),
            ("purge-expired-sessions", "0 2 * * *", "UTC"),
            ("refresh-consents", "0 3 * * *", "Europe/Berlin"),
            ("sync-all-organisations", "0 */4 * * *", "UTC"),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
}
