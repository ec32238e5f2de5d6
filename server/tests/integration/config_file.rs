//! `hoist.toml` against real parts: a server started with the file sets its queues'
//! limits, alert rules, job options, retention and schedules; a schedule taken out of
//! the file is removed at the next start while one made over the API stays; a bad file
//! stops start-up naming its line and field; `hoist config check` shows each setting's
//! source, the environment over the file over the defaults, and `HOIST_ENV`'s section.

use std::process::Command;
use std::time::Duration;

use axum::http::StatusCode;
use hoist_queue::{Backoff, Handlers, NewJob, RateLimit, ScheduleSpec, Scheduler, handler_fn};
use hoist_server::Hoist;
use hoist_server::alerts::rules::{self, RuleKind};
use hoist_server::db::Db;
use hoist_testkit::{RedisServer, TestDatabase, sqlite_database};
use serde_json::json;

use crate::common::Client;

const PASSWORD: &str = "config-admin-pw";

fn file_text(with_second_schedule: bool) -> String {
    let mut text = String::from(
        r#"# Queues and schedules of the config test.
processors = ["reports"]

[queues.mail-out]
concurrency = 3
global_concurrency = 7
attempts = 6
backoff = { type = "fixed", delay = "2s" }
keep_completed = 2
rate_limit = { max = 50, per = "1s" }
max_waiting = 4000
alerts = { waiting = 50 }

[schedules.file-a]
cron = "0 6 * * *"
queue = "mail-out"
job = "digest"
"#,
    );
    if with_second_schedule {
        text.push_str("\n[schedules.file-b]\ncron = \"0 7 * * *\"\nqueue = \"mail-out\"\njob = \"weekly\"\n");
    }
    text
}

async fn start(redis: &RedisServer, database: &TestDatabase, path: &std::path::Path) -> (Hoist, hoist_server::Running) {
    let handlers = Handlers::new().on("send", handler_fn(|_ctx| async { Ok(json!({ "sent": true })) }));
    let hoist = Hoist::builder()
        .redis_url(redis.url())
        .database_url(database.url())
        .admin_password(PASSWORD)
        // With history on, finished jobs stay in Redis until copied; off, retention trims
        // them as they end, which is what this test watches.
        .history_days(0)
        .config_file(path)
        .queue("mail-out", handlers)
        .build()
        .await
        .unwrap();
    let running = hoist.start().await.unwrap();
    (hoist, running)
}

async fn schedule_names(redis: &RedisServer) -> Vec<String> {
    let engine = hoist_queue::RedisConnection::connect(&redis.url()).await.unwrap();
    let mut names: Vec<String> =
        Scheduler::new(&engine).list().await.unwrap().into_iter().map(|s| s.spec.name).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_applies_the_file_and_removes_the_schedules_taken_out_of_it() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hoist.toml");
    std::fs::write(&path, file_text(true)).unwrap();
    let (hoist, running) = start(&redis, &database, &path).await;

    // Limits and alert rules, set at start.
    let queue = hoist.queue("mail-out").unwrap();
    let limits = queue.limits().await.unwrap();
    assert_eq!(limits.concurrency, Some(7));
    assert_eq!(limits.rate, Some(RateLimit { max: 50, per: Duration::from_secs(1) }));
    let db = Db::connect(database.url()).await.unwrap();
    let rule = rules::list(&db)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.kind == RuleKind::Waiting && r.queue.as_deref() == Some("mail-out"))
        .expect("the queue's waiting rule");
    assert_eq!(rule.threshold, 50);

    // Jobs added over the API take the queue's attempts and backoff.
    let app = hoist.router();
    let mut admin = Client::new(&app, "10.2.0.1:1000");
    let csrf = admin.login("admin", PASSWORD).await.body["csrf_token"].as_str().unwrap().to_string();
    let h = [("x-csrf-token", csrf.as_str())];
    // Held until the options are read.
    queue.pause().await.unwrap();
    let mut ids = vec![];
    for _ in 0..5 {
        let r = admin.send("POST", "/api/v1/queues/mail-out/jobs", Some(json!({ "name": "send" })), &h).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let asked = json!({ "name": "send", "options": { "max_attempts": 9 } });
    let r = admin.send("POST", "/api/v1/queues/mail-out/jobs", Some(asked), &h).await;
    let own = r.body["id"].as_str().unwrap().to_string();
    let job = queue.get_job(&ids[0]).await.unwrap().unwrap();
    assert_eq!(job.max_attempts, 6);
    assert_eq!(job.backoff, Backoff::Fixed { delay: Duration::from_secs(2) });
    assert_eq!(queue.get_job(&own).await.unwrap().unwrap().max_attempts, 9, "a job keeps what it asked");
    queue.resume().await.unwrap();

    // The server's worker completes them and keeps only the file's two.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while queue.counts().await.unwrap().waiting + queue.counts().await.unwrap().active > 0 {
        assert!(std::time::Instant::now() < deadline, "the jobs were not worked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(queue.counts().await.unwrap().completed, 2, "keep_completed = 2");

    // Each setting and where it came from.
    let r = admin.send("GET", "/api/v1/queues/mail-out/settings", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let row =
        |name: &str| r.body["settings"].as_array().unwrap().iter().find(|s| s["setting"] == name).unwrap().clone();
    assert_eq!(row("concurrency")["value"], "3");
    assert_eq!(row("concurrency")["source"], json!({ "from": "file", "file": "hoist.toml", "line": 5, "env": null }));
    assert_eq!(row("max_failed")["source"], json!({ "from": "default" }));
    assert_eq!(row("alerts.waiting")["value"], "50");
    let page = admin.send("GET", "/queues/mail-out", None, &[]).await;
    let html = page.body.as_str().unwrap();
    assert!(html.contains(r#"data-setting="keep_completed" data-origin="file""#), "the queue page shows the sources");

    // The file's processors run: the reports processor makes a report run over the API.
    let r = admin.send("POST", "/api/v1/reports", Some(json!({ "kinds": ["usage"] })), &h).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while hoist_server::reports::list(&db, 10, None).await.unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the file's reports processor did not run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The reports processor's monthly schedule, and the file's two.
    assert_eq!(schedule_names(&redis).await, ["file-a", "file-b", "monthly-reports"]);
    // A schedule made over the API is not the file's.
    let api_made = ScheduleSpec::new("api-made", "0 8 * * *", "mail-out", NewJob::new("digest", json!({})));
    Scheduler::new(hoist.connection()).upsert(&api_made).await.unwrap();
    running.stop().await;
    drop(hoist);

    // Restarted without file-b: it goes, the others stay. Twice changes nothing more.
    std::fs::write(&path, file_text(false)).unwrap();
    for _ in 0..2 {
        let (_hoist, running) = start(&redis, &database, &path).await;
        assert_eq!(schedule_names(&redis).await, ["api-made", "file-a", "monthly-reports"]);
        running.stop().await;
    }

    // A bad file stops start-up, naming the line and the field.
    std::fs::write(&path, "[queues.mail-out]\nattempts = 1\n\nkeep_dead = -3\n").unwrap();
    let error = Hoist::builder()
        .redis_url(redis.url())
        .database_url(database.url())
        .config_file(&path)
        .build()
        .await
        .err()
        .expect("a bad file is refused");
    let message = format!("{error:#}");
    assert!(message.contains(&format!("{}:4: queues.mail-out.keep_dead", path.display())), "{message}");
}

fn check(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hoist"));
    command.args(["config", "check"]).args(args).env_remove("HOIST_CONFIG").env_remove("HOIST_ENV");
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn config_check_shows_the_environment_over_the_file_over_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hoist.toml");
    let file = path.to_str().unwrap();
    std::fs::write(
        &path,
        "[queues.billing]\nconcurrency = 4\nattempts = 7\n\n[env.production.queues.billing]\nattempts = 9\n",
    )
    .unwrap();
    let setting = |out: &str, name: &str| -> (String, String) {
        let line = out.lines().find(|l| l.trim_start().starts_with(&format!("{name} "))).unwrap_or_default();
        let mut parts = line.split_whitespace().skip(1);
        let value = parts.next().unwrap_or_default().to_string();
        (value, parts.collect::<Vec<_>>().join(" "))
    };

    let (ok, out, err) = check(&["--config", file], &[]);
    assert!(ok, "{err}");
    assert!(out.starts_with("hoist.toml: valid"), "{out}");
    assert_eq!(setting(&out, "concurrency"), ("4".into(), "hoist.toml:2".into()));
    assert_eq!(setting(&out, "attempts"), ("7".into(), "hoist.toml:3".into()));
    assert_eq!(setting(&out, "max_waiting"), ("1000".into(), "default".into()));

    // The environment's section, by flag or HOIST_ENV.
    let (ok, out, _) = check(&["--config", file, "--env", "production"], &[]);
    assert!(ok);
    assert_eq!(setting(&out, "attempts"), ("9".into(), "hoist.toml:6 [env.production]".into()));
    let (_, by_variable, _) = check(&[], &[("HOIST_CONFIG", file), ("HOIST_ENV", "production")]);
    assert_eq!(by_variable, out);

    // An environment variable wins over the file.
    let (ok, out, _) = check(&["--config", file], &[("HOIST_QUEUE_BILLING_CONCURRENCY", "12")]);
    assert!(ok);
    assert_eq!(setting(&out, "concurrency"), ("12".into(), "HOIST_QUEUE_BILLING_CONCURRENCY".into()));

    // Refused: an unknown section, a bad value, a missing file; exit status non-zero.
    let (ok, _, err) = check(&["--config", file, "--env", "staging"], &[]);
    assert!(!ok && err.contains("HOIST_ENV") && err.contains("production"), "{err}");
    std::fs::write(&path, "[queues.billing]\nconcurrency = 4\nattempts = 0\n").unwrap();
    let (ok, _, err) = check(&["--config", file], &[]);
    assert!(!ok && err.contains(&format!("{file}:3: queues.billing.attempts")), "{err}");
    let (ok, _, err) = check(&["--config", "/nonexistent/hoist.toml"], &[]);
    assert!(!ok && err.contains("/nonexistent/hoist.toml") && err.contains("HOIST_CONFIG"), "{err}");
    let (ok, _, err) = check(&["--config", file], &[("HOIST_QUEUE_BILLING_CONCURRENCY", "0")]);
    assert!(!ok && err.contains("HOIST_QUEUE_BILLING_CONCURRENCY"), "{err}");
}
