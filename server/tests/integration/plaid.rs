//! The Plaid provider against a local server that answers in Plaid's documented JSON
//! shapes, driven by the real sync job on a real Redis and SQL: accounts, cursor-based
//! pagination with the cursor stored per connection and sent again next time, modified
//! and removed transactions, amounts in minor units, re-authorization, rate limits,
//! outages, a restart when the data changes during pagination, and bounded answers.

use crate::common;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hoist_queue::{CancellationToken, JobOptions, JobState, NewJob, Queue, RedisConnection, Worker, WorkerOptions};
use hoist_server::db::{Db, now_ms};
use hoist_server::processors::Registry;
use hoist_server::processors::sync::plaid_provider::{PlaidProvider, PlaidSettings};
use hoist_server::processors::sync::provider::{ConnectionRef, Provider, ProviderError};
use hoist_server::processors::sync::{self, ProviderKind, SyncConfig, SyncContext, store};
use hoist_testkit::{RedisServer, TestDatabase, postgres_database, sqlite_database};
use serde_json::{Value, json};

const ACCESS_TOKEN: &str = "access-sandbox-7c9a2b1e";

/// One scripted answer of the fake Plaid.
#[derive(Clone)]
struct Reply {
    status: StatusCode,
    body: String,
    retry_after: Option<u64>,
    delay: Duration,
}

impl Reply {
    fn ok(body: Value) -> Self {
        Reply { status: StatusCode::OK, body: body.to_string(), retry_after: None, delay: Duration::ZERO }
    }

    /// Plaid's error body.
    fn error(status: u16, error_type: &str, error_code: &str, request_id: &str) -> Self {
        let body = json!({
            "error_type": error_type,
            "error_code": error_code,
            "error_message": format!("{error_code} happened"),
            "display_message": null,
            "request_id": request_id,
        });
        Reply { status: StatusCode::from_u16(status).unwrap(), ..Reply::ok(body) }
    }

    fn raw(status: u16, body: &str) -> Self {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            body: body.to_string(),
            retry_after: None,
            delay: Duration::ZERO,
        }
    }
}

/// A Plaid stand-in on 127.0.0.1: answers each endpoint from its script, in order, and
/// records every request it received.
#[derive(Default)]
struct FakePlaid {
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    received: Mutex<Vec<(String, Value)>>,
}

impl FakePlaid {
    async fn start() -> (Arc<FakePlaid>, String) {
        let fake = Arc::new(FakePlaid::default());
        let app = Router::new()
            .route("/accounts/get", post(answer))
            .route("/transactions/sync", post(answer))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, url)
    }

    fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.scripts.lock().unwrap().entry(path.to_string()).or_default().extend(replies);
    }

    /// Bodies received on `path`, oldest first.
    fn received(&self, path: &str) -> Vec<Value> {
        self.received.lock().unwrap().iter().filter(|(p, _)| p == path).map(|(_, body)| body.clone()).collect()
    }

    /// The `cursor` of each `/transactions/sync` request (None: sent without one).
    fn cursors(&self) -> Vec<Option<String>> {
        self.received("/transactions/sync").iter().map(|b| b["cursor"].as_str().map(str::to_string)).collect()
    }

    fn unanswered(&self) -> usize {
        self.scripts.lock().unwrap().values().map(VecDeque::len).sum()
    }
}

async fn answer(State(fake): State<Arc<FakePlaid>>, uri: Uri, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // Like Plaid: no credentials, no answer.
    let authorized = body["client_id"] == "client-1" && body["secret"] == "secret-1";
    fake.received.lock().unwrap().push((path.clone(), body));
    if !authorized {
        return reply(Reply::error(400, "INVALID_INPUT", "INVALID_API_KEYS", "req-keys")).await;
    }
    let next = fake.scripts.lock().unwrap().get_mut(&path).and_then(VecDeque::pop_front);
    match next {
        Some(scripted) => reply(scripted).await,
        None => reply(Reply::error(400, "INVALID_REQUEST", "UNSCRIPTED_CALL", "req-unscripted")).await,
    }
}

async fn reply(reply: Reply) -> Response {
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = (reply.status, [(header::CONTENT_TYPE, "application/json")], reply.body).into_response();
    if let Some(seconds) = reply.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, seconds.to_string().parse().unwrap());
    }
    response
}

/// `/accounts/get` as Plaid answers it.
fn accounts_answer() -> Reply {
    Reply::ok(json!({
        "accounts": [
            {
                "account_id": "acc-checking",
                "balances": { "available": 100.0, "current": 110.57, "iso_currency_code": "USD",
                              "limit": null, "unofficial_currency_code": null },
                "mask": "0000", "name": "Plaid Checking", "official_name": "Plaid Gold Standard 0% Interest Checking",
                "subtype": "checking", "type": "depository"
            },
            {
                "account_id": "acc-card",
                "balances": { "available": null, "current": 410.0, "iso_currency_code": "USD",
                              "limit": 2000.0, "unofficial_currency_code": null },
                "mask": "3333", "name": "Plaid Credit Card", "official_name": null,
                "subtype": "credit card", "type": "credit"
            }
        ],
        "item": { "item_id": "item-1", "institution_id": "ins_109508" },
        "request_id": "req-accounts"
    }))
}

/// A transaction as `/transactions/sync` lists it; `amount` is Plaid's JSON number text.
fn transaction(id: &str, account: &str, amount: &str, name: &str) -> Value {
    json!({
        "transaction_id": id,
        "account_id": account,
        "amount": serde_json::from_str::<Value>(amount).unwrap(),
        "iso_currency_code": "USD",
        "unofficial_currency_code": null,
        "date": "2024-02-03",
        "datetime": null,
        "authorized_date": "2024-02-02",
        "name": name,
        "merchant_name": if name.is_empty() { Value::Null } else { json!(format!("{name} Inc")) },
        "pending": false,
        "payment_channel": "in store",
        "category": ["Shops"],
    })
}

fn page(added: Vec<Value>, modified: Vec<Value>, removed: &[&str], next_cursor: &str, has_more: bool) -> Reply {
    let removed: Vec<Value> =
        removed.iter().map(|id| json!({ "transaction_id": id, "account_id": "acc-checking" })).collect();
    Reply::ok(json!({
        "accounts": [],
        "added": added,
        "modified": modified,
        "removed": removed,
        "next_cursor": next_cursor,
        "has_more": has_more,
        "transactions_update_status": "HISTORICAL_UPDATE_COMPLETE",
        "request_id": format!("req-{next_cursor}"),
    }))
}

struct Rig {
    _redis: RedisServer,
    _database: TestDatabase,
    db: Db,
    queue: Queue,
    fake: Arc<FakePlaid>,
    stop: CancellationToken,
    worker: tokio::task::JoinHandle<()>,
}

fn plaid_config(base_url: &str) -> SyncConfig {
    SyncConfig {
        sync_provider: ProviderKind::Plaid,
        plaid_client_id: Some("client-1".into()),
        plaid_secret: Some("secret-1".parse().unwrap()),
        plaid_base_url: Some(base_url.into()),
        plaid_timeout_secs: 5,
        sync_retry_base_ms: 50,
        ..Default::default()
    }
}

/// A sync worker with the Plaid provider (built from configuration, as `hoist` does) on
/// its own Redis and `database`, pointed at a fresh fake Plaid.
async fn rig(database: TestDatabase) -> Rig {
    let redis = RedisServer::start();
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let (fake, url) = FakePlaid::start().await;
    let config = plaid_config(&url);
    let provider = sync::provider_from_config(&config).unwrap();
    assert_eq!(provider.name(), "plaid");
    let mut registry = Registry::new();
    sync::register(&mut registry, sync::DEFAULT_QUEUE, SyncContext::new(db.clone(), provider, &config));
    let handlers = registry.queues().find(|(name, _)| *name == sync::DEFAULT_QUEUE).unwrap().1.clone();
    let queue = Queue::new(&engine, sync::DEFAULT_QUEUE).unwrap();
    let stop = CancellationToken::new();
    let worker = Worker::new(queue.clone(), handlers, WorkerOptions { concurrency: 1, ..WorkerOptions::default() });
    let token = stop.clone();
    let worker = tokio::spawn(async move { worker.run(token).await.unwrap() });
    Rig { _redis: redis, _database: database, db, queue, fake, stop, worker }
}

impl Rig {
    async fn connection(&self) -> i64 {
        let org = store::create_organisation(&self.db, "Acme").await.unwrap();
        store::create_provider_connection(&self.db, org, "7", "plaid", ACCESS_TOKEN, "First Platypus Bank", None)
            .await
            .unwrap()
    }

    async fn sync(&self, connection_id: i64) -> String {
        let options = JobOptions {
            max_attempts: 3,
            backoff: hoist_queue::Backoff::Fixed { delay: Duration::from_millis(50) },
            ..Default::default()
        };
        let job = NewJob::new(sync::SYNC_CONNECTION, json!({ "connection_id": connection_id })).with_options(options);
        self.queue.enqueue(job).await.unwrap().id
    }

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
    let job = queue.get_job(id).await.unwrap();
    panic!("job {id} never became {state}: {:?}", job.map(|j| (j.state, j.errors)));
}

/// (external id, account external id, amount, currency, description, merchant) by id.
async fn transactions(db: &Db) -> Vec<(String, String, i64, String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT t.external_id, a.external_id, t.amount, t.currency, t.description, t.merchant \
         FROM transactions t JOIN accounts a ON a.id = t.account_id ORDER BY t.external_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

fn row(id: &str, account: &str, amount: i64, name: &str) -> (String, String, i64, String, String, Option<String>) {
    (id.into(), account.into(), amount, "USD".into(), name.into(), Some(format!("{name} Inc")))
}

async fn exercise_pagination_and_cursor(database: TestDatabase) {
    let rig = rig(database).await;
    let id = rig.connection().await;

    // First sync: no cursor yet, three pages.
    rig.fake.script("/accounts/get", [accounts_answer()]);
    rig.fake.script(
        "/transactions/sync",
        [
            page(
                vec![
                    transaction("tx-1", "acc-checking", "12.34", "Coffee"),
                    transaction("tx-2", "acc-checking", "-5.5", "Refund"),
                ],
                vec![],
                &[],
                "cursor-1",
                true,
            ),
            page(vec![transaction("tx-3", "acc-card", "0.29", "Gum")], vec![], &[], "cursor-2", true),
            page(vec![transaction("tx-4", "acc-card", "1500", "Rent")], vec![], &[], "cursor-3", false),
        ],
    );
    let job_id = rig.sync(id).await;
    let job = wait_state(&rig.queue, &job_id, JobState::Completed).await;
    assert_eq!(job.attempts, 1);
    let result = job.result.unwrap();
    assert_eq!(
        (&result["accounts"], &result["transactions"], &result["removed"], &result["pages"], &result["complete"]),
        (&json!(2), &json!(4), &json!(0), &json!(3), &json!(true))
    );

    // What Plaid was sent: the credentials and the access token (the connection's
    // external id), Plaid's page size, no cursor on the first page and then each
    // next_cursor in turn.
    let accounts_calls = rig.fake.received("/accounts/get");
    assert_eq!(accounts_calls.len(), 1);
    assert_eq!(accounts_calls[0]["access_token"], ACCESS_TOKEN);
    assert_eq!(
        (&accounts_calls[0]["client_id"], &accounts_calls[0]["secret"]),
        (&json!("client-1"), &json!("secret-1"))
    );
    let sync_calls = rig.fake.received("/transactions/sync");
    assert!(sync_calls.iter().all(|b| b["access_token"] == ACCESS_TOKEN && b["count"] == 500), "{sync_calls:?}");
    assert_eq!(rig.fake.cursors(), [None, Some("cursor-1".into()), Some("cursor-2".into())]);

    // The accounts, and the amounts turned into minor units with money out negative.
    let accounts: Vec<(String, String, String, String, i64)> =
        sqlx::query_as("SELECT external_id, name, kind, currency, balance FROM accounts ORDER BY external_id")
            .fetch_all(&rig.db.pool)
            .await
            .unwrap();
    assert_eq!(
        accounts,
        [
            ("acc-card".into(), "Plaid Credit Card".into(), "credit card".into(), "USD".into(), 41000),
            ("acc-checking".into(), "Plaid Checking".into(), "checking".into(), "USD".into(), 11057),
        ]
    );
    assert_eq!(
        transactions(&rig.db).await,
        [
            row("tx-1", "acc-checking", -1234, "Coffee"),
            row("tx-2", "acc-checking", 550, "Refund"),
            row("tx-3", "acc-card", -29, "Gum"),
            row("tx-4", "acc-card", -150000, "Rent"),
        ]
    );
    let booked: i64 = sqlx::query_scalar("SELECT booked_at FROM transactions WHERE external_id = 'tx-1'")
        .fetch_one(&rig.db.pool)
        .await
        .unwrap();
    assert_eq!(booked, 1_706_918_400_000, "2024-02-03 00:00 UTC");
    assert_eq!(store::sync_cursor(&rig.db, id).await.unwrap().as_deref(), Some("cursor-3"));
    let connection = store::connection(&rig.db, id).await.unwrap().unwrap();
    assert_eq!((connection.status.as_str(), connection.transactions), ("active", 4));

    // Second sync: continues from the stored cursor; a modified and a removed transaction
    // are applied, a new one added.
    rig.fake.script("/accounts/get", [accounts_answer()]);
    rig.fake.script(
        "/transactions/sync",
        [page(
            vec![transaction("tx-5", "acc-checking", "7", "Lunch")],
            vec![transaction("tx-1", "acc-checking", "20.01", "Coffee beans")],
            &["tx-2"],
            "cursor-4",
            false,
        )],
    );
    let job_id = rig.sync(id).await;
    let job = wait_state(&rig.queue, &job_id, JobState::Completed).await;
    let result = job.result.unwrap();
    assert_eq!((&result["transactions"], &result["removed"]), (&json!(2), &json!(1)));
    assert_eq!(rig.fake.cursors().last().unwrap().as_deref(), Some("cursor-3"), "the stored cursor was sent");
    assert_eq!(
        transactions(&rig.db).await,
        [
            row("tx-1", "acc-checking", -2001, "Coffee beans"),
            row("tx-3", "acc-card", -29, "Gum"),
            row("tx-4", "acc-card", -150000, "Rent"),
            row("tx-5", "acc-checking", -700, "Lunch"),
        ]
    );
    assert_eq!(store::sync_cursor(&rig.db, id).await.unwrap().as_deref(), Some("cursor-4"));
    assert_eq!(rig.fake.unanswered(), 0);
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_followed_and_the_next_sync_sends_the_stored_cursor_on_sqlite() {
    exercise_pagination_and_cursor(sqlite_database()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_followed_and_the_next_sync_sends_the_stored_cursor_on_postgres() {
    exercise_pagination_and_cursor(postgres_database().await).await;
}

/// ITEM_LOGIN_REQUIRED: no retry, the job is dead-lettered, and the connection shows the
/// user must re-authorize it, through the REST API too (and "Sync now" says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_login_required_dead_letters_the_job_and_flags_the_connection() {
    let t = common::TestApp::start().await;
    // The worker runs on the app's own Redis and database, so the API sees what it did.
    let engine = RedisConnection::connect(&t.redis.url()).await.unwrap();
    let (fake, url) = FakePlaid::start().await;
    let config = plaid_config(&url);
    let mut registry = Registry::new();
    sync::register(
        &mut registry,
        sync::DEFAULT_QUEUE,
        SyncContext::new(t.db.clone(), sync::provider_from_config(&config).unwrap(), &config),
    );
    let handlers = registry.queues().find(|(name, _)| *name == sync::DEFAULT_QUEUE).unwrap().1.clone();
    let queue = Queue::new(&engine, sync::DEFAULT_QUEUE).unwrap();
    let stop = CancellationToken::new();
    let worker = Worker::new(queue.clone(), handlers, WorkerOptions::default());
    let token = stop.clone();
    let worker = tokio::spawn(async move { worker.run(token).await.unwrap() });

    let org = store::create_organisation(&t.db, "Acme").await.unwrap();
    let id = store::create_provider_connection(&t.db, org, "7", "plaid", ACCESS_TOKEN, "First Platypus Bank", None)
        .await
        .unwrap();
    fake.script("/accounts/get", [accounts_answer()]);
    fake.script("/transactions/sync", [Reply::error(400, "ITEM_ERROR", "ITEM_LOGIN_REQUIRED", "req-login-1")]);
    let e = queue
        .enqueue(
            NewJob::new(sync::SYNC_CONNECTION, json!({ "connection_id": id }))
                .with_options(JobOptions { max_attempts: 5, ..Default::default() }),
        )
        .await
        .unwrap();
    let job = wait_state(&queue, &e.id, JobState::Dead).await;
    assert_eq!(job.attempts, 1, "not retried");
    let error = job.last_error.unwrap();
    assert_eq!(error.kind, "permanent");
    assert!(
        error.message.contains("ITEM_LOGIN_REQUIRED") && error.message.contains("req-login-1"),
        "the error names Plaid's code and request id: {}",
        error.message
    );
    let connection = store::connection(&t.db, id).await.unwrap().unwrap();
    assert_eq!(connection.status, "requires_reauth");
    assert!(connection.last_error.unwrap().contains("ITEM_LOGIN_REQUIRED"));
    assert_eq!(store::sync_cursor(&t.db, id).await.unwrap(), None, "no cursor stored");

    let mut admin = t.admin;
    let r = admin.send("GET", &format!("/api/v1/connections/{id}"), None, &[]).await;
    assert_eq!((r.status, &r.body["status"]), (StatusCode::OK, &json!("requires_reauth")));
    assert!(r.body.get("external_id").is_none(), "the access token is not shown");
    let r =
        admin.send("POST", &format!("/api/v1/connections/{id}/sync"), None, &[("x-csrf-token", t.csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);

    // The other item errors that need the user do the same, also on /accounts/get.
    for code in ["ACCESS_NOT_GRANTED", "USER_PERMISSION_REVOKED", "PENDING_EXPIRATION"] {
        sqlx::query("UPDATE connections SET status = 'active' WHERE id = $1")
            .bind(id)
            .execute(&t.db.pool)
            .await
            .unwrap();
        fake.script("/accounts/get", [Reply::error(400, "ITEM_ERROR", code, "req-item")]);
        let e = queue.enqueue(NewJob::new(sync::SYNC_CONNECTION, json!({ "connection_id": id }))).await.unwrap();
        let job = wait_state(&queue, &e.id, JobState::Dead).await;
        assert_eq!(job.attempts, 1, "{code}");
        assert_eq!(store::connection(&t.db, id).await.unwrap().unwrap().status, "requires_reauth", "{code}");
    }
    stop.cancel();
    worker.await.unwrap();
}

/// RATE_LIMIT_EXCEEDED defers the job by Retry-After without spending an attempt; it then
/// finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_defers_the_job_without_spending_an_attempt() {
    let rig = rig(sqlite_database()).await;
    let id = rig.connection().await;
    let mut limited = Reply::error(429, "RATE_LIMIT_EXCEEDED", "TRANSACTIONS_SYNC_LIMIT", "req-limit");
    limited.retry_after = Some(1);
    rig.fake.script("/accounts/get", [accounts_answer(), accounts_answer()]);
    rig.fake.script(
        "/transactions/sync",
        [limited, page(vec![transaction("tx-1", "acc-checking", "1", "A")], vec![], &[], "c-1", false)],
    );
    let job_id = rig.sync(id).await;
    let delayed = wait_state(&rig.queue, &job_id, JobState::Delayed).await;
    let wait = delayed.run_at - now_ms();
    assert!((0..=1000).contains(&wait), "deferred by Retry-After (1 s): runs in {wait} ms");
    assert_eq!(delayed.attempts, 0, "the deferred attempt is not counted");
    let connection = store::connection(&rig.db, id).await.unwrap().unwrap();
    let note = connection.last_error.unwrap();
    assert!(note.contains("TRANSACTIONS_SYNC_LIMIT") && note.contains("req-limit"), "{note}");
    assert_eq!(connection.status, "active");

    let job = wait_state(&rig.queue, &job_id, JobState::Completed).await;
    assert_eq!(job.attempts, 1);
    assert!(job.errors.is_empty(), "no failed attempt: {:?}", job.errors);
    assert!(job.started_at.unwrap() >= delayed.run_at, "not run before Retry-After");
    assert_eq!(rig.fake.cursors(), [None, None]);
    rig.finish().await;
}

/// A load balancer's 502 and Plaid's INTERNAL_SERVER_ERROR are retried; the third attempt
/// succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_are_retried_until_the_sync_succeeds() {
    let rig = rig(sqlite_database()).await;
    let id = rig.connection().await;
    rig.fake
        .script("/accounts/get", [Reply::raw(502, "<html>Bad Gateway</html>"), accounts_answer(), accounts_answer()]);
    rig.fake.script(
        "/transactions/sync",
        [
            Reply::error(500, "API_ERROR", "INTERNAL_SERVER_ERROR", "req-500"),
            page(vec![transaction("tx-1", "acc-checking", "3.10", "A")], vec![], &[], "c-1", false),
        ],
    );
    let job_id = rig.sync(id).await;
    let job = wait_state(&rig.queue, &job_id, JobState::Completed).await;
    assert_eq!(job.attempts, 3);
    let messages: Vec<&str> = job.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("/accounts/get") && messages[0].contains("502"), "{messages:?}");
    assert!(messages[1].contains("INTERNAL_SERVER_ERROR") && messages[1].contains("req-500"), "{messages:?}");
    assert!(job.errors.iter().all(|e| e.kind == "retryable"));
    assert_eq!(transactions(&rig.db).await, [row("tx-1", "acc-checking", -310, "A")]);
    assert_eq!(store::connection(&rig.db, id).await.unwrap().unwrap().status, "active");
    rig.finish().await;
}

/// TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION: the pagination starts again from the
/// cursor it started with (not from the page that failed, not from the beginning), in the
/// same attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_during_pagination_restarts_from_the_first_cursor() {
    let rig = rig(sqlite_database()).await;
    let id = rig.connection().await;
    // A previous sync ended at cursor-0.
    store::apply_transaction_page(&rig.db, id, &[], &[], Some("cursor-0")).await.unwrap();
    rig.fake.script("/accounts/get", [accounts_answer()]);
    rig.fake.script(
        "/transactions/sync",
        [
            page(vec![transaction("tx-1", "acc-checking", "1.00", "Old")], vec![], &[], "cursor-0a", true),
            Reply::error(400, "TRANSACTIONS_ERROR", "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION", "req-mut"),
            page(vec![transaction("tx-1", "acc-checking", "1.50", "New")], vec![], &[], "cursor-0b", true),
            page(vec![transaction("tx-2", "acc-card", "2.00", "Two")], vec![], &[], "cursor-1", false),
        ],
    );
    let job_id = rig.sync(id).await;
    let job = wait_state(&rig.queue, &job_id, JobState::Completed).await;
    assert_eq!((job.attempts, job.errors.len()), (1, 0));
    assert_eq!(
        rig.fake.cursors(),
        [Some("cursor-0".into()), Some("cursor-0a".into()), Some("cursor-0".into()), Some("cursor-0b".into())]
    );
    assert_eq!(
        transactions(&rig.db).await,
        [row("tx-1", "acc-checking", -150, "New"), row("tx-2", "acc-card", -200, "Two")]
    );
    assert_eq!(store::sync_cursor(&rig.db, id).await.unwrap().as_deref(), Some("cursor-1"));
    rig.finish().await;
}

/// Requests Plaid refuses and answers that make no sense are not retried: the job is
/// dead-lettered, the connection marked `error` (not re-authorization: the user cannot fix
/// these), and the stored cursor stays where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_and_malformed_answers_are_permanent() {
    let rig = rig(sqlite_database()).await;
    let id = rig.connection().await;
    let cases = [
        ("/transactions/sync", Reply::error(400, "INVALID_REQUEST", "INVALID_FIELD", "req-invalid"), "INVALID_FIELD"),
        ("/accounts/get", Reply::error(400, "INVALID_INPUT", "INVALID_PRODUCT", "req-input"), "INVALID_PRODUCT"),
        ("/transactions/sync", Reply::raw(200, "{\"added\": \"nope\""), "unexpected answer"),
        ("/transactions/sync", page(vec![json!({ "transaction_id": "t" })], vec![], &[], "c", false), "req-c"),
    ];
    for (path, answer, expected) in cases {
        if path == "/transactions/sync" {
            rig.fake.script("/accounts/get", [accounts_answer()]);
        }
        rig.fake.script(path, [answer]);
        let job_id = rig.sync(id).await;
        let job = wait_state(&rig.queue, &job_id, JobState::Dead).await;
        let error = job.last_error.unwrap();
        assert_eq!((job.attempts, error.kind.as_str()), (1, "permanent"), "{expected}: {error:?}");
        assert!(error.message.contains(expected), "{expected}: {}", error.message);
        let connection = store::connection(&rig.db, id).await.unwrap().unwrap();
        assert_eq!(connection.status, "error", "{expected}");
    }
    assert_eq!(store::sync_cursor(&rig.db, id).await.unwrap(), None);

    // A demo connection is not sent to Plaid at all.
    let org = store::create_organisation(&rig.db, "Demo org").await.unwrap();
    let demo = store::create_connection(&rig.db, org, "7", "demo-bank", "Golomt", None).await.unwrap();
    let calls = rig.fake.received.lock().unwrap().len();
    let job = wait_state(&rig.queue, &rig.sync(demo).await, JobState::Dead).await;
    assert!(job.last_error.unwrap().message.contains("is a demo connection"));
    assert_eq!(rig.fake.received.lock().unwrap().len(), calls);
    rig.finish().await;
}

/// One job reads at most `MAX_PAGES_PER_SYNC` pages: it stores the cursor it reached and
/// says it is not complete; the next sync continues from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_stops_at_the_page_cap_and_the_next_one_continues() {
    let rig = rig(sqlite_database()).await;
    let id = rig.connection().await;
    let cap = sync::MAX_PAGES_PER_SYNC as usize;
    rig.fake.script("/accounts/get", [accounts_answer(), accounts_answer()]);
    rig.fake.script(
        "/transactions/sync",
        (1..=cap + 1).map(|i| {
            let tx = transaction(&format!("tx-{i:03}"), "acc-checking", "1", "Page");
            page(vec![tx], vec![], &[], &format!("cursor-{i}"), i <= cap)
        }),
    );
    let job = wait_state(&rig.queue, &rig.sync(id).await, JobState::Completed).await;
    let result = job.result.unwrap();
    assert_eq!((&result["pages"], &result["complete"]), (&json!(cap), &json!(false)));
    assert_eq!(rig.fake.received("/transactions/sync").len(), cap, "no page past the cap");
    let reached = format!("cursor-{cap}");
    assert_eq!(store::sync_cursor(&rig.db, id).await.unwrap(), Some(reached.clone()));

    let job = wait_state(&rig.queue, &rig.sync(id).await, JobState::Completed).await;
    assert_eq!(job.result.as_ref().unwrap()["complete"], json!(true));
    assert_eq!(rig.fake.cursors().last().unwrap(), &Some(reached));
    assert_eq!(transactions(&rig.db).await.len(), cap + 1);
    rig.finish().await;
}

/// An organisation's fan-out syncs only the connections of the configured provider, and
/// its batch completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_covers_only_the_providers_connections() {
    let rig = rig(sqlite_database()).await;
    let plaid = rig.connection().await;
    let org: i64 = sqlx::query_scalar("SELECT org_id FROM connections WHERE id = $1")
        .bind(plaid)
        .fetch_one(&rig.db.pool)
        .await
        .unwrap();
    store::create_connection(&rig.db, org, "8", "demo-bank", "Golomt", None).await.unwrap();
    rig.fake.script("/accounts/get", [accounts_answer()]);
    rig.fake.script("/transactions/sync", [page(vec![], vec![], &[], "c-1", false)]);
    let fan = rig.queue.enqueue(NewJob::new(sync::SYNC_ALL_ORG, json!({ "org_id": org }))).await.unwrap();
    let job = wait_state(&rig.queue, &fan.id, JobState::Completed).await;
    let jobs = job.result.unwrap()["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 1, "the demo connection is left out");
    let child = wait_state(&rig.queue, jobs[0].as_str().unwrap(), JobState::Completed).await;
    assert_eq!(child.payload["connection_id"], plaid);
    let mut announced = false;
    for _ in 0..100 {
        let events = rig.queue.read_events(None, 10_000).await.unwrap();
        announced = events.iter().any(|e| e.kind == "batch.completed" && e.job_id == fan.id);
        if announced {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(announced, "the batch is announced");
    rig.finish().await;
}

/// The provider on its own: slow answers time out, oversized ones are refused, wrong API
/// keys are a rejected request; every error names the endpoint.
#[tokio::test]
async fn requests_are_bounded_in_time_and_size() {
    let (fake, url) = FakePlaid::start().await;
    let settings = |secret: &str| PlaidSettings {
        client_id: "client-1".into(),
        secret: secret.into(),
        base_url: url.clone(),
        timeout: Duration::from_millis(300),
    };
    let plaid = PlaidProvider::new(settings("secret-1")).unwrap();
    let connection = ConnectionRef {
        id: 1,
        external_id: ACCESS_TOKEN.into(),
        institution: "First Platypus Bank".into(),
        provider: "plaid".into(),
    };
    let accounts = plaid.accounts(&connection).await;
    assert!(matches!(&accounts, Err(ProviderError::Rejected(m)) if m.contains("UNSCRIPTED_CALL")), "{accounts:?}");

    fake.script("/accounts/get", [accounts_answer()]);
    let accounts = plaid.accounts(&connection).await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!((accounts[0].external_id.as_str(), accounts[0].balance), ("acc-checking", 11057));

    let mut slow = accounts_answer();
    slow.delay = Duration::from_secs(2);
    fake.script("/accounts/get", [slow]);
    let started = std::time::Instant::now();
    let timed_out = plaid.accounts(&connection).await;
    assert!(matches!(&timed_out, Err(ProviderError::Timeout(m)) if m.contains("/accounts/get")), "{timed_out:?}");
    assert!(started.elapsed() < Duration::from_millis(1500));

    let huge = format!("{{\"accounts\": [], \"padding\": \"{}\"}}", "x".repeat(17 * 1024 * 1024));
    fake.script("/transactions/sync", [Reply::raw(200, &huge)]);
    let refused = plaid.sync_transactions(&connection, None).await;
    assert!(matches!(&refused, Err(ProviderError::Malformed(m)) if m.contains("larger than")), "{refused:?}");

    let wrong_keys = PlaidProvider::new(settings("wrong")).unwrap().accounts(&connection).await;
    assert!(
        matches!(&wrong_keys, Err(ProviderError::Rejected(m)) if m.contains("INVALID_API_KEYS") && m.contains("req-keys")),
        "{wrong_keys:?}"
    );
}

/// `HOIST_SYNC_PROVIDER=plaid` without the credentials stops start-up naming the variable.
#[test]
fn missing_plaid_credentials_are_a_startup_error() {
    let mut config = plaid_config("http://127.0.0.1:9");
    config.plaid_client_id = None;
    let error = sync::provider_from_config(&config).err().unwrap().to_string();
    assert!(error.starts_with("PLAID_CLIENT_ID:"), "{error}");
    let mut config = plaid_config("http://127.0.0.1:9");
    config.plaid_secret = Some("  ".parse().unwrap());
    let error = sync::provider_from_config(&config).err().unwrap().to_string();
    assert!(error.starts_with("PLAID_SECRET:"), "{error}");
    let demo = sync::provider_from_config(&SyncConfig::default()).unwrap();
    assert_eq!(demo.name(), "demo", "the demo provider is the default");
}

/// The same from the command line: `hoist worker` with `HOIST_SYNC_PROVIDER=plaid` and no
/// client id exits at start-up with one line naming the variable.
#[test]
fn the_worker_refuses_to_start_without_plaid_credentials() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hoist"))
        .arg("worker")
        .env("HOIST_PROCESSORS", "sync")
        .env("HOIST_SYNC_PROVIDER", "plaid")
        .env_remove("PLAID_CLIENT_ID")
        .env("PLAID_SECRET", "secret-1")
        .env("REDIS_URL", redis.url())
        .env("DATABASE_URL", database.url())
        .env("HOIST_WORKER_ADDR", format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PLAID_CLIENT_ID: required with HOIST_SYNC_PROVIDER=plaid"), "{stderr}");
    assert!(!stderr.contains("secret-1"), "the secret is not printed: {stderr}");
}
