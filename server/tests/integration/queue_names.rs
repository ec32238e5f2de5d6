//! The built-in processors' queues renamed (`HOIST_SYNC_QUEUE`...): the REST API and the
//! dashboard enqueue to and read the configured queues, the schedules and fan-outs go
//! onto them, the demo user may enqueue on them, and the builder refuses a bad or shared
//! name while a queue of yours may now carry a built-in's default name.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use hoist_queue::{CancellationToken, JobState, NewJob, Queue, RedisConnection, Scheduler, Worker, WorkerOptions};
use hoist_server::db::Db;
use hoist_server::processors::maintenance::{self, MaintenanceContext};
use hoist_server::processors::sync::{self, SyncConfig, SyncContext, demo_provider::DemoProvider, store};
use hoist_server::processors::{ProcessorConfig, QueueNames, Registry, declare_schedules, demo};
use hoist_server::{Builtin, Hoist};
use hoist_testkit::{RedisServer, TestDatabase, sqlite_database};
use serde_json::json;

const PASSWORD: &str = "queue-names-admin-pw";

fn renamed() -> QueueNames {
    QueueNames {
        demo: "demo-walkthrough".into(),
        notifications: "mail".into(),
        sync: "bank-sync".into(),
        maintenance: "housekeeping".into(),
        reports: "monthly".into(),
    }
}

fn builder(redis: &RedisServer, database: &TestDatabase) -> hoist_server::HoistBuilder {
    Hoist::builder().redis_url(redis.url()).database_url(database.url()).admin_password(PASSWORD)
}

async fn wait_state(queue: &Queue, id: &str, state: JobState) {
    for _ in 0..400 {
        if queue.get_job(id).await.unwrap().is_some_and(|j| j.state == state) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {id} never became {state}: {:?}", queue.get_job(id).await.unwrap().map(|j| j.state));
}

/// "Sync now", an end user's own `sync-connection`, My jobs and a sign-in notice all use
/// the queues the builder was configured with; the default-named queues stay empty.
#[tokio::test]
async fn the_api_enqueues_to_and_reads_the_configured_queues() {
    let (redis, database) = (RedisServer::start(), sqlite_database());
    let hoist = builder(&redis, &database).configure_processors(|c| c.queues = renamed()).build().await.unwrap();
    let app = hoist.router();
    let db = Db::connect(database.url()).await.unwrap();
    // The demo end user, allowed `sync-connection` on the configured sync queue.
    demo::seed(&db, &renamed()).await.unwrap();
    let connection: i64 = sqlx::query_scalar("SELECT id FROM connections WHERE external_id = 'demo-acme-golomt'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let bank_sync = hoist.queue("bank-sync").unwrap();
    let default_sync = hoist.queue(sync::DEFAULT_QUEUE).unwrap();

    let mut user = common::Client::new(&app, "10.7.0.2:1");
    let (user_name, user_password) = demo::DEMO_USER;
    let login = user.login(user_name, user_password).await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    let csrf = login.body["csrf_token"].as_str().unwrap().to_string();
    let h = [("x-csrf-token", csrf.as_str())];

    let r = user.send("POST", &format!("/api/v1/connections/{connection}/sync"), None, &h).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let job_id = r.body["job_id"].as_str().unwrap().to_string();
    let job = bank_sync.get_job(&job_id).await.unwrap().expect("the sync is on the configured queue");
    assert_eq!((job.name.as_str(), job.state), (sync::SYNC_CONNECTION, JobState::Waiting));
    assert_eq!(default_sync.counts().await.unwrap().waiting, 0);

    // The same sync enqueued as a job by the end user goes through "Sync now"'s door: the
    // waiting one comes back instead of a second.
    let request = json!({ "name": sync::SYNC_CONNECTION, "payload": { "connection_id": connection } });
    let r = user.send("POST", "/api/v1/queues/bank-sync/jobs", Some(request.clone()), &h).await;
    assert_eq!((r.status, r.body["id"].as_str()), (StatusCode::ACCEPTED, Some(job_id.as_str())), "{:?}", r.body);
    // On the default-named queue it is not a sync at all: not an allowed job there.
    let r = user.send("POST", "/api/v1/queues/sync/jobs", Some(request), &h).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);

    // My jobs lists the user's jobs of the configured sync queue.
    let mine = user.send("GET", "/api/get_my_jobs", None, &[]).await;
    assert_eq!(mine.status, StatusCode::OK, "{:?}", mine.body);
    let jobs = mine.body["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{:?}", mine.body);
    assert_eq!(jobs[0]["queue"], "bank-sync");

    let mut admin = common::Client::new(&app, "10.7.0.1:1");
    let csrf = admin.login("admin", PASSWORD).await.body["csrf_token"].as_str().unwrap().to_string();
    let notice = json!({ "user_id": "42", "email": "bold@example.com", "ip": "203.0.113.9" });
    let r = admin.send("POST", "/api/v1/notifications/sign-in", Some(notice), &[("x-csrf-token", csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap();
    assert!(hoist.queue("mail").unwrap().get_job(id).await.unwrap().is_some(), "the notice is on `mail`");
    assert_eq!(hoist.queue("notifications").unwrap().counts().await.unwrap().waiting, 0);
}

/// The maintenance and demo schedules enqueue onto the configured queues; declaring them
/// again with other names moves them.
#[tokio::test]
async fn schedules_go_onto_the_configured_queues() {
    let redis = RedisServer::start();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let scheduler = Scheduler::new(&engine);
    let queue_of = async |name: &str| scheduler.get(name).await.unwrap().expect(name).spec.queue;
    let config = |queues: QueueNames| ProcessorConfig {
        enabled: vec![Builtin::Maintenance, Builtin::Reports],
        queues,
        ..Default::default()
    };
    declare_schedules(&engine, &config(QueueNames::default()), &Default::default()).await.unwrap();
    assert_eq!(queue_of("refresh-consents").await, "sync");
    assert_eq!(queue_of("monthly-reports").await, "reports");
    declare_schedules(&engine, &config(renamed()), &Default::default()).await.unwrap();
    assert_eq!(queue_of("refresh-consents").await, "bank-sync");
    assert_eq!(queue_of("monthly-reports").await, "monthly");
    for name in ["categorize-transactions", "sync-all-organisations", "prune-history", "vacuum-database"] {
        assert_eq!(queue_of(name).await, "housekeeping", "{name}");
    }

    demo::declare_schedule(&engine, &renamed()).await.unwrap();
    assert_eq!(queue_of("demo-sync").await, "demo-walkthrough");
    assert_eq!(queue_of("demo-sync-organisations").await, "housekeeping");
    assert_eq!(queue_of("demo-categorize").await, "housekeeping");
    assert_eq!(queue_of("demo-sign-in-notice").await, "mail");
}

/// `sync-all` fans out onto the configured sync queue, and `sync-all-org` there fans out
/// onto its own queue, where the connection syncs then run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_outs_follow_the_configured_sync_queue() {
    let (redis, database) = (RedisServer::start(), sqlite_database());
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let org = store::create_organisation(&db, "Org").await.unwrap();
    store::create_connection(&db, org, "7", "a", "Golomt", None).await.unwrap();
    store::create_connection(&db, org, "7", "b", "Khan", None).await.unwrap();

    let names = renamed();
    let mut registry = Registry::new();
    let sync_queue = names.sync.clone();
    let context = MaintenanceContext { db: db.clone(), engine: engine.clone(), history_retention: None, sync_queue };
    maintenance::register(&mut registry, &names.maintenance, context);
    let provider = std::sync::Arc::new(DemoProvider::new(Duration::from_millis(5)));
    let config = SyncConfig { sync_stagger_ms: 1, sync_retry_base_ms: 50, ..Default::default() };
    sync::register(&mut registry, &names.sync, SyncContext::new(db.clone(), provider, &config));
    let registered: Vec<&str> = registry.queues().map(|(name, _)| name).collect();
    assert_eq!(registered, ["bank-sync", "housekeeping"]);

    let stop = CancellationToken::new();
    let mut workers = vec![];
    for (name, handlers) in registry.queues() {
        let worker = Worker::new(Queue::new(&engine, name).unwrap(), handlers.clone(), WorkerOptions::default());
        workers.push(tokio::spawn(worker.run(stop.clone())));
    }
    let housekeeping = Queue::new(&engine, "housekeeping").unwrap();
    let sync_all = housekeeping.enqueue(NewJob::new(maintenance::SYNC_ALL, json!({}))).await.unwrap();
    wait_state(&housekeeping, &sync_all.id, JobState::Completed).await;

    let bank_sync = Queue::new(&engine, "bank-sync").unwrap();
    for _ in 0..400 {
        if bank_sync.counts().await.unwrap().completed == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let counts = bank_sync.counts().await.unwrap();
    let dead = bank_sync.list_jobs(JobState::Dead, 0, 10).await.unwrap().jobs;
    let errors: Vec<_> = dead.iter().map(|j| (&j.name, j.last_error.as_ref().map(|e| &e.message))).collect();
    assert_eq!((counts.completed, counts.dead), (3, 0), "one sync-all-org and two connection syncs: {errors:?}");
    let synced: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM connections WHERE last_synced_at IS NOT NULL")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(synced, 2);
    assert!(!Queue::list_all(&engine).await.unwrap().contains(&"sync".to_string()), "nothing went to `sync`");
    stop.cancel();
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
}

/// The builder refuses two built-ins on one queue, naming the variable; renaming the
/// sync queue frees `sync` for a queue of the host's own.
#[tokio::test]
async fn the_builder_checks_the_names_and_frees_the_defaults() {
    let (redis, database) = (RedisServer::start(), sqlite_database());
    let shared = builder(&redis, &database).configure_processors(|c| c.queues.maintenance = "sync".into()).build();
    let error = format!("{:#}", shared.await.err().expect("two built-ins on `sync` are refused"));
    assert!(error.contains("HOIST_MAINTENANCE_QUEUE") && error.contains("HOIST_SYNC_QUEUE"), "{error}");
    let bad = builder(&redis, &database).configure_processors(|c| c.queues.sync = "bank sync".into()).build();
    let error = format!("{:#}", bad.await.err().expect("a name with a space is refused"));
    assert!(error.starts_with("HOIST_SYNC_QUEUE: "), "{error}");

    let handlers = hoist_server::queue::Handlers::new()
        .on("invoice", hoist_server::queue::handler_fn(|_| async { Ok(json!({ "sent": true })) }));
    let clash = builder(&redis, &database).processors([Builtin::Sync]).queue("sync", handlers.clone()).build().await;
    assert!(clash.is_err(), "the built-in sync processor has `sync` by default");
    builder(&redis, &database)
        .processors([Builtin::Sync])
        .configure_processors(|c| c.queues.sync = "bank-sync".into())
        .queue("sync", handlers)
        .build()
        .await
        .expect("`sync` is the host's own once the built-in one is renamed");
}
