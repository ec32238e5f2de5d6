//! Reports against real parts. Each report's figures are checked against a reference
//! worked out here, independently, from a known set of finished jobs and audit rows, on
//! SQLite and on PostgreSQL. Then the whole path: a report job run over the API by an
//! admin, stored, listed, downloaded as JSON and CSV, and emailed through a real SMTP
//! listener to two admins, one in English and one in Mongolian; and the monthly schedule
//! firing once at midnight on the 1st (Redis's clock, faked) with three servers running.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use app::reports::{AuditReport, JobCounts, Percentiles, PerformanceReport, ReportFigures, ReportKind, UsageReport};
use axum::http::StatusCode;
use hoist_server::audit::{self, AuditEntry, LOCKED_OUT, SIGN_IN_FAILED};
use hoist_server::auth::{AuthVia, Principal};
use hoist_server::db::Db;
use hoist_server::history::{self, HistoryRecord};
use hoist_server::policy::Scope;
use hoist_server::reports::{self, Period};
use hoist_server::{Builtin, Hoist, Role};
use hoist_testkit::{RedisServer, SmtpServer, TestDatabase, postgres_database, sqlite_database};
use serde_json::{Value, json};

use crate::common::Client;

const HOUR: i64 = 3_600_000;

fn error(kind: &str) -> Value {
    json!({ "attempt": 1, "at": 0, "kind": kind, "message": "boom" })
}

/// 240 jobs ending in the period over two queues, three names and five owners, in every
/// way a job ends, with failures and stalls; and jobs that end before it or after it.
fn known_jobs(period: Period) -> Vec<HistoryRecord> {
    let mut jobs = vec![];
    for i in 0..240i64 {
        let status = match i % 10 {
            0 | 1 => "dead",
            2 => "cancelled",
            3 => "expired",
            _ => "completed",
        };
        let failures = match status {
            "completed" => i % 3,
            "dead" => 1 + i % 3,
            "cancelled" => i % 2,
            _ => 0,
        };
        let mut errors: Vec<Value> =
            (0..failures).map(|n| error(if n == 0 && i % 7 == 0 { "stalled" } else { "retryable" })).collect();
        if status == "dead" && i % 20 == 0 {
            *errors.last_mut().unwrap() = error("stalled");
        }
        let created_at = period.from + i * 600_000;
        let started_at = (status != "expired").then_some(created_at + (i * 37) % 1500);
        let duration_ms = matches!(status, "completed" | "dead").then_some((i * 53) % 1900);
        let finished_at = match (started_at, duration_ms) {
            (Some(s), Some(d)) => s + d,
            _ => created_at + 1000,
        };
        jobs.push(HistoryRecord {
            queue: ["emails", "sync"][(i % 2) as usize].into(),
            job_id: format!("in-{i}"),
            name: ["send", "digest", "pull"][(i % 3) as usize].into(),
            owner: (i % 4 != 0).then(|| format!("u{}", i % 5)),
            status: status.into(),
            payload: json!({}),
            result: None,
            error: errors.last().cloned(),
            errors: Value::Array(errors),
            attempts: u32::try_from(failures + 1).unwrap(),
            created_at,
            started_at,
            finished_at,
            duration_ms,
        });
    }
    for i in 0..5i64 {
        // Ended before the period; and made in it but ended after.
        let before = period.from - HOUR - i;
        jobs.push(HistoryRecord {
            job_id: format!("before-{i}"),
            created_at: before - 10,
            started_at: Some(before - 5),
            finished_at: before,
            duration_ms: Some(5),
            ..jobs[4].clone()
        });
        let late = period.to - 1000 + i;
        jobs.push(HistoryRecord {
            job_id: format!("after-{i}"),
            created_at: late,
            started_at: Some(late + 10),
            finished_at: period.to + 5000,
            duration_ms: Some(5000 - 10 + 1000 - i),
            ..jobs[4].clone()
        });
    }
    jobs
}

fn ended_in(job: &HistoryRecord, period: Period) -> bool {
    (period.from..period.to).contains(&job.finished_at)
}

fn failures(job: &HistoryRecord) -> Vec<String> {
    job.errors.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

fn counts_of<'a>(jobs: impl Iterator<Item = &'a HistoryRecord>, period: Period) -> JobCounts {
    let mut counts = JobCounts::default();
    for job in jobs {
        if (period.from..period.to).contains(&job.created_at) {
            counts.enqueued += 1;
        }
        if !ended_in(job, period) {
            continue;
        }
        match job.status.as_str() {
            "completed" => counts.completed += 1,
            "dead" => counts.dead += 1,
            "cancelled" => counts.cancelled += 1,
            _ => counts.expired += 1,
        }
        let failed = failures(job).len() as u64;
        counts.failed += failed;
        counts.retried += if job.status == "dead" { failed.saturating_sub(1) } else { failed };
    }
    counts
}

/// Nearest rank, as the report's histograms answer below 2,048 ms.
fn nearest_rank(mut values: Vec<u64>) -> Percentiles {
    if values.is_empty() {
        return Percentiles::default();
    }
    values.sort();
    let at = |q: f64| Some(values[((q * values.len() as f64).ceil() as usize).max(1) - 1]);
    Percentiles { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: values.last().copied() }
}

fn check_usage(usage: &UsageReport, jobs: &[HistoryRecord], period: Period) {
    assert_eq!(usage.totals, counts_of(jobs.iter(), period));
    assert_eq!(usage.totals.ended(), 240);
    let mut keys: Vec<(String, String)> = jobs.iter().map(|j| (j.queue.clone(), j.name.clone())).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(usage.by_job.len(), keys.len());
    for row in &usage.by_job {
        let reference = counts_of(jobs.iter().filter(|j| j.queue == row.queue && j.name == row.name), period);
        assert_eq!(row.counts, reference, "{}/{}", row.queue, row.name);
    }
    // Most jobs first.
    let volume = |c: &JobCounts| c.enqueued + c.ended();
    assert!(usage.by_job.windows(2).all(|w| volume(&w[0].counts) >= volume(&w[1].counts)));
    assert_eq!(usage.other_jobs, None);
    let owners: Vec<&String> =
        jobs.iter().filter_map(|j| j.owner.as_ref()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    assert_eq!(usage.owners, owners.len() as u64);
    for row in &usage.by_owner {
        let reference = counts_of(jobs.iter().filter(|j| j.owner.as_ref() == Some(&row.owner)), period);
        assert_eq!(row.counts, reference, "owner {}", row.owner);
    }
    let mut hours: BTreeMap<i64, u64> = BTreeMap::new();
    let mut of_day = vec![0u64; 24];
    for job in jobs.iter().filter(|j| ended_in(j, period)) {
        *hours.entry(job.finished_at / HOUR * HOUR).or_default() += 1;
        of_day[((job.finished_at / HOUR) % 24) as usize] += 1;
    }
    assert_eq!(usage.by_hour_of_day, of_day);
    let mut busiest: Vec<(i64, u64)> = hours.into_iter().collect();
    busiest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    busiest.truncate(10);
    assert_eq!(usage.busiest_hours.iter().map(|h| (h.hour, h.ended)).collect::<Vec<_>>(), busiest);
}

fn check_performance(performance: &PerformanceReport, jobs: &[HistoryRecord], period: Period) {
    let ran: Vec<&HistoryRecord> =
        jobs.iter().filter(|j| ended_in(j, period) && matches!(j.status.as_str(), "completed" | "dead")).collect();
    let waits = |set: &[&HistoryRecord]| {
        nearest_rank(set.iter().filter_map(|j| j.started_at.map(|s| (s - j.created_at) as u64)).collect())
    };
    let runs = |set: &[&HistoryRecord]| {
        nearest_rank(set.iter().filter(|j| j.status == "completed").map(|j| j.duration_ms.unwrap() as u64).collect())
    };
    assert_eq!(performance.wait_ms, waits(&ran));
    assert_eq!(performance.run_ms, runs(&ran));
    let stalls_of = |set: &mut dyn Iterator<Item = &HistoryRecord>| -> (u64, u64) {
        set.fold((0, 0), |(stalls, lost), job| {
            let kinds = failures(job);
            let stalled = kinds.iter().filter(|k| *k == "stalled").count() as u64;
            let lost_lease = job.status == "dead" && kinds.last().is_some_and(|k| k == "stalled");
            (stalls + stalled, lost + u64::from(lost_lease))
        })
    };
    let (stalls, lost) = stalls_of(&mut jobs.iter().filter(|j| ended_in(j, period)));
    assert!(stalls > 0 && lost > 0, "the known set has stalls ({stalls}) and lost leases ({lost})");
    assert_eq!((performance.stalls, performance.lost_to_stalls), (stalls, lost));
    assert_eq!(performance.by_job.len(), 6);
    for row in &performance.by_job {
        let set: Vec<&HistoryRecord> =
            ran.iter().copied().filter(|j| j.queue == row.queue && j.name == row.name).collect();
        assert_eq!(row.runs, set.len() as u64);
        assert_eq!(row.wait_ms, waits(&set), "{}/{}", row.queue, row.name);
        assert_eq!(row.run_ms, runs(&set), "{}/{}", row.queue, row.name);
        let (stalls, lost) =
            stalls_of(&mut jobs.iter().filter(|j| ended_in(j, period) && j.queue == row.queue && j.name == row.name));
        assert_eq!((row.stalls, row.lost_to_stalls), (stalls, lost));
    }
    // Two days are charted by the hour; every job that ran lands in its hour.
    assert_eq!(performance.slot_ms, HOUR);
    assert_eq!(performance.throughput.len(), 48);
    for slot in &performance.throughput {
        let in_slot = |status: &str| {
            ran.iter().filter(|j| j.status == status && (slot.at..slot.at + HOUR).contains(&j.finished_at)).count()
                as u64
        };
        assert_eq!((slot.completed, slot.dead), (in_slot("completed"), in_slot("dead")), "slot {}", slot.at);
    }
    let mut slowest: Vec<(u64, String)> =
        ran.iter().map(|j| (j.duration_ms.unwrap() as u64, format!("{}/{}", j.queue, j.job_id))).collect();
    slowest.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    slowest.truncate(20);
    let reported: Vec<(u64, String)> =
        performance.slowest.iter().map(|j| (j.duration_ms, format!("{}/{}", j.queue, j.id))).collect();
    assert_eq!(reported, slowest);
}

fn principal(user_id: i64, username: &str, role: Role, via: AuthVia) -> Principal {
    Principal { user_id, username: username.into(), role, via }
}

/// Audit rows: actions by two users (one through an API token), some failed, refused
/// sign-ins and lockouts; and rows outside the period.
async fn known_audit(db: &Db, period: Period) -> (i64, i64) {
    let ada = hoist_server::users::create_user(db, "ada", "ada-password-1", Role::Admin).await.unwrap();
    let bob = hoist_server::users::create_user(db, "bob", "bob-password-1", Role::Operator).await.unwrap();
    let used = hoist_server::tokens::create_token(db, "bob", "deploys", &[Scope::JobsWrite], None).await.unwrap();
    let idle = hoist_server::tokens::create_token(db, "ada", "idle", &[Scope::JobsRead], None).await.unwrap();
    let entry = |action: &'static str, result: &'static str| AuditEntry {
        action,
        target: "emails".into(),
        params: json!({}),
        result,
        client_addr: Some("10.0.0.9".into()),
    };
    let ada_session = principal(ada, "ada", Role::Admin, AuthVia::Session);
    let bob_token =
        principal(bob, "bob", Role::Operator, AuthVia::Token { id: used.id, scopes: vec![Scope::JobsWrite] });
    for _ in 0..3 {
        audit::record(db, &ada_session, entry("queue.pause", "ok")).await.unwrap();
    }
    audit::record(db, &ada_session, entry("queue.drain", "ok: 4 jobs")).await.unwrap();
    audit::record(db, &ada_session, entry("queue.drain", "failed")).await.unwrap();
    for _ in 0..4 {
        audit::record(db, &bob_token, entry("job.retry", "ok")).await.unwrap();
    }
    audit::record(db, &bob_token, entry("job.retry", "failed after changing 1 of 2 jobs: gone")).await.unwrap();
    let address = |n: u8| std::net::IpAddr::from([10, 0, 0, n]);
    for n in 0..3 {
        audit::record_refused_sign_in(db, SIGN_IN_FAILED, "ada", "failed", address(n)).await.unwrap();
    }
    audit::record_refused_sign_in(db, SIGN_IN_FAILED, "mallory", "failed", address(7)).await.unwrap();
    audit::record_refused_sign_in(db, LOCKED_OUT, "ada", "locked out", address(1)).await.unwrap();
    // Outside the period: moved there by hand.
    audit::record(db, &ada_session, entry("queue.resume", "failed")).await.unwrap();
    audit::record_refused_sign_in(db, SIGN_IN_FAILED, "old", "failed", address(9)).await.unwrap();
    sqlx::query("UPDATE audit_log SET at = $1 WHERE action = 'queue.resume' OR actor_name = 'old'")
        .bind(period.from - 1)
        .execute(&db.pool)
        .await
        .unwrap();
    // A token made before the period and not used in it is not listed.
    sqlx::query("UPDATE api_tokens SET created_at = $1 WHERE id = $2")
        .bind(period.from - 10)
        .bind(idle.id)
        .execute(&db.pool)
        .await
        .unwrap();
    (used.id, idle.id)
}

fn check_audit(report: &AuditReport, used_token: i64) {
    assert_eq!((report.actions, report.failed_actions), (10, 2));
    let rows: Vec<(&str, &str, u64, u64)> =
        report.by_actor.iter().map(|a| (a.actor.as_str(), a.action.as_str(), a.count, a.failed)).collect();
    assert_eq!(rows, [("bob", "job.retry", 5, 1), ("ada", "queue.pause", 3, 0), ("ada", "queue.drain", 2, 1)]);
    let failed: Vec<(&str, &str)> = report.failures.iter().map(|f| (f.actor.as_str(), f.result.as_str())).collect();
    assert_eq!(failed, [("bob", "failed after changing 1 of 2 jobs: gone"), ("ada", "failed")]);
    assert_eq!(report.sign_in_failures, 4);
    let tried: Vec<(&str, u64, u64)> =
        report.sign_in_failures_by_user.iter().map(|s| (s.username.as_str(), s.failures, s.addresses)).collect();
    assert_eq!(tried, [("ada", 3, 3), ("mallory", 1, 1)]);
    assert_eq!(report.lockouts, 1);
    assert_eq!(report.lockout_lines[0].actor, "ada");
    assert_eq!(report.lockout_lines[0].client_addr.as_deref(), Some("10.0.0.1"));
    let tokens: Vec<(i64, &str, &str, u64)> =
        report.tokens.iter().map(|t| (t.id, t.name.as_str(), t.owner.as_str(), t.actions)).collect();
    assert_eq!(tokens, [(used_token, "deploys", "bob", 5)]);
}

async fn reports_match_the_reference(database: TestDatabase) {
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let today = chrono::Utc::now().date_naive();
    let period = Period::days(today.pred_opt().unwrap(), today, today).unwrap();
    let jobs = known_jobs(period);
    history::record(&db, &jobs).await.unwrap();
    let (used_token, _) = known_audit(&db, period).await;

    let ReportFigures::Usage(usage) = reports::compute(&db, ReportKind::Usage, period).await.unwrap() else {
        panic!("not a usage report")
    };
    check_usage(&usage, &jobs, period);
    let ReportFigures::Performance(performance) = reports::compute(&db, ReportKind::Performance, period).await.unwrap()
    else {
        panic!("not a performance report")
    };
    check_performance(&performance, &jobs, period);
    let ReportFigures::Audit(audit) = reports::compute(&db, ReportKind::Audit, period).await.unwrap() else {
        panic!("not an audit report")
    };
    check_audit(&audit, used_token);

    // Stored once per job and kind; read back whole.
    let figures = ReportFigures::Usage(usage.clone());
    let id = reports::store(&db, ReportKind::Usage, period, "ada", "job-1", &figures).await.unwrap();
    assert_eq!(reports::store(&db, ReportKind::Usage, period, "ada", "job-1", &figures).await.unwrap(), id);
    let stored = reports::get(&db, id).await.unwrap().unwrap();
    assert_eq!(stored.figures, figures);
    assert_eq!((stored.summary.from, stored.summary.to), (period.from, period.to));
    assert_eq!(reports::list(&db, 10, None).await.unwrap().len(), 1);

    // An empty period has every figure at zero, and the throughput chart still spans it.
    let empty = Period { from: period.from - 30 * 86_400_000, to: period.from - 29 * 86_400_000 };
    let ReportFigures::Performance(nothing) = reports::compute(&db, ReportKind::Performance, empty).await.unwrap()
    else {
        panic!()
    };
    assert_eq!((nothing.throughput.len(), nothing.run_ms, nothing.slowest.len()), (24, Percentiles::default(), 0));
}

#[tokio::test]
async fn reports_match_a_reference_worked_out_from_known_jobs_and_audit_rows() {
    reports_match_the_reference(sqlite_database()).await;
}

#[tokio::test]
async fn reports_match_a_reference_worked_out_from_known_jobs_and_audit_rows_on_postgres() {
    reports_match_the_reference(postgres_database().await).await;
}

async fn eventually<T>(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const PASSWORD: &str = "reports-admin-pw";

async fn server(redis: &RedisServer, database: &TestDatabase, smtp: &SmtpServer, outbox: &std::path::Path) -> Hoist {
    let smtp_url = smtp.url();
    Hoist::builder()
        .redis_url(redis.url())
        .database_url(database.url())
        .admin_password(PASSWORD)
        .processors([Builtin::Reports, Builtin::Notifications])
        .configure_processors(|c| {
            c.notify.smtp_url = Some(smtp_url);
            c.notify.outbox_dir = outbox.to_path_buf();
            c.reports.dashboard_url = "https://hoist.example.com/".into();
        })
        .build()
        .await
        .unwrap()
}

async fn set_email(db: &Db, username: &str, email: &str, locale: &str) {
    sqlx::query("UPDATE users SET email = $1, locale = $2 WHERE username = $3")
        .bind(email)
        .bind(locale)
        .bind(username)
        .execute(&db.pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_report_run_from_the_api_is_stored_downloaded_and_emailed_to_admins_in_their_language() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    let smtp = SmtpServer::start().await;
    let outbox = tempfile::tempdir().unwrap();
    let hoist = server(&redis, &database, &smtp, outbox.path()).await;
    let running = hoist.start().await.unwrap();
    let db = Db::connect(database.url()).await.unwrap();
    hoist_server::users::create_user(&db, "mongke", "mongke-password-1", Role::Admin).await.unwrap();
    hoist_server::users::create_user(&db, "olive", "olive-password-1", Role::Operator).await.unwrap();
    set_email(&db, "admin", "admin@example.com", "en").await;
    // The language chosen on the dashboard wins over the account's locale.
    set_email(&db, "mongke", "mongke@example.com", "en").await;
    sqlx::query("UPDATE users SET language = 'mn' WHERE username = 'mongke'").execute(&db.pool).await.unwrap();
    set_email(&db, "olive", "olive@example.com", "en").await;
    let today = chrono::Utc::now().date_naive();
    let period = Period::days(today.pred_opt().unwrap(), today, today).unwrap();
    history::record(&db, &known_jobs(period)).await.unwrap();

    let app = hoist.router();
    let mut admin = Client::new(&app, "10.1.0.1:1000");
    let csrf = admin.login("admin", PASSWORD).await.body["csrf_token"].as_str().unwrap().to_string();
    let csrf_header = [("x-csrf-token", csrf.as_str())];

    // Refused, each naming its field.
    let from = today.pred_opt().unwrap().to_string();
    let to = today.to_string();
    for (body, field) in [
        (json!({ "from": to, "to": from }), "to"),
        (json!({ "from": from }), "to"),
        (json!({ "to": to }), "from"),
        (json!({ "from": "1999-01-01", "to": "1999-01-02" }), "from"),
        (json!({ "from": "2020-01-01", "to": to }), "to"),
        (json!({ "from": "yesterday", "to": to }), "from"),
        (json!({ "kinds": ["sales"] }), "kinds[0]"),
        (json!({ "emial": true }), "emial"),
    ] {
        let r = admin.send("POST", "/api/v1/reports", Some(body.clone()), &csrf_header).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert_eq!(r.body["error"]["field"], field, "{body}: {:?}", r.body);
    }
    let mut operator = Client::new(&app, "10.1.0.2:1000");
    let operator_csrf =
        operator.login("olive", "olive-password-1").await.body["csrf_token"].as_str().unwrap().to_string();
    let r = operator.send("POST", "/api/v1/reports", Some(json!({})), &[("x-csrf-token", &operator_csrf)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(operator.send("GET", "/api/v1/reports", None, &[]).await.status, StatusCode::FORBIDDEN);
    // Nor may an operator add a report job to the reports queue by hand.
    let job = json!({ "name": "report", "payload": { "email": true, "requested_by": "admin" } });
    let r = operator.send("POST", "/api/v1/queues/reports/jobs", Some(job), &[("x-csrf-token", &operator_csrf)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);

    let r = admin
        .send("POST", "/api/v1/reports", Some(json!({ "from": from, "to": to, "email": true })), &csrf_header)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["queue"], "reports");
    let list = eventually("three reports", Duration::from_secs(30), async || {
        let r = admin.send("GET", "/api/v1/reports", None, &[]).await;
        (r.body["reports"].as_array().map(Vec::len) == Some(3)).then_some(r.body)
    })
    .await;
    let reports = list["reports"].as_array().unwrap();
    let kinds: Vec<&str> = reports.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["audit", "performance", "usage"]);
    assert!(reports.iter().all(|r| r["requested_by"] == "admin" && r["from"] == period.from && r["to"] == period.to));

    let usage_id = reports[2]["id"].as_i64().unwrap();
    let r = admin.send("GET", &format!("/api/v1/reports/{usage_id}"), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["figures"]["usage"]["totals"]["completed"], 144);
    let r = admin.send("GET", &format!("/api/v1/reports/{usage_id}/download?format=json"), None, &[]).await;
    assert_eq!(r.headers["content-type"], "application/json");
    assert!(r.headers["content-disposition"].to_str().unwrap().contains(&format!("hoist-usage-{from}-{to}.json")));
    let downloaded: app::reports::Report = serde_json::from_value(r.body).unwrap();
    assert_eq!(downloaded.summary.id, usage_id);
    let ReportFigures::Usage(usage) = downloaded.figures else { panic!("not usage") };

    // The CSV parses; its rows are the report's, with the totals last.
    let r = admin.send("GET", &format!("/api/v1/reports/{usage_id}/download?format=csv"), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = r.body.as_str().unwrap().to_string();
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, ["queue", "name", "enqueued", "completed", "failed", "retried", "dead", "cancelled", "expired"]);
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), usage.by_job.len() + 1);
    assert_eq!(&rows.last().unwrap()[0], "(all)");
    assert_eq!(rows.last().unwrap()[3].parse::<u64>().unwrap(), usage.totals.completed);
    for table in ["owners", "busiest_hours", "hours_of_day"] {
        let r = admin
            .send("GET", &format!("/api/v1/reports/{usage_id}/download?format=csv&table={table}"), None, &[])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{table}");
        assert!(csv::Reader::from_reader(r.body.as_str().unwrap().as_bytes()).records().all(|r| r.is_ok()));
    }
    for (query, field) in [("format=csv&table=slowest", "table"), ("format=xml", "format"), ("table=jobs", "table")] {
        let r = admin.send("GET", &format!("/api/v1/reports/{usage_id}/download?{query}"), None, &[]).await;
        assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{query}");
    }
    assert_eq!(admin.send("GET", "/api/v1/reports/999999", None, &[]).await.status, StatusCode::NOT_FOUND);
    let r = admin.send("GET", "/api/v1/reports?limit=0", None, &[]).await;
    assert_eq!(r.body["error"]["field"], "limit");

    // One email per admin with an address, in their language; the operator gets none.
    let mails = eventually("two emails", Duration::from_secs(30), async || {
        let mails = smtp.received();
        (mails.len() >= 2).then_some(mails)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 2);
    let to_of = |address: &str| mails.iter().find(|m| m.to.iter().any(|t| t.contains(address))).unwrap();
    let english = decoded_body(&to_of("admin@example.com").data);
    assert!(english.starts_with(&format!("Hoist reports for {from} – {to}")), "{english}");
    assert!(english.contains("https://hoist.example.com/reports/"), "links to the dashboard: {english}");
    assert!(english.contains("Failed attempts") && english.contains("Usage"), "{english}");
    let mongolian = decoded_body(&to_of("mongke@example.com").data);
    assert!(mongolian.starts_with(&format!("Hoist тайлан: {from} – {to}")), "{mongolian}");
    assert!(
        mongolian.contains("Ашиглалт") && mongolian.contains("Гүйцэтгэл") && mongolian.contains("Аудит"),
        "{mongolian}"
    );

    // Audited.
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'report.run' AND result = 'ok'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(count, 1);
    running.stop().await;
}

/// The text of a MIME message's parts, quoted-printable and base64 undone.
fn decoded_body(data: &str) -> String {
    let message = mail_parser::MessageParser::default().parse(data.as_bytes()).unwrap();
    let mut text = message.subject().unwrap_or_default().to_string();
    for part in message.text_bodies().chain(message.html_bodies()) {
        text.push('\n');
        text.push_str(part.text_contents().unwrap_or_default());
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_monthly_schedule_fires_once_at_midnight_on_the_first_with_three_servers() {
    // Redis's clock, which every scheduler goes by, starts 5 s before December.
    let redis = RedisServer::start_with(hoist_testkit::RedisOptions {
        fake_time: Some("@2026-11-30 23:59:55".into()),
        ..Default::default()
    });
    let database = sqlite_database();
    let smtp = SmtpServer::start().await;
    let outbox = tempfile::tempdir().unwrap();
    let mut servers = vec![];
    for _ in 0..3 {
        let hoist = server(&redis, &database, &smtp, outbox.path()).await;
        let running = hoist.start().await.unwrap();
        servers.push((hoist, running));
    }
    let db = Db::connect(database.url()).await.unwrap();
    set_email(&db, "admin", "admin@example.com", "mn").await;
    let reports = eventually("the monthly reports", Duration::from_secs(40), async || {
        let list = reports::list(&db, 100, None).await.unwrap();
        (list.len() >= 3).then_some(list)
    })
    .await;
    // Long enough for a second firing, had there been one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reports = reports::list(&db, 100, None).await.unwrap().into_iter().chain(reports).collect::<Vec<_>>();
    let mut distinct: HashMap<i64, &app::reports::ReportSummary> = HashMap::new();
    for report in &reports {
        distinct.insert(report.id, report);
    }
    assert_eq!(distinct.len(), 3, "one run of three reports: {reports:?}");
    let november =
        Period::days("2026-11-01".parse().unwrap(), "2026-11-30".parse().unwrap(), "2026-12-01".parse().unwrap())
            .unwrap();
    for report in distinct.values() {
        assert_eq!((report.from, report.to, report.requested_by.as_str()), (november.from, november.to, "schedule"));
    }
    let jobs: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT job_id FROM reports").fetch_all(&db.pool).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let mails = eventually("the admin's email", Duration::from_secs(30), async || {
        let mails = smtp.received();
        (!mails.is_empty()).then_some(mails)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 1, "emailed once");
    assert!(decoded_body(&mails[0].data).contains("Hoist тайлан: 2026-11-01 – 2026-11-30"));
    for (_, running) in servers {
        running.stop().await;
    }
}

/// A month that has ended is reported only once the history holds every job that ended
/// in it: a job finished in Redis before midnight but not copied yet holds the report
/// back (deferred, no attempt spent), and once copied it is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_monthly_report_waits_for_jobs_the_history_has_not_copied() {
    use hoist_queue::{CancellationToken, Handlers, JobState, NewJob, Queue, RedisConnection, Worker, WorkerOptions};
    use hoist_server::processors::reports::{REPORT, ReportsContext, register};

    let redis = RedisServer::start_with(hoist_testkit::RedisOptions {
        fake_time: Some("@2026-11-30 23:59:58".into()),
        ..Default::default()
    });
    let database = sqlite_database();
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let stop = CancellationToken::new();

    // A job of November ends in Redis; nobody copies it yet.
    let emails = Queue::new(&engine, "emails").unwrap();
    emails.set_archiving(true).await.unwrap();
    let id = emails.enqueue(NewJob::new("send", json!({}))).await.unwrap().id;
    let handlers = Handlers::new().on("send", hoist_queue::handler_fn(|_ctx| async { Ok(json!({})) }));
    tokio::spawn(Worker::new(emails.clone(), handlers, WorkerOptions::default()).run(stop.clone()));
    eventually("the job to complete", Duration::from_secs(10), async || {
        (emails.get_job(&id).await.unwrap()?.state == JobState::Completed).then_some(())
    })
    .await;

    let mut registry = hoist_server::processors::Registry::new();
    let context = ReportsContext {
        db: db.clone(),
        engine: engine.clone(),
        notifications_queue: "notifications".into(),
        dashboard_url: "http://127.0.0.1:3000".into(),
    };
    register(&mut registry, "reports", context);
    let (_, report_handlers) = registry.queues().next().unwrap();
    let reports_queue = Queue::new(&engine, "reports").unwrap();
    tokio::spawn(
        Worker::new(reports_queue.clone(), report_handlers.clone(), WorkerOptions::default()).run(stop.clone()),
    );

    // Once December has begun (Redis's clock), November's report is asked for.
    eventually("December", Duration::from_secs(10), async || {
        (engine.redis_time().await.unwrap() >= 1_796_083_200_000).then_some(())
    })
    .await;
    let job = reports_queue.enqueue(NewJob::new(REPORT, json!({ "kinds": ["usage"] }))).await.unwrap().id;
    eventually("the report job deferred", Duration::from_secs(10), async || {
        let job = reports_queue.get_job(&job).await.unwrap()?;
        (job.state == JobState::Delayed).then_some(job)
    })
    .await;
    assert!(reports::list(&db, 10, None).await.unwrap().is_empty(), "no report before the copy");

    // Copied: run now, the job counts.
    history::copy_batch(&db, &emails, 100).await.unwrap();
    reports_queue.promote(&job).await.unwrap();
    let stored = eventually("the report", Duration::from_secs(10), async || {
        reports::list(&db, 10, None).await.unwrap().into_iter().next()
    })
    .await;
    let report = reports::get(&db, stored.id).await.unwrap().unwrap();
    let ReportFigures::Usage(usage) = report.figures else { panic!("not usage") };
    assert_eq!((usage.totals.enqueued, usage.totals.completed), (1, 1));
    stop.cancel();
}
