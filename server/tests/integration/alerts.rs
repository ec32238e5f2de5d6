//! Alerts against real parts: three server replicas on one Redis and one database with a
//! real SMTP listener and a real webhook receiver. A breach stays pending for its period,
//! then fires; the notice is delivered once (one email, one webhook call) though three
//! replicas evaluate every second; it resolves with one notice; a silence holds notices
//! back but records them; a breach shorter than its period never fires. Then each rule
//! kind fires on the condition it names, Redis going away included.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hoist_queue::{Backoff, JobError, JobOptions, NewJob, Queue, RedisConnection, Worker, WorkerOptions, handler_fn};
use hoist_server::alerts::evaluator::{Evaluator, Made};
use hoist_server::alerts::notice::{AlertNotice, JOB_NAME, Transition, WebhookFormat};
use hoist_server::alerts::rules::{self, RuleKind};
use hoist_server::alerts::silences;
use hoist_server::db::{Db, now_ms};
use hoist_server::processors::Registry;
use hoist_server::processors::notifications::{self, Notifier, NotifyConfig};
use hoist_server::services::alerts::RuleFigures;
use hoist_server::{Builtin, Hoist};
use hoist_testkit::{RedisServer, SmtpServer, TestDatabase, postgres_database, sqlite_database};
use serde_json::{Value, json};

/// A webhook receiver on a random port; what it was sent.
async fn webhook_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    failing_webhook_receiver(0).await
}

/// A webhook receiver that answers its first `failures` calls with 503 (not kept).
async fn failing_webhook_receiver(failures: usize) -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/alerts",
        axum::routing::post({
            let received = received.clone();
            move |axum::Json(body): axum::Json<Value>| {
                let status = if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < failures {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    received.lock().unwrap().push(body);
                    axum::http::StatusCode::OK
                };
                async move { status }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

fn notify_config(smtp: &SmtpServer, webhook: &str, outbox: &std::path::Path) -> NotifyConfig {
    NotifyConfig {
        smtp_url: Some(smtp.url()),
        mail_from: "Hoist <hoist@localhost>".into(),
        alert_emails: vec!["oncall@example.com".into()],
        alert_webhook_url: Some(webhook.to_string()),
        alert_webhook_format: WebhookFormat::Slack,
        alert_interval_seconds: 1,
        outbox_dir: outbox.to_path_buf(),
        ..Default::default()
    }
}

/// Only `keep` of the default rules stay switched on.
async fn only(db: &Db, keep: RuleKind, threshold: i64, window_ms: i64, pending_ms: i64) -> i64 {
    rules::seed_defaults(db).await.unwrap();
    let mut id = 0;
    for rule in rules::list(db).await.unwrap() {
        let on = rule.kind == keep;
        if on {
            id = rule.id;
        }
        rules::update(db, rule.id, if on { threshold } else { rule.threshold }, window_ms, pending_ms, on)
            .await
            .unwrap();
    }
    id
}

async fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn events(db: &Db) -> Vec<(String, String, i64)> {
    sqlx::query_as("SELECT transition, subject, silenced FROM alert_events ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_breach_fires_once_across_three_replicas_resolves_and_obeys_silences() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    let smtp = SmtpServer::start().await;
    let (webhook, calls) = webhook_receiver().await;
    let outbox = tempfile::tempdir().unwrap();
    let mut replicas = vec![];
    for _ in 0..3 {
        let hoist = Hoist::builder()
            .redis_url(redis.url())
            .database_url(database.url())
            .admin_password("alerts-admin-pw")
            .processors([Builtin::Notifications])
            .configure_processors(|c| c.notify = notify_config(&smtp, &webhook, outbox.path()))
            .build()
            .await
            .unwrap();
        let running = hoist.start().await.unwrap();
        replicas.push((hoist, running));
    }
    let db = Db::connect(database.url()).await.unwrap();
    // More than 3 waiting, for 2 s.
    let rule = only(&db, RuleKind::Waiting, 3, 0, 2000).await;
    let orders = replicas[0].0.queue("orders").unwrap();
    let enqueue_five = || async {
        for _ in 0..5 {
            orders.enqueue(NewJob::new("ship", json!({}))).await.unwrap();
        }
    };

    enqueue_five().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (state,): (String,) =
        sqlx::query_as("SELECT state FROM alert_states WHERE rule_id = $1 AND subject = 'orders'")
            .bind(rule)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(state, "pending", "under its period the breach only waits");
    assert!(smtp.received().is_empty() && calls.lock().unwrap().is_empty(), "nothing sent while pending");

    let mail = eventually("the firing email", Duration::from_secs(10), || smtp.received().first().cloned()).await;
    assert!(mail.data.contains("FIRING waiting on queue \"orders\""), "{}", mail.data);
    assert_eq!(mail.to, vec!["oncall@example.com".to_string()]);
    eventually("the firing webhook call", Duration::from_secs(10), || calls.lock().unwrap().first().cloned()).await;
    // Three replicas evaluate each second: still one email and one webhook call.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(smtp.received().len(), 1, "one email");
    let sent = calls.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "one webhook call: {sent:?}");
    assert!(
        sent[0]["text"].as_str().unwrap().starts_with("[Hoist] FIRING waiting on queue \"orders\": 5 jobs waiting")
    );

    // Cleared: one resolved notice.
    orders.drain(false).await.unwrap();
    eventually("the resolved email", Duration::from_secs(10), || (smtp.received().len() == 2).then_some(())).await;
    assert!(smtp.received()[1].data.contains("RESOLVED waiting on queue \"orders\""));
    eventually("the resolved webhook", Duration::from_secs(10), || (calls.lock().unwrap().len() == 2).then_some(()))
        .await;

    // A breach shorter than the pending period never fires.
    enqueue_five().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    orders.drain(false).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(events(&db).await.len(), 2, "no firing for a short breach: {:?}", events(&db).await);

    // Silenced: recorded, not sent.
    silences::add(&db, Some(rule), Some("orders"), now_ms() + 60_000, "maintenance", "admin").await.unwrap();
    enqueue_five().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while events(&db).await.len() < 3 {
        assert!(std::time::Instant::now() < deadline, "the silenced breach was not recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    orders.drain(false).await.unwrap();
    while events(&db).await.len() < 4 {
        assert!(std::time::Instant::now() < deadline + Duration::from_secs(5), "the silenced resolve was not recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        events(&db).await,
        vec![
            ("firing".to_string(), "orders".to_string(), 0),
            ("resolved".into(), "orders".into(), 0),
            ("firing".into(), "orders".into(), 1),
            ("resolved".into(), "orders".into(), 1),
        ]
    );
    assert_eq!((smtp.received().len(), calls.lock().unwrap().len()), (2, 2), "nothing sent while silenced");
    for (_, running) in replicas {
        running.stop().await;
    }
}

/// One evaluator on its own (no replicas), rounds run by hand.
struct Rig {
    redis: RedisServer,
    _database: TestDatabase,
    db: Db,
    engine: RedisConnection,
    evaluator: Evaluator,
    smtp: SmtpServer,
    _outbox: tempfile::TempDir,
}

async fn rig() -> Rig {
    rig_on(sqlite_database()).await
}

async fn rig_on(database: TestDatabase) -> Rig {
    let redis = RedisServer::start();
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let smtp = SmtpServer::start().await;
    let outbox = tempfile::tempdir().unwrap();
    let config = NotifyConfig { alert_webhook_url: None, ..notify_config(&smtp, "http://127.0.0.1:9/", outbox.path()) };
    let evaluator = Evaluator {
        db: db.clone(),
        engine: engine.clone(),
        notifications_queue: "notifications".into(),
        notifier: Arc::new(Notifier::new(&config).unwrap()),
        holder: "rig".into(),
        interval: Duration::from_secs(1),
    };
    Rig { redis, _database: database, db, engine, evaluator, smtp, _outbox: outbox }
}

fn fired(made: &[Made], kind: RuleKind, subject: &str) -> bool {
    made.iter()
        .any(|m| m.notice.kind == kind && m.notice.subject == subject && m.notice.transition == Transition::Firing)
}

async fn run_until_idle(queue: &Queue, fail_every: u64) {
    let n = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let handler = handler_fn(move |_| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            if fail_every > 0 && i.is_multiple_of(fail_every) {
                Err(JobError::permanent("no"))
            } else {
                Ok(json!(null))
            }
        }
    });
    Worker::new(queue.clone(), handler, WorkerOptions::default()).run_until_idle().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rule_kind_fires_on_what_it_names() {
    let mut r = rig().await;
    let queue = |name: &str| Queue::new(&r.engine, name).unwrap();

    // No notifications worker runs here: notices go straight to the mail server.
    // Failure rate: 10 of 20 attempts failed, above 30 %.
    only(&r.db, RuleKind::FailureRate, 30, 60_000, 0).await;
    let flaky = queue("flaky");
    for _ in 0..20 {
        flaky
            .enqueue(NewJob::new("x", json!({})).with_options(JobOptions { max_attempts: 1, ..Default::default() }))
            .await
            .unwrap();
    }
    run_until_idle(&flaky, 2).await;
    assert!(fired(&r.evaluator.round().await.unwrap(), RuleKind::FailureRate, "flaky"));
    eventually("the failure-rate email", Duration::from_secs(10), || {
        r.smtp.received().into_iter().find(|m| m.data.contains("FIRING failure_rate on queue \"flaky\""))
    })
    .await;
    // Dead growth: the same 10 dead in the window, above 5.
    only(&r.db, RuleKind::DeadGrowth, 5, 60_000, 0).await;
    assert!(fired(&r.evaluator.round().await.unwrap(), RuleKind::DeadGrowth, "flaky"));

    // Oldest waiting (a paused queue is left out) and no workers: a job waits, nobody
    // works; the job enqueued after it, fresh, does not hide its wait.
    let idle = queue("idle");
    idle.enqueue(NewJob::new("x", json!({}))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    idle.enqueue(NewJob::new("x", json!({}))).await.unwrap();
    only(&r.db, RuleKind::OldestWaiting, 500, 0, 0).await;
    assert!(fired(&r.evaluator.round().await.unwrap(), RuleKind::OldestWaiting, "idle"));
    only(&r.db, RuleKind::NoWorkers, 0, 0, 0).await;
    assert!(fired(&r.evaluator.round().await.unwrap(), RuleKind::NoWorkers, "idle"));
    idle.pause().await.unwrap();
    let made = r.evaluator.round().await.unwrap();
    assert!(made.iter().any(|m| m.notice.subject == "idle" && m.notice.transition == Transition::Resolved), "{made:?}");

    // Active too long: a job running past 300 ms.
    let slow = queue("slow");
    slow.enqueue(NewJob::new("x", json!({}))).await.unwrap();
    let stop = hoist_queue::CancellationToken::new();
    let worker = tokio::spawn(
        Worker::new(
            slow.clone(),
            handler_fn(|_| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Ok(json!(null))
            }),
            WorkerOptions::default(),
        )
        .run(stop.clone()),
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    only(&r.db, RuleKind::ActiveTooLong, 300, 0, 0).await;
    assert!(fired(&r.evaluator.round().await.unwrap(), RuleKind::ActiveTooLong, "slow"));
    stop.cancel();
    worker.await.unwrap().unwrap();

    // History lag: finished jobs the history has not copied (nothing copies here).
    let copied = queue("copied");
    copied.set_archiving(true).await.unwrap();
    for _ in 0..3 {
        copied.enqueue(NewJob::new("x", json!({}))).await.unwrap();
    }
    run_until_idle(&copied, 0).await;
    only(&r.db, RuleKind::HistoryLag, 2, 0, 0).await;
    assert!(fired(&r.evaluator.round().await.unwrap(), RuleKind::HistoryLag, "copied"));

    // Waiting: above 1,000 by default; here above 1. A queue's own rule switched off
    // switches the kind off there.
    only(&r.db, RuleKind::Waiting, 1, 0, 0).await;
    let busy = queue("busy");
    busy.enqueue_bulk((0..2).map(|_| NewJob::new("x", json!({}))).collect()).await.unwrap();
    let exempt = queue("exempt");
    exempt.enqueue_bulk((0..2).map(|_| NewJob::new("x", json!({}))).collect()).await.unwrap();
    let off = hoist_server::services::alerts::RuleFigures { threshold: 1, window_ms: 0, pending_ms: 0, enabled: false };
    rules::add_for_queue(&r.db, RuleKind::Waiting, "exempt", &off).await.unwrap();
    let made = r.evaluator.round().await.unwrap();
    assert!(fired(&made, RuleKind::Waiting, "busy"));
    assert!(!fired(&made, RuleKind::Waiting, "exempt"), "{made:?}");

    // Redis unreachable: there is no queue to send through, so the notice goes straight
    // to the mail server; it resolves once Redis answers again.
    only(&r.db, RuleKind::RedisUnreachable, 0, 0, 0).await;
    r.redis.kill();
    let made = r.evaluator.round().await.unwrap();
    assert!(fired(&made, RuleKind::RedisUnreachable, ""), "{made:?}");
    let mail = eventually("the Redis email", Duration::from_secs(10), || {
        r.smtp.received().into_iter().find(|m| m.data.contains("FIRING redis_unreachable"))
    })
    .await;
    assert_eq!(mail.to, vec!["oncall@example.com".to_string()]);
    r.redis.restart();
    let made = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(made) = r.evaluator.round().await
                && !made.is_empty()
            {
                return made;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("Redis back");
    assert!(
        made.iter().any(|m| m.notice.kind == RuleKind::RedisUnreachable && m.notice.transition == Transition::Resolved),
        "{made:?}"
    );
}

/// A breach that fires under a silence is announced once the silence ends (if it still
/// fires), and then resolves with a notice; a queue rule deleted while it fires sends
/// its resolved notice, once; an announced breach that resolves under a silence sends
/// its resolved notice when the silence ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silenced_breaches_are_announced_when_the_silence_ends_and_deleted_rules_resolve() {
    silences_and_deleted_rules(rig().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silenced_breaches_and_deleted_rules_on_postgres() {
    silences_and_deleted_rules(rig_on(postgres_database().await).await).await;
}

async fn silences_and_deleted_rules(r: Rig) {
    let mails_about = |text: &str| r.smtp.received().iter().filter(|m| m.data.contains(text)).count();
    only(&r.db, RuleKind::Waiting, 1_000_000, 0, 0).await;
    let orders = Queue::new(&r.engine, "orders").unwrap();
    for _ in 0..3 {
        orders.enqueue(NewJob::new("ship", json!({}))).await.unwrap();
    }
    // A queue rule of its own: more than 2 waiting on "orders".
    let figures = RuleFigures { threshold: 2, window_ms: 0, pending_ms: 0, enabled: true };
    let own = rules::add_for_queue(&r.db, RuleKind::Waiting, "orders", &figures).await.unwrap();
    let silence = silences::add(&r.db, Some(own), Some("orders"), now_ms() + 600_000, "deploy", "admin").await.unwrap();

    let made = r.evaluator.round().await.unwrap();
    assert!(made.len() == 1 && made[0].silenced && made[0].notice.transition == Transition::Firing, "{made:?}");
    assert!(r.evaluator.round().await.unwrap().is_empty(), "a silenced breach waits");
    silences::end(&r.db, silence, now_ms()).await.unwrap();
    let made = r.evaluator.round().await.unwrap();
    assert!(made.len() == 1 && !made[0].silenced && made[0].notice.transition == Transition::Firing, "{made:?}");
    eventually("the late firing email", Duration::from_secs(10), || {
        (mails_about("FIRING waiting on queue \"orders\"") == 1).then_some(())
    })
    .await;
    assert!(r.evaluator.round().await.unwrap().is_empty(), "announced once");

    // Deleted while firing: one resolved notice, and the every-queue rule (above a
    // million) takes over without a breach.
    assert!(rules::delete_queue_rule(&r.db, own).await.unwrap());
    let made = r.evaluator.round().await.unwrap();
    assert!(made.len() == 1 && !made[0].silenced && made[0].notice.transition == Transition::Resolved, "{made:?}");
    assert_eq!(made[0].notice.subject, "orders");
    eventually("the resolved email", Duration::from_secs(10), || {
        (mails_about("RESOLVED waiting on queue \"orders\"") == 1).then_some(())
    })
    .await;
    assert!(r.evaluator.round().await.unwrap().is_empty(), "resolved once");

    // Fired and resolved entirely under a silence: neither is sent.
    let again = rules::add_for_queue(&r.db, RuleKind::Waiting, "orders", &figures).await.unwrap();
    let quiet = silences::add(&r.db, None, None, now_ms() + 600_000, "all quiet", "admin").await.unwrap();
    assert!(r.evaluator.round().await.unwrap()[0].silenced);
    orders.drain(false).await.unwrap();
    let made = r.evaluator.round().await.unwrap();
    assert!(made.len() == 1 && made[0].silenced && made[0].notice.transition == Transition::Resolved, "{made:?}");
    assert!(rules::delete_queue_rule(&r.db, again).await.unwrap());
    assert!(r.evaluator.round().await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(r.smtp.received().len(), 2, "the late firing and the resolved notice only");

    // Announced, then resolved under a silence: its resolved notice goes out when the
    // silence ends, not never.
    silences::end(&r.db, quiet, now_ms()).await.unwrap();
    rules::add_for_queue(&r.db, RuleKind::Waiting, "orders", &figures).await.unwrap();
    for _ in 0..3 {
        orders.enqueue(NewJob::new("ship", json!({}))).await.unwrap();
    }
    let made = r.evaluator.round().await.unwrap();
    assert!(made.len() == 1 && !made[0].silenced && made[0].notice.transition == Transition::Firing, "{made:?}");
    let hush = silences::add(&r.db, None, Some("orders"), now_ms() + 600_000, "deploy", "admin").await.unwrap();
    orders.drain(false).await.unwrap();
    let made = r.evaluator.round().await.unwrap();
    assert!(made.len() == 1 && made[0].silenced && made[0].notice.transition == Transition::Resolved, "{made:?}");
    assert!(r.evaluator.round().await.unwrap().is_empty(), "held while the silence lasts");
    silences::end(&r.db, hush, now_ms()).await.unwrap();
    let made = r.evaluator.round().await.unwrap();
    assert!(made.len() == 1 && !made[0].silenced && made[0].notice.transition == Transition::Resolved, "{made:?}");
    assert!(r.evaluator.round().await.unwrap().is_empty(), "sent once");
    eventually("the held resolved email", Duration::from_secs(10), || {
        (mails_about("RESOLVED waiting on queue \"orders\"") == 2).then_some(())
    })
    .await;
    assert_eq!(r.smtp.received().len(), 4);
}

/// An alert job retried after its webhook failed sends to the webhook again, not to the
/// addresses that already had the notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_alert_notice_goes_only_to_the_channels_that_missed_it() {
    let redis = RedisServer::start();
    let smtp = SmtpServer::start().await;
    let (webhook, calls) = failing_webhook_receiver(1).await;
    let outbox = tempfile::tempdir().unwrap();
    let config = NotifyConfig {
        alert_emails: vec!["oncall@example.com".into(), "lead@example.com".into()],
        ..notify_config(&smtp, &webhook, outbox.path())
    };
    let mut registry = Registry::new();
    notifications::register(&mut registry, "notifications", Arc::new(Notifier::new(&config).unwrap()));
    let handlers = registry.queues().next().unwrap().1.clone();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let queue = Queue::new(&engine, "notifications").unwrap();
    let notice = AlertNotice {
        rule_id: 1,
        kind: RuleKind::Waiting,
        subject: "orders".into(),
        transition: Transition::Firing,
        value: 5,
        threshold: 3,
        window_ms: 0,
        at: now_ms(),
    };
    let options = JobOptions { max_attempts: 3, backoff: Backoff::None, ..Default::default() };
    let id = queue
        .enqueue(NewJob::new(JOB_NAME, serde_json::to_value(&notice).unwrap()).with_options(options))
        .await
        .unwrap();
    Worker::new(queue.clone(), handlers, WorkerOptions::default()).run_until_idle().await.unwrap();
    let job = queue.get_job(&id.id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (hoist_queue::JobState::Completed, 2), "{job:?}");
    assert_eq!(smtp.received().len(), 2, "each address once: {:?}", smtp.received());
    assert_eq!(calls.lock().unwrap().len(), 1, "the webhook once it answered");
}

/// The alerts API: every staff member reads; only admins change rules and silences, each
/// change audited; bad input names its field.
#[tokio::test]
async fn admins_change_rules_and_silences_over_the_api() {
    use axum::http::StatusCode;
    let t = crate::common::TestApp::start().await;
    hoist_server::users::create_user(&t.db, "opal", "opal-password", hoist_server::users::Role::Operator)
        .await
        .unwrap();
    let (mut opal, opal_csrf) = t.client("opal", "opal-password", "10.1.0.8:1").await;
    let mut admin = t.admin;
    let csrf = [("x-csrf-token", t.csrf.as_str())];

    let r = admin.send("GET", "/api/v1/alerts", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let kinds: Vec<&str> = r.body["rules"].as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 8, "the defaults are seeded: {kinds:?}");
    let waiting = r.body["rules"].as_array().unwrap().iter().find(|r| r["kind"] == "waiting").unwrap().clone();
    assert_eq!((waiting["threshold"].as_i64(), waiting["queue"].is_null()), (Some(1000), true), "the seeds' figure");
    let id = waiting["id"].as_i64().unwrap();

    let figures = json!({ "threshold": 50, "window_ms": 0, "pending_ms": 60000, "enabled": true });
    let r = admin.send("PUT", &format!("/api/v1/alerts/rules/{id}"), Some(figures.clone()), &csrf).await;
    assert_eq!((r.status, r.body["threshold"].as_i64()), (StatusCode::OK, Some(50)), "{:?}", r.body);
    let r = opal
        .send("PUT", &format!("/api/v1/alerts/rules/{id}"), Some(figures), &[("x-csrf-token", opal_csrf.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "operators read but do not change alerts");
    for (body, field) in [
        (json!({ "threshold": -1, "window_ms": 0, "pending_ms": 0, "enabled": true }), "threshold"),
        (json!({ "threshold": 1, "window_ms": 0, "pending_ms": 86_400_001, "enabled": true }), "pending_ms"),
        (json!({ "threshold": 1, "window_ms": -5, "pending_ms": 0, "enabled": true }), "window_ms"),
    ] {
        let r = admin.send("PUT", &format!("/api/v1/alerts/rules/{id}"), Some(body.clone()), &csrf).await;
        assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{body}");
    }
    let redis_rule = r_rules(&mut admin).await.into_iter().find(|r| r["kind"] == "redis_unreachable").unwrap();
    let flag = json!({ "threshold": 1, "window_ms": 0, "pending_ms": 0, "enabled": true });
    let r = admin.send("PUT", &format!("/api/v1/alerts/rules/{}", redis_rule["id"]), Some(flag), &csrf).await;
    assert_eq!(r.body["error"]["field"], "threshold", "a yes/no measure only fires above 0: {:?}", r.body);
    let r = admin
        .send(
            "PUT",
            "/api/v1/alerts/rules/999999",
            Some(json!({ "threshold": 1, "window_ms": 0, "pending_ms": 0, "enabled": true })),
            &csrf,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A queue's own rule; one per kind; failure rates are per cents.
    let rule = json!({ "kind": "waiting", "queue": "emails", "threshold": 10, "window_ms": 0, "pending_ms": 0, "enabled": true });
    let r = admin.send("POST", "/api/v1/alerts/rules", Some(rule.clone()), &csrf).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let queue_rule = r.body["id"].as_i64().unwrap();
    assert_eq!(admin.send("POST", "/api/v1/alerts/rules", Some(rule), &csrf).await.status, StatusCode::CONFLICT);
    let rate = json!({ "kind": "failure_rate", "queue": "emails", "threshold": 101, "window_ms": 60000, "pending_ms": 0, "enabled": true });
    let r = admin.send("POST", "/api/v1/alerts/rules", Some(rate), &csrf).await;
    assert_eq!(r.body["error"]["field"], "threshold", "{:?}", r.body);
    let system = json!({ "kind": "redis_unreachable", "queue": "emails", "threshold": 0, "window_ms": 0, "pending_ms": 0, "enabled": true });
    assert_eq!(admin.send("POST", "/api/v1/alerts/rules", Some(system), &csrf).await.body["error"]["field"], "kind");
    assert_eq!(
        admin.send("DELETE", &format!("/api/v1/alerts/rules/{id}"), None, &csrf).await.status,
        StatusCode::NOT_FOUND,
        "defaults are switched off, not deleted"
    );
    assert_eq!(
        admin.send("DELETE", &format!("/api/v1/alerts/rules/{queue_rule}"), None, &csrf).await.status,
        StatusCode::NO_CONTENT
    );

    // Silences.
    let silence =
        json!({ "rule_id": id, "subject": "emails", "duration_ms": 3_600_000, "reason": "migrating the mail server" });
    let r = admin.send("POST", "/api/v1/alerts/silences", Some(silence), &csrf).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let silence_id = r.body["id"].as_i64().unwrap();
    for (body, field) in [
        (json!({ "rule_id": null, "subject": null, "duration_ms": 1000, "reason": "x" }), "duration_ms"),
        (json!({ "rule_id": null, "subject": null, "duration_ms": 60000, "reason": "" }), "reason"),
        (json!({ "rule_id": 999999, "subject": null, "duration_ms": 60000, "reason": "x" }), "rule_id"),
        (json!({ "rule_id": null, "subject": "a/b", "duration_ms": 60000, "reason": "x" }), "subject"),
    ] {
        let r = admin.send("POST", "/api/v1/alerts/silences", Some(body.clone()), &csrf).await;
        assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{body}");
    }
    let listed = admin.send("GET", "/api/v1/alerts", None, &[]).await.body;
    assert_eq!(listed["silences"][0]["reason"], "migrating the mail server");
    assert_eq!(
        admin.send("DELETE", &format!("/api/v1/alerts/silences/{silence_id}"), None, &csrf).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        admin.send("DELETE", &format!("/api/v1/alerts/silences/{silence_id}"), None, &csrf).await.status,
        StatusCode::NOT_FOUND,
        "already over"
    );
    assert!(admin.send("GET", "/api/v1/alerts", None, &[]).await.body["silences"].as_array().unwrap().is_empty());

    let audited: Vec<(String,)> =
        sqlx::query_as("SELECT action FROM audit_log WHERE action LIKE 'alert.%' ORDER BY id")
            .fetch_all(&t.db.pool)
            .await
            .unwrap();
    let audited: Vec<&str> = audited.iter().map(|(a,)| a.as_str()).collect();
    assert_eq!(
        audited,
        ["alert.rule.update", "alert.rule.create", "alert.rule.delete", "alert.silence.create", "alert.silence.end"]
    );
}

async fn r_rules(admin: &mut crate::common::Client) -> Vec<Value> {
    admin.send("GET", "/api/v1/alerts", None, &[]).await.body["rules"].as_array().unwrap().clone()
}
