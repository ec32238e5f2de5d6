//! The notifications processor against a real SMTP listener, Redis and SQLite: the
//! sign-in notice arrives in the recipient's language, an event raised twice sends once,
//! the 11th notice in an hour is refused, 451 is retried and 550 dead-lettered with the
//! server's reply, addresses are masked in logs, and without SMTP the outbox gets the mail.

use crate::common;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::http::StatusCode;
use hoist_queue::{
    Backoff, CancellationToken, Handlers, JobOptions, JobState, NewJob, Queue, RedisConnection, Worker, WorkerOptions,
};
use hoist_server::processors::Registry;
use hoist_server::processors::notifications::{self, NotifyConfig};
use hoist_testkit::SmtpServer;
use serde_json::json;

/// Log lines of this test binary, captured to check what they reveal.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_writer(move || Capture(writer.clone()))
            .with_ansi(false)
            .try_init();
        buffer
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn handlers(smtp_url: Option<String>, outbox: &std::path::Path) -> Handlers {
    let config = NotifyConfig {
        smtp_url,
        mail_from: "Hoist <hoist@localhost>".into(),
        outbox_dir: outbox.to_path_buf(),
        security_url: "https://hoist.example/security".into(),
        ..Default::default()
    };
    let mut registry = Registry::new();
    notifications::register(
        &mut registry,
        notifications::DEFAULT_QUEUE,
        Arc::new(notifications::Notifier::new(&config).unwrap()),
    );
    registry.queues().find(|(name, _)| *name == notifications::DEFAULT_QUEUE).unwrap().1.clone()
}

fn spawn_worker(engine: &RedisConnection, handlers: Handlers) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let queue = Queue::new(engine, notifications::DEFAULT_QUEUE).unwrap();
    let stop = CancellationToken::new();
    let worker = Worker::new(
        queue,
        handlers,
        WorkerOptions { concurrency: 2, stall_check_interval: Duration::from_millis(200), ..WorkerOptions::default() },
    );
    let token = stop.clone();
    (stop, tokio::spawn(async move { worker.run(token).await.unwrap() }))
}

async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_notices_arrive_once_in_the_users_language_and_are_limited_per_user() {
    let logs = captured_logs();
    let t = common::TestApp::start().await;
    let smtp = SmtpServer::start().await;
    let outbox = tempfile::tempdir().unwrap();
    let engine = RedisConnection::connect(&t.redis.url()).await.unwrap();
    let (stop, worker) = spawn_worker(&engine, handlers(Some(smtp.url()), outbox.path()));

    let (mut admin, csrf) = (t.admin, t.csrf.clone());
    let h = [("x-csrf-token", csrf.as_str())];
    let notice = json!({
        "user_id": "42", "email": "bold@example.com", "locale": "mn", "at": 1_700_000_000_000i64,
        "ip": "203.0.113.9", "user_agent": FIREFOX, "provider": "password",
        "timezone": "Asia/Ulaanbaatar", "event_id": "evt-1",
    });
    let first = admin.send("POST", "/api/v1/notifications/sign-in", Some(notice.clone()), &h).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
    assert_eq!(first.body["duplicate"], false);
    // The same event delivered twice: the same job, one email.
    let again = admin.send("POST", "/api/v1/notifications/sign-in", Some(notice.clone()), &h).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!((again.body["id"].clone(), again.body["duplicate"].clone()), (first.body["id"].clone(), json!(true)));

    let mail = wait_for("the email", async || smtp.received().into_iter().next()).await;
    assert_eq!(mail.to, ["bold@example.com"]);
    assert!(mail.data.contains("Content-Type: text/html"), "text and HTML parts");
    let decoded = decode_subject(&mail.data);
    assert_eq!(decoded, "Таны Hoist бүртгэлд шинэ нэвтрэлт хийгдлээ");
    let queue = Queue::new(&engine, notifications::DEFAULT_QUEUE).unwrap();
    // The email can arrive a moment before the worker records the job as completed.
    let id = first.body["id"].as_str().unwrap();
    let job = wait_for("the job to complete", async || {
        queue.get_job(id).await.unwrap().filter(|j| j.state == JobState::Completed)
    })
    .await;
    assert_eq!(job.result.unwrap()["locale"], "mn");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.attempts(), 1, "one email for the event raised twice");

    // The address is masked in the logs.
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(text.contains("b***@example.com"), "{text}");
    assert!(!text.contains("bold@example.com"), "{text}");

    // Nine more for user 42 are accepted; the 11th within the hour is refused.
    for i in 2..=10 {
        let n = json!({ "user_id": "42", "email": "bold@example.com", "ip": "203.0.113.9", "event_id": format!("evt-{i}") });
        let r = admin.send("POST", "/api/v1/notifications/sign-in", Some(n), &h).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "notice {i}: {:?}", r.body);
    }
    let eleventh = json!({ "user_id": "42", "email": "bold@example.com", "ip": "203.0.113.9", "event_id": "evt-11" });
    let r = admin.send("POST", "/api/v1/notifications/sign-in", Some(eleventh), &h).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    assert!(r.headers.get("retry-after").is_some());
    let other_user = json!({ "user_id": "43", "email": "cat@example.com", "ip": "203.0.113.9" });
    assert_eq!(
        admin.send("POST", "/api/v1/notifications/sign-in", Some(other_user), &h).await.status,
        StatusCode::ACCEPTED
    );

    for (body, field) in [
        (json!({ "user_id": "42", "email": "not an address", "ip": "1.2.3.4" }), "email"),
        (json!({ "user_id": "42", "email": "a@example.com", "ip": "1.2.3.4", "timezone": "Mars/Base" }), "timezone"),
        (json!({ "user_id": "42", "email": "a@example.com" }), "ip"),
    ] {
        let r = admin.send("POST", "/api/v1/notifications/sign-in", Some(body), &h).await;
        assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)));
    }
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_451_is_retried_and_550_goes_to_the_dead_letter_queue_with_the_reply() {
    let redis = hoist_testkit::RedisServer::start();
    let smtp = SmtpServer::start().await;
    let outbox = tempfile::tempdir().unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let queue = Queue::new(&engine, notifications::DEFAULT_QUEUE).unwrap();
    let (stop, worker) = spawn_worker(&engine, handlers(Some(smtp.url()), outbox.path()));
    let fast = |to: &str| {
        NewJob::new(notifications::EMAIL, json!({ "to": to, "subject": "Hello", "text": "Hi there" })).with_options(
            JobOptions {
                max_attempts: 3,
                backoff: Backoff::Fixed { delay: Duration::from_millis(100) },
                ..Default::default()
            },
        )
    };

    smtp.reply_next("451 4.3.0 mailbox busy, try later");
    let retried = queue.enqueue(fast("first@example.com")).await.unwrap();
    let job = wait_for("the retried email", async || {
        queue.get_job(&retried.id).await.unwrap().filter(|j| j.state == JobState::Completed)
    })
    .await;
    assert_eq!(job.attempts, 2, "451 failed the first attempt, the second delivered");
    assert!(job.errors[0].message.contains("451"), "{:?}", job.errors);
    assert_eq!(smtp.received().len(), 1);

    smtp.reply_next("550 5.1.1 no such mailbox here");
    let rejected = queue.enqueue(fast("ghost@example.com")).await.unwrap();
    let job = wait_for("the rejected email to be dead", async || {
        queue.get_job(&rejected.id).await.unwrap().filter(|j| j.state == JobState::Dead)
    })
    .await;
    assert_eq!(job.attempts, 1, "a permanent rejection is not retried");
    let error = job.last_error.unwrap();
    assert_eq!(error.kind, "permanent");
    assert!(error.message.contains("no such mailbox here"), "the server's reply is kept: {}", error.message);
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_the_mail_goes_to_the_outbox() {
    let redis = hoist_testkit::RedisServer::start();
    let outbox = tempfile::tempdir().unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let queue = Queue::new(&engine, notifications::DEFAULT_QUEUE).unwrap();
    let (stop, worker) = spawn_worker(&engine, handlers(None, outbox.path()));
    let notice = json!({ "user_id": "7", "email": "ann@example.com", "ip": "198.51.100.4", "user_agent": FIREFOX, "at": 1_700_000_000_000i64 });
    let e = queue.enqueue(NewJob::new(notifications::SIGN_IN_NOTICE, notice)).await.unwrap();
    let job =
        wait_for("the notice", async || queue.get_job(&e.id).await.unwrap().filter(|j| j.state == JobState::Completed))
            .await;
    assert_eq!(job.result.as_ref().unwrap()["via"], "outbox");
    let file = outbox.path().join(format!("{}.eml", e.id));
    let mail = std::fs::read_to_string(&file).unwrap();
    assert!(mail.contains("Subject: New sign-in to your Hoist account"), "{mail}");
    assert!(mail.contains("Firefox 120 on Linux"));
    assert!(mail.contains("2023-11-14 22:13 (UTC)"));
    assert!(mail.contains("https://hoist.example/security"));
    stop.cancel();
    worker.await.unwrap();
}

/// The subject header, decoded from RFC 2047 (`=?utf-8?b?...?=` words) when needed.
fn decode_subject(data: &str) -> String {
    let mut lines = data.lines().skip_while(|l| !l.starts_with("Subject:"));
    let mut raw = lines.next().unwrap_or_default().trim_start_matches("Subject:").trim().to_string();
    for continuation in lines.take_while(|l| l.starts_with(' ') || l.starts_with('\t')) {
        raw.push(' ');
        raw.push_str(continuation.trim());
    }
    // Whitespace between two encoded words is not part of the text; elsewhere it is.
    let mut out = String::new();
    let mut previous_encoded = None;
    for word in raw.split_whitespace() {
        let inner = word.strip_prefix("=?utf-8?b?").or_else(|| word.strip_prefix("=?UTF-8?B?"));
        let (text, encoded) = match inner.and_then(|w| w.strip_suffix("?=")) {
            Some(b64) => (String::from_utf8(base64_decode(b64)).unwrap_or_default(), true),
            None => (word.to_string(), false),
        };
        match previous_encoded {
            Some(true) if encoded => {}
            Some(_) => out.push(' '),
            None => {}
        }
        out.push_str(&text);
        previous_encoded = Some(encoded);
    }
    out
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = vec![];
    for byte in text.bytes().filter(|b| *b != b'=') {
        let Some(value) = ALPHABET.iter().position(|a| *a == byte) else { continue };
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_sms_go_to_their_webhooks_with_retries_and_rejections() {
    use axum::routing::post;
    // A webhook receiver that answers 503 once, then 200; and rejects SMS to a bad number.
    let received = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = {
        let (received, calls) = (received.clone(), calls.clone());
        axum::Router::new().route(
            "/hook",
            post(move |axum::Json(body): axum::Json<serde_json::Value>| {
                let (received, calls) = (received.clone(), calls.clone());
                async move {
                    if body["to"] == "+000" {
                        return (StatusCode::UNPROCESSABLE_ENTITY, "invalid number");
                    }
                    if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                        return (StatusCode::SERVICE_UNAVAILABLE, "busy");
                    }
                    received.lock().unwrap().push(body);
                    (StatusCode::OK, "ok")
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let redis = hoist_testkit::RedisServer::start();
    let outbox = tempfile::tempdir().unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let queue = Queue::new(&engine, notifications::DEFAULT_QUEUE).unwrap();
    let config = NotifyConfig {
        push_webhook_url: Some(url.clone()),
        sms_webhook_url: Some(url),
        mail_from: "Hoist <hoist@localhost>".into(),
        outbox_dir: outbox.path().to_path_buf(),
        ..Default::default()
    };
    let mut registry = Registry::new();
    notifications::register(
        &mut registry,
        notifications::DEFAULT_QUEUE,
        Arc::new(notifications::Notifier::new(&config).unwrap()),
    );
    let handlers = registry.queues().find(|(name, _)| *name == notifications::DEFAULT_QUEUE).unwrap().1.clone();
    let (stop, worker) = spawn_worker(&engine, handlers);
    let fast = JobOptions {
        max_attempts: 3,
        backoff: Backoff::Fixed { delay: Duration::from_millis(50) },
        ..Default::default()
    };

    let push = json!({ "user_id": "7", "device_token": "tok-1", "title": "Sync done", "body": "3 accounts" });
    let e = queue.enqueue(NewJob::new(notifications::PUSH, push).with_options(fast.clone())).await.unwrap();
    let job =
        wait_for("the push", async || queue.get_job(&e.id).await.unwrap().filter(|j| j.state == JobState::Completed))
            .await;
    assert_eq!(job.attempts, 2, "503 was retried");
    assert_eq!(received.lock().unwrap()[0]["device_token"], "tok-1");

    let sms = json!({ "user_id": "7", "phone": "+000", "text": "code 1234" });
    let e = queue.enqueue(NewJob::new(notifications::SMS, sms).with_options(fast)).await.unwrap();
    let job = wait_for("the rejected sms", async || {
        queue.get_job(&e.id).await.unwrap().filter(|j| j.state == JobState::Dead)
    })
    .await;
    assert_eq!(job.attempts, 1, "a 4xx rejection is permanent");
    assert!(job.last_error.unwrap().message.contains("422"));
    stop.cancel();
    worker.await.unwrap();
}
