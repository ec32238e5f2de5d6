//! Real `hoist serve` and `hoist worker` processes on one Redis: both work the same queue,
//! and the SQL history holds every finished job exactly once even when the server is
//! killed mid-run and started again.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hoist_queue::{JobState, NewJob, Queue, RedisConnection};
use hoist_server::db::Db;
use hoist_testkit::{RedisServer, TestDatabase, sqlite_database};
use serde_json::json;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `hoist <command>` on the test's Redis and database, with short leases so a killed
/// process's jobs come back quickly.
/// A child process that is killed when dropped, so a failing test leaves none behind.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(command: &str, redis: &RedisServer, database: &TestDatabase, env: &[(&str, String)]) -> Process {
    spawn_on(command, &redis.url(), database, env)
}

/// As `spawn`, on the Redis (or cluster node list) at `redis_url`.
fn spawn_on(command: &str, redis_url: &str, database: &TestDatabase, env: &[(&str, String)]) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hoist"));
    child
        .arg(command)
        .env("REDIS_URL", redis_url)
        .env("DATABASE_URL", database.url())
        .env("HOIST_PROCESSORS", "all")
        .env("HOIST_QUEUE_DEMO_CONCURRENCY", "2")
        .env("HOIST_JOB_LEASE_SECONDS", "3")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // The developer's own tracing settings stay out of the test.
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("OTEL_")) {
        child.env_remove(name);
    }
    for (name, value) in env {
        child.env(name, value);
    }
    Process(child.spawn().unwrap())
}

fn spawn_serve(redis: &RedisServer, database: &TestDatabase, port: u16) -> Process {
    let env = [("HOIST_ADDR", format!("127.0.0.1:{port}")), ("HOIST_ADMIN_PASSWORD", "admin-password-1".into())];
    spawn("serve", redis, database, &env)
}

fn spawn_worker(redis: &RedisServer, database: &TestDatabase, port: u16) -> Process {
    spawn("worker", redis, database, &[("HOIST_WORKER_ADDR", format!("127.0.0.1:{port}"))])
}

fn stop(process: &mut Process) {
    let child = &mut process.0;
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    for _ in 0..300 {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The process id in a worker id `host-pid-random.lane` (the host may hold `-`): a
/// process runs a worker per queue, each with its own id.
fn pid_of(worker_id: &str) -> String {
    worker_id.rsplit('-').nth(1).unwrap_or_default().to_string()
}

/// Worker ids are `host-pid-random.lane`: one process runs several claim lanes.
fn process_of(worker_id: &str) -> String {
    worker_id.rsplit_once('.').map_or(worker_id, |(process, _)| process).to_string()
}

/// Signs in over the REST API as the `admin` the spawned server made: the session cookie
/// and the CSRF token every change must send.
async fn sign_in_as_admin(http: &reqwest::Client, base: &str) -> (String, String) {
    sign_in(http, base, "admin", "admin-password-1").await
}

/// Signs in over the REST API: the session cookie and the CSRF token.
async fn sign_in(http: &reqwest::Client, base: &str, username: &str, password: &str) -> (String, String) {
    let login = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success());
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = login.json::<serde_json::Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_string();
    (cookie, csrf)
}

async fn history_ids(db: &Db) -> Vec<String> {
    sqlx::query_scalar("SELECT job_id FROM job_history").fetch_all(&db.pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_worker_share_a_queue_and_history_survives_a_killed_server() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    let (serve_port, worker_port) = (free_port(), free_port());
    let mut serve = spawn_serve(&redis, &database, serve_port);
    let mut worker = spawn_worker(&redis, &database, worker_port);

    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let queue = Queue::new(&engine, "demo").unwrap();
    // Both processes check in before any job exists, so neither can take them all.
    wait_until("both processes online", Duration::from_secs(30), || async {
        let workers = queue.workers(Duration::from_secs(60)).await.unwrap();
        workers.iter().map(|(id, _)| process_of(id)).collect::<HashSet<_>>().len() == 2
    })
    .await;
    let jobs: Vec<NewJob> = (0..24).map(|i| NewJob::new("demo-sync", json!({ "duration_ms": 200 + i * 10 }))).collect();
    let ids: Vec<String> = queue.enqueue_bulk(jobs).await.unwrap().into_iter().map(|e| e.id).collect();

    // Kill the server (no graceful stop) while jobs are in flight, then start it again.
    wait_until("a third of the jobs done", Duration::from_secs(60), || async {
        queue.counts().await.unwrap().completed >= 8
    })
    .await;
    serve.0.kill().unwrap();
    serve.0.wait().unwrap();
    let mut serve = spawn_serve(&redis, &database, serve_port);

    wait_until("every job completed", Duration::from_secs(120), || async {
        queue.counts().await.unwrap().completed == 24
    })
    .await;
    let mut ran_on = HashSet::new();
    for id in &ids {
        let job = queue.get_job(id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Completed);
        ran_on.insert(process_of(&job.worker.unwrap()));
    }
    assert!(ran_on.len() >= 2, "the serve and the worker process both ran jobs: {ran_on:?}");

    let db = Db::connect(database.url()).await.unwrap();
    wait_until("every job in the history", Duration::from_secs(30), || async { history_ids(&db).await.len() == 24 })
        .await;
    stop(&mut serve);
    stop(&mut worker);
    let recorded: HashSet<String> = history_ids(&db).await.into_iter().collect();
    assert_eq!(recorded, ids.iter().cloned().collect::<HashSet<_>>(), "each job once, none missing");
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT status FROM job_history").fetch_all(&db.pool).await.unwrap();
    assert_eq!(statuses, ["completed"]);
}

/// With no processors configured, `hoist serve` is a dashboard: it lists a queue whose
/// worker lives in another service, and leaves its jobs waiting until that worker takes
/// them (it used to run built-in workers on `notifications` and others, and dead-letter
/// a service's jobs there with "no handler").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_processors_takes_no_jobs() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    let port = free_port();
    let env = [
        ("HOIST_ADDR", format!("127.0.0.1:{port}")),
        ("HOIST_ADMIN_PASSWORD", "admin-password-1".into()),
        ("HOIST_PROCESSORS", String::new()),
    ];
    let _serve = spawn("serve", &redis, &database, &env);
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let http = reqwest::Client::new();
    wait_until("the server to answer", Duration::from_secs(30), || async {
        http.get(format!("http://127.0.0.1:{port}/healthz")).send().await.is_ok_and(|r| r.status().is_success())
    })
    .await;
    // A service of ours with a queue named like a built-in one.
    let notifications = Queue::new(&engine, "notifications").unwrap();
    let job = notifications.enqueue(NewJob::new("invoice-email", json!({ "to": "a@example.com" }))).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waiting = notifications.get_job(&job.id).await.unwrap().unwrap();
    assert_eq!(waiting.state, JobState::Waiting, "the dashboard took the job: {waiting:?}");
    assert!(Queue::list_all(&engine).await.unwrap().contains(&"notifications".to_string()));

    // The service's own worker takes it.
    let stop = hoist_queue::CancellationToken::new();
    let handlers = hoist_queue::Handlers::new()
        .on("invoice-email", hoist_queue::handler_fn(|_| async { Ok(json!({ "sent": true })) }));
    let worker = hoist_queue::Worker::new(notifications.clone(), handlers, Default::default());
    let running = tokio::spawn(worker.run(stop.clone()));
    wait_until("the service's worker to complete it", Duration::from_secs(15), || async {
        notifications.get_job(&job.id).await.unwrap().is_some_and(|j| j.state == JobState::Completed)
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
}

/// `HOIST_SYNC_QUEUE` renames the sync processor's queue in a `hoist worker`: it takes
/// sync jobs from `bank-sync`, declares `refresh-consents` onto it, and leaves a job on a
/// queue named `sync` (another service's, now) waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_runs_the_sync_processor_on_the_configured_queue() {
    use hoist_server::processors::sync::{self, store};
    let redis = RedisServer::start();
    let database = sqlite_database();
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let org = store::create_organisation(&db, "Org").await.unwrap();
    let connection = store::create_connection(&db, org, "7", "bank-a", "Golomt", None).await.unwrap();
    let env = [
        ("HOIST_WORKER_ADDR", format!("127.0.0.1:{}", free_port())),
        ("HOIST_PROCESSORS", "sync,maintenance".into()),
        ("HOIST_SYNC_QUEUE", "bank-sync".into()),
        ("HOIST_DEMO_PROVIDER_LATENCY_MS", "5".into()),
    ];
    let mut worker = spawn("worker", &redis, &database, &env);

    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let bank_sync = Queue::new(&engine, "bank-sync").unwrap();
    let other = Queue::new(&engine, sync::DEFAULT_QUEUE).unwrap();
    let job = || NewJob::new(sync::SYNC_CONNECTION, json!({ "connection_id": connection }));
    let left = other.enqueue(job()).await.unwrap();
    let taken = bank_sync.enqueue(job()).await.unwrap();
    wait_until("the sync on bank-sync to complete", Duration::from_secs(30), || async {
        bank_sync.get_job(&taken.id).await.unwrap().is_some_and(|j| j.state == JobState::Completed)
    })
    .await;
    let refresh = hoist_queue::Scheduler::new(&engine).get("refresh-consents").await.unwrap().unwrap();
    assert_eq!(refresh.spec.queue, "bank-sync");
    // Taking one job proves the worker is up; give it a moment with the other anyway.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let waiting = other.get_job(&left.id).await.unwrap().unwrap();
    assert_eq!(waiting.state, JobState::Waiting, "the worker took a job of `sync`: {waiting:?}");
    assert!(other.workers(Duration::from_secs(60)).await.unwrap().is_empty(), "no worker on `sync`");
    stop(&mut worker);
}

/// A bad or shared queue name, a bad per-queue setting or duration stops `hoist worker`
/// with one line naming the variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_refuses_a_bad_or_shared_queue_name() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    for (variable, value) in [
        ("HOIST_SYNC_QUEUE", "bank sync"),
        ("HOIST_MAINTENANCE_QUEUE", "sync"),
        // Per-queue settings and durations are checked at start too.
        ("HOIST_QUEUE_SYNC_CONCURRENCY", "lots"),
        ("HOIST_QUEUE_SYNC_MAX_WAITNG", "10"),
        ("HOIST_JOB_LEASE_SECONDS", "1s"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_hoist"))
            .arg("worker")
            .env("REDIS_URL", redis.url())
            .env("DATABASE_URL", database.url())
            .env("HOIST_WORKER_ADDR", format!("127.0.0.1:{}", free_port()))
            .env("HOIST_PROCESSORS", "sync")
            .env(variable, value)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{variable}={value:?} was accepted");
        assert!(stderr.contains(&format!("error: {variable}: ")), "{variable}={value:?}: {stderr}");
    }
}

/// The product on a 3-master Redis Cluster, configured as README says (`REDIS_URL` lists
/// the nodes): a `hoist serve` (the dashboard and API, no workers) and two `hoist worker`
/// processes sharing one PostgreSQL. Jobs of two queues enqueued over the REST API run on
/// both workers, the dashboard lists them, and a per-second schedule that all three
/// processes' schedulers watch fires each tick exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_two_workers_run_on_a_redis_cluster() {
    let cluster = hoist_testkit::RedisCluster::start();
    let database = hoist_testkit::postgres_database().await;
    let port = free_port();
    let serve_env = [
        ("HOIST_ADDR", format!("127.0.0.1:{port}")),
        ("HOIST_ADMIN_PASSWORD", "admin-password-1".into()),
        ("HOIST_PROCESSORS", String::new()),
    ];
    let mut serve = spawn_on("serve", &cluster.url(), &database, &serve_env);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_until("the server to answer", Duration::from_secs(60), || async {
        http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success())
    })
    .await;
    let mut workers: Vec<Process> = (0..2)
        .map(|_| {
            let env = [
                ("HOIST_WORKER_ADDR", format!("127.0.0.1:{}", free_port())),
                ("HOIST_PROCESSORS", "demo,maintenance".into()),
            ];
            spawn_on("worker", &cluster.url(), &database, &env)
        })
        .collect();

    let engine = RedisConnection::connect(&cluster.url()).await.unwrap();
    let demo = Queue::new(&engine, "demo").unwrap();
    wait_until("both workers online", Duration::from_secs(60), || async {
        let workers = demo.workers(Duration::from_secs(60)).await.unwrap();
        workers.iter().map(|(id, _)| pid_of(id)).collect::<HashSet<_>>().len() == 2
    })
    .await;

    let (cookie, csrf) = sign_in_as_admin(&http, &base).await;
    // Signed in: the session cookie and the CSRF header on every request.
    let http = reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([
            (reqwest::header::COOKIE, cookie.parse().unwrap()),
            (reqwest::header::HeaderName::from_static("x-csrf-token"), csrf.parse().unwrap()),
        ]))
        .build()
        .unwrap();
    let enqueue = |queue: &'static str, name: &'static str, payload: serde_json::Value| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let reply = http
                .post(format!("{base}/api/v1/queues/{queue}/jobs"))
                .json(&json!({ "name": name, "payload": payload }))
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status().as_u16(), 202, "{}", reply.text().await.unwrap());
            (queue, reply.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string())
        }
    };
    let mut ids = vec![];
    for i in 0..12 {
        ids.push(enqueue("demo", "demo-sync", json!({ "duration_ms": 300 + i * 10 })).await);
    }
    for _ in 0..2 {
        ids.push(enqueue("maintenance", "purge-sessions", json!({})).await);
    }

    // A schedule every second onto a queue nobody works, so each tick's job stays.
    let schedule = http
        .put(format!("{base}/api/v1/schedules/every-second"))
        .json(&json!({ "name": "every-second", "cron": "* * * * * *", "queue": "ticks", "job": { "name": "tick", "payload": {} } }))
        .send()
        .await
        .unwrap();
    assert!(schedule.status().is_success(), "{}", schedule.text().await.unwrap());

    let mut ran_on = HashSet::new();
    for (queue, id) in &ids {
        let queue = Queue::new(&engine, queue).unwrap();
        wait_until("every job completed", Duration::from_secs(120), || async {
            queue.get_job(id).await.unwrap().is_some_and(|j| j.state == JobState::Completed)
        })
        .await;
        ran_on.insert(pid_of(&queue.get_job(id).await.unwrap().unwrap().worker.unwrap()));
    }
    assert_eq!(ran_on.len(), 2, "both worker processes ran jobs: {ran_on:?}");

    // The dashboard (server-rendered) lists both queues with their completed jobs.
    let overview = http.get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
    for queue in ["demo", "maintenance", "ticks"] {
        assert!(overview.contains(&format!(r#"href="/queues/{queue}""#)), "{queue} on the overview: {overview}");
    }
    let page = http.get(format!("{base}/queues/demo?state=completed")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&ids[0].1), "a completed job on the queue page: {page}");

    // Let the schedule run a few seconds, then stop it and count.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let paused = http.post(format!("{base}/api/v1/schedules/every-second/pause")).send().await.unwrap();
    assert!(paused.status().is_success(), "{}", paused.text().await.unwrap());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ticks = Queue::new(&engine, "ticks").unwrap();
    let jobs = ticks.list_jobs(JobState::Waiting, 0, 1000).await.unwrap().jobs;
    let keys: Vec<String> = jobs.iter().map(|j| j.dedup_key.clone().unwrap_or_default()).collect();
    let distinct: HashSet<&String> = keys.iter().collect();
    assert!(keys.len() >= 4, "a tick a second for about 6 s: {keys:?}");
    assert_eq!(distinct.len(), keys.len(), "each tick fired once: {keys:?}");
    let history = hoist_queue::Scheduler::new(&engine).history("every-second", 1000).await.unwrap();
    let fired: HashSet<i64> = history.iter().map(|r| r.tick).collect();
    assert_eq!(fired.len(), history.len(), "no tick twice in the schedule's history");
    assert_eq!(history.len(), keys.len(), "each fire enqueued its job: {history:?} {keys:?}");

    for worker in &mut workers {
        stop(worker);
    }
    stop(&mut serve);
}

/// Redis behind Sentinel (a master, a replica, three Sentinels; `REDIS_URL` is
/// `redis+sentinel://…/hoist`): the server starts on it, and a `hoist worker` process
/// runs jobs while `SENTINEL FAILOVER` makes the replica master, then carries on against
/// the new master without a restart. Every job the producer had acknowledged (enqueued
/// and, by `WAIT 1`, on the replica too) completes; a producer call that failed during
/// the switch is retried with the same dedup key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_carries_on_through_a_sentinel_failover_and_loses_no_job() {
    let sentinel = hoist_testkit::RedisSentinel::start();
    let database = sqlite_database();

    // The server side: built on the Sentinel URL, ready.
    let hoist = hoist_server::Hoist::builder()
        .redis_url(sentinel.url())
        .database_url(database.url())
        .admin_password("admin-password-1")
        .build()
        .await
        .expect("hoist on Sentinel");
    assert_eq!(hoist.connection().server_version().await.unwrap().split('.').next(), Some("7"));
    drop(hoist);

    let env = [("HOIST_WORKER_ADDR", format!("127.0.0.1:{}", free_port())), ("HOIST_PROCESSORS", "demo".into())];
    let mut worker = spawn_on("worker", &sentinel.url(), &database, &env);
    let engine = RedisConnection::connect(&sentinel.url()).await.unwrap();
    let queue = Queue::new(&engine, "demo").unwrap();
    wait_until("the worker online", Duration::from_secs(30), || async {
        !queue.workers(Duration::from_secs(60)).await.unwrap().is_empty()
    })
    .await;

    const JOBS: usize = 150;
    let producer = {
        let (engine, queue) = (engine.clone(), queue.clone());
        tokio::spawn(async move {
            let mut acknowledged = vec![];
            for i in 0..JOBS {
                let mut job = NewJob::new("demo-sync", json!({ "duration_ms": 20 }));
                job.options.dedup_key = Some(format!("job-{i}"));
                let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
                loop {
                    assert!(tokio::time::Instant::now() < give_up, "job {i} could not be enqueued for 60 s");
                    // A retry after an unacknowledged call gets the job back if it was
                    // added after all (same dedup key).
                    let id = match queue.enqueue(job.clone()).await {
                        Ok(e) => e.id,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let replicated: Result<i64, _> = engine.query(redis::cmd("WAIT").arg(1).arg(2000)).await;
                    if replicated.is_ok_and(|n| n >= 1) {
                        acknowledged.push(id);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            acknowledged
        })
    };
    wait_until("a third of the jobs done", Duration::from_secs(60), || async {
        queue.counts().await.is_ok_and(|c| c.completed as usize >= JOBS / 3)
    })
    .await;
    let master_before = sentinel.master_port();
    let sentinel = tokio::task::spawn_blocking(move || {
        sentinel.failover();
        sentinel
    })
    .await
    .unwrap();
    assert_ne!(sentinel.master_port(), master_before, "the replica is master now");
    // The first call after the switch may fail (and make the connection ask again).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let done_at_failover = loop {
        if let Ok(counts) = queue.counts().await {
            break counts.completed;
        }
        assert!(tokio::time::Instant::now() < deadline, "the queue unreadable on the new master");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let ids = producer.await.unwrap();
    assert_eq!(ids.len(), JOBS);
    wait_until("every acknowledged job completed", Duration::from_secs(120), || async {
        let mut all = true;
        for id in &ids {
            all &= queue.get_job(id).await.ok().flatten().is_some_and(|j| j.state == JobState::Completed);
        }
        all
    })
    .await;
    let completed = queue.counts().await.unwrap().completed;
    assert!(completed > done_at_failover, "jobs completed after the failover: {done_at_failover} -> {completed}");
    assert!(worker.0.try_wait().unwrap().is_none(), "the same worker process, not restarted");
    stop(&mut worker);
}

/// Spans as an OTLP/HTTP collector receives them, each with the `service.name` of the
/// process that sent it.
#[derive(Clone, Default)]
struct OtlpReceiver(std::sync::Arc<std::sync::Mutex<Vec<(String, opentelemetry_proto::tonic::trace::v1::Span)>>>);

impl OtlpReceiver {
    /// Listens on a free loopback port; returns the endpoint to give as
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`.
    async fn start(&self) -> String {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use prost::Message;
        let received = self.0.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| async move {
                let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
                for resource_spans in request.resource_spans {
                    let service = resource_spans
                        .resource
                        .iter()
                        .flat_map(|r| &r.attributes)
                        .find(|a| a.key == "service.name")
                        .map(|a| format!("{:?}", a.value))
                        .unwrap_or_default();
                    for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                        received.lock().unwrap().push((service.clone(), span));
                    }
                }
                ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        endpoint
    }

    /// The spans received from the process named `service` (its `OTEL_SERVICE_NAME`).
    fn spans_of(&self, service: &str, name: &str) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
        let received = self.0.lock().unwrap();
        received
            .iter()
            .filter(|(s, span)| s.contains(service) && span.name == name)
            .map(|(_, span)| span.clone())
            .collect()
    }
}

fn attribute(span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> String {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let value = span.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.as_ref()?.value.clone());
    match value {
        Some(Value::StringValue(s)) => s,
        other => format!("{other:?}"),
    }
}

/// A job enqueued over REST by a caller that sends a W3C `traceparent` runs, in a worker
/// process, in the caller's trace: its `job` span's parent is the server's `request` span,
/// whose parent is the caller's span. Both processes export to a local OTLP/HTTP receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_over_rest_runs_in_the_callers_trace_in_another_process() {
    let receiver = OtlpReceiver::default();
    let endpoint = receiver.start().await;
    let redis = RedisServer::start();
    let database = sqlite_database();
    let port = free_port();
    // The server exports only when it stops (its batch interval is an hour): spans still
    // buffered at exit are sent then.
    let otel = |service: &str, batch_interval_ms: u32| {
        [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
            ("OTEL_SERVICE_NAME", service.to_string()),
            ("OTEL_BSP_SCHEDULE_DELAY", batch_interval_ms.to_string()),
        ]
    };
    let mut serve_env = vec![
        ("HOIST_ADDR", format!("127.0.0.1:{port}")),
        ("HOIST_ADMIN_PASSWORD", "admin-password-1".into()),
        ("HOIST_PROCESSORS", String::new()),
    ];
    serve_env.extend(otel("hoist-api", 3_600_000));
    let mut serve = spawn("serve", &redis, &database, &serve_env);
    let mut worker_env =
        vec![("HOIST_WORKER_ADDR", format!("127.0.0.1:{}", free_port())), ("HOIST_PROCESSORS", "demo".into())];
    worker_env.extend(otel("hoist-worker", 100));
    let _worker = spawn("worker", &redis, &database, &worker_env);

    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_until("the server to answer", Duration::from_secs(60), || async {
        http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success())
    })
    .await;
    let (cookie, csrf) = sign_in_as_admin(&http, &base).await;
    let enqueue = |traceparent: Option<&str>| {
        let mut request = http
            .post(format!("{base}/api/v1/queues/demo/jobs"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({ "name": "demo-sync", "payload": { "duration_ms": 50 } }));
        if let Some(parent) = traceparent {
            // A vendor state longer than a job keeps: shortened, never a refusal.
            let state = (0..40).map(|i| format!("v{i}={}", "x".repeat(12))).collect::<Vec<_>>().join(",");
            request = request.header("traceparent", parent).header("tracestate", &state[..600]);
        }
        async move {
            let reply = request.send().await.unwrap();
            assert_eq!(reply.status().as_u16(), 202);
            reply.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string()
        }
    };
    let (caller_trace, caller_span) = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331");
    let traced = enqueue(Some(&format!("00-{caller_trace}-{caller_span}-01"))).await;
    let untraced = enqueue(None).await;

    let job_span =
        |id: &str| receiver.spans_of("hoist-worker", "job").into_iter().find(|s| attribute(s, "job_id") == id);
    wait_until("both jobs' spans from the worker", Duration::from_secs(60), || async {
        job_span(&traced).is_some() && job_span(&untraced).is_some()
    })
    .await;
    let view: serde_json::Value = http
        .get(format!("{base}/api/v1/queues/demo/jobs/{traced}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(receiver.spans_of("hoist-api", "request").is_empty(), "the server's spans wait for its exit");
    stop(&mut serve);
    wait_until("the server's spans, sent as it stops", Duration::from_secs(30), || async {
        receiver.spans_of("hoist-api", "request").len() >= 3
    })
    .await;
    let request_span = |trace: &[u8]| {
        let requests = receiver.spans_of("hoist-api", "request");
        requests.into_iter().find(|s| s.trace_id == trace && attribute(s, "uri").ends_with("/jobs"))
    };

    let job = job_span(&traced).unwrap();
    assert_eq!(hex::encode(&job.trace_id), caller_trace, "the job runs in the caller's trace");
    assert_eq!(attribute(&job, "queue"), "demo");
    let request = request_span(&job.trace_id).expect("the server's span of the enqueuing request");
    assert_eq!(hex::encode(&request.parent_span_id), caller_span, "the request continues the caller's span");
    assert_eq!(job.parent_span_id, request.span_id, "the job's span is a child of the request's");
    assert_ne!(job.span_id, request.span_id);

    // Without a caller's context the request starts the trace, and the job still joins it.
    let job = job_span(&untraced).unwrap();
    let request = request_span(&job.trace_id).expect("the request that enqueued the untraced job");
    assert!(request.parent_span_id.is_empty(), "a root span");
    assert_eq!(job.parent_span_id, request.span_id);

    // The job keeps its context: the API shows where it came from.
    let traceparent = view["trace"]["traceparent"].as_str().unwrap();
    assert!(traceparent.starts_with(&format!("00-{caller_trace}-")), "{traceparent}");
}

/// The Processes API on real processes: a `hoist serve` (dashboard only) and two `hoist
/// worker`s list themselves with what they run; Quiet makes one finish its running jobs
/// and take no new ones (its readiness probe says so); Stop makes the other finish its
/// jobs and exit by itself. Both are audited; a stopped process refuses commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_and_stop_reach_real_worker_processes_through_the_api() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    let (port, quiet_port, stop_port) = (free_port(), free_port(), free_port());
    let env = [
        ("HOIST_ADDR", format!("127.0.0.1:{port}")),
        ("HOIST_ADMIN_PASSWORD", "admin-password-1".into()),
        ("HOIST_PROCESSORS", String::new()),
    ];
    let _serve = spawn("serve", &redis, &database, &env);
    let mut to_quiet = spawn_worker(&redis, &database, quiet_port);
    let mut to_stop = spawn_worker(&redis, &database, stop_port);
    let (quiet_pid, stop_pid) = (to_quiet.0.id(), to_stop.0.id());
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_until("the server to answer", Duration::from_secs(30), || async {
        http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success())
    })
    .await;
    let (cookie, csrf) = sign_in_as_admin(&http, &base).await;
    let processes = || async {
        let reply = http.get(format!("{base}/api/v1/processes")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(reply.status(), 200);
        reply.json::<serde_json::Value>().await.unwrap()["processes"].as_array().unwrap().clone()
    };
    let by_pid = |list: &[serde_json::Value], pid: u32| list.iter().find(|p| p["pid"] == pid).cloned();
    let command = |id: String, command: &'static str| {
        let (http, cookie, csrf, base) = (http.clone(), cookie.clone(), csrf.clone(), base.clone());
        async move {
            let reply = http
                .post(format!("{base}/api/v1/processes/{id}/{command}"))
                .header("cookie", cookie)
                .header("x-csrf-token", csrf)
                .send()
                .await
                .unwrap();
            (reply.status().as_u16(), reply.json::<serde_json::Value>().await.unwrap())
        }
    };

    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let queue = Queue::new(&engine, "demo").unwrap();
    wait_until("three processes listed", Duration::from_secs(30), || async {
        let list = processes().await;
        list.len() == 3 && by_pid(&list, quiet_pid).is_some() && by_pid(&list, stop_pid).is_some()
    })
    .await;
    let list = processes().await;
    let serve = list.iter().find(|p| p["kind"] == "serve").expect("the serve process");
    assert_eq!((serve["queues"].as_array().unwrap().len(), &serve["scheduler"]), (0, &json!(true)));
    let worker = by_pid(&list, quiet_pid).unwrap();
    assert_eq!(
        (&worker["kind"], &worker["state"], &worker["gone"]),
        (&json!("worker"), &json!("running"), &json!(false))
    );
    let demo = worker["queues"].as_array().unwrap().iter().find(|q| q["queue"] == "demo").unwrap().clone();
    assert_eq!((&demo["concurrency"], &demo["configured_concurrency"]), (&json!(2), &json!(2)));
    let (quiet_id, stop_id) = (
        worker["id"].as_str().unwrap().to_string(),
        by_pid(&list, stop_pid).unwrap()["id"].as_str().unwrap().to_string(),
    );

    // Two long jobs for each worker; each lists its two with their names.
    let long =
        |n: usize| (0..n).map(|i| NewJob::new("demo-sync", json!({ "duration_ms": 8000 + i }))).collect::<Vec<_>>();
    queue.enqueue_bulk(long(4)).await.unwrap();
    wait_until("each worker running two", Duration::from_secs(30), || async {
        let list = processes().await;
        [quiet_pid, stop_pid].iter().all(|&pid| {
            by_pid(&list, pid).is_some_and(|p| p["running"] == 2 && p["jobs"].as_array().unwrap().len() == 2)
        })
    })
    .await;
    let running_before: Vec<String> = by_pid(&processes().await, quiet_pid).unwrap()["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_string())
        .collect();

    // Quiet: it finishes its two and takes none of the next four.
    let (status, body) = command(quiet_id.clone(), "quiet").await;
    assert_eq!((status, body), (202, json!({ "process": quiet_id, "command": "quiet" })));
    wait_until("the worker to report quiet", Duration::from_secs(10), || async {
        by_pid(&processes().await, quiet_pid).is_some_and(|p| p["state"] == "quiet")
    })
    .await;
    let ready = http.get(format!("http://127.0.0.1:{quiet_port}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "a quiet worker is not ready for jobs");
    let later: Vec<String> = queue.enqueue_bulk(long(4)).await.unwrap().into_iter().map(|e| e.id).collect();
    for id in &running_before {
        wait_until("the quiet worker's jobs to complete", Duration::from_secs(30), || async {
            queue.get_job(id).await.unwrap().is_some_and(|j| j.state == JobState::Completed)
        })
        .await;
    }

    // Stop: the other finishes what it runs and exits by itself, cleanly.
    let (status, _) = command(stop_id.clone(), "stop").await;
    assert_eq!(status, 202);
    let exited = tokio::task::spawn_blocking(move || {
        for _ in 0..600 {
            if let Some(status) = to_stop.0.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    })
    .await
    .unwrap();
    assert!(exited.expect("the stopped worker exits within 30 s").success());
    let list = processes().await;
    assert_eq!(by_pid(&list, stop_pid).unwrap()["state"], "stopped");
    assert_eq!(by_pid(&list, quiet_pid).unwrap()["running"], 0);
    // Whatever the stopped worker took of the later four completed before it exited;
    // the quiet one took none; the rest wait.
    for id in &later {
        let job = queue.get_job(id).await.unwrap().unwrap();
        if let Some(worker) = &job.worker {
            assert_eq!(pid_of(worker), stop_pid.to_string(), "the quiet worker took a new job: {job:?}");
            assert_eq!(job.state, JobState::Completed, "a stop lets running jobs finish: {job:?}");
        } else {
            assert_eq!(job.state, JobState::Waiting);
        }
    }
    let (status, body) = command(stop_id.clone(), "stop").await;
    assert_eq!((status, &body["error"]["code"]), (409, &json!("conflict")), "{body}");
    let (status, _) = command("no-such-process".into(), "quiet").await;
    assert_eq!(status, 404);

    // Stopping the server (a replica of the dashboard and API) is for admins only.
    let made = http
        .post(format!("{base}/api/v1/users"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({ "username": "opal", "password": "opal-password", "role": "operator" }))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let (operator_cookie, operator_csrf) = sign_in(&http, &base, "opal", "opal-password").await;
    let serve_id = serve["id"].as_str().unwrap();
    let refused = http
        .post(format!("{base}/api/v1/processes/{serve_id}/stop"))
        .header("cookie", &operator_cookie)
        .header("x-csrf-token", &operator_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let body = refused.json::<serde_json::Value>().await.unwrap();
    assert_eq!(body["error"]["message"], "stopping a server process needs the admin role", "{body}");
    assert_eq!(by_pid(&processes().await, serve["pid"].as_u64().unwrap() as u32).unwrap()["state"], "running");
    let (status, _) = command(quiet_id.clone(), "reboot").await;
    assert_eq!(status, 404);
    stop(&mut to_quiet);

    let db = Db::connect(database.url()).await.unwrap();
    let audited: Vec<(String, String, String)> =
        sqlx::query_as("SELECT action, target, result FROM audit_log WHERE action LIKE 'process.%' ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        audited,
        [("process.quiet".into(), quiet_id, "ok".into()), ("process.stop".into(), stop_id, "ok".into())]
    );
}
