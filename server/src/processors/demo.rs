//! The demo processor: a job that walks through the stages of a provider sync with
//! progress, so a fresh dashboard has something alive to show (`hoist serve --demo`).

use std::time::Duration;

use hoist_queue::{JobContext, JobError, JobResult, Progress, handler_fn};
use serde::Deserialize;
use serde_json::json;

use super::{QueueNames, Registry};

/// The demo's queue unless `HOIST_DEMO_QUEUE` names another ([`super::QueueNames`]).
pub const DEFAULT_QUEUE: &str = "demo";
pub const JOB: &str = "demo-sync";

#[derive(Deserialize)]
struct DemoPayload {
    /// How long the whole job takes.
    #[serde(default = "default_ms")]
    duration_ms: u64,
    /// Fail (retryably) on the first attempt, to show retries.
    #[serde(default)]
    fail_first_attempt: bool,
    /// A provider outage until this time (epoch ms): attempts before it fail for good, so
    /// the job lands in the dead-letter queue and can be requeued once it is over.
    #[serde(default)]
    outage_until: Option<i64>,
}

fn default_ms() -> u64 {
    3000
}

/// Runs the demo's job on `queue` (the configured demo queue).
pub fn register(registry: &mut Registry, queue: &str) {
    registry.register(queue, JOB, handler_fn(run));
}

async fn run(ctx: JobContext) -> JobResult {
    let payload: DemoPayload = ctx.payload()?;
    if payload.duration_ms > 600_000 {
        return Err(JobError::permanent("duration_ms must be at most 600000"));
    }
    if let Some(until) = payload.outage_until
        && crate::db::now_ms() < until
    {
        return Err(JobError::permanent("demo provider is down for maintenance (outage_until)"));
    }
    let stages = ["starting", "syncing_accounts", "syncing_transactions", "finalizing"];
    let step = Duration::from_millis(payload.duration_ms / stages.len() as u64);
    for (i, stage) in stages.iter().enumerate() {
        let percent = (i * 100 / stages.len()) as f64;
        let remaining = step * (stages.len() - i) as u32;
        ctx.progress(Progress::stage(*stage).percent(percent).counter("step", i as i64 + 1).eta(remaining)).await?;
        if payload.fail_first_attempt && ctx.job().attempts == 1 && i == 2 {
            return Err(JobError::retryable("demo provider answered 503 (first attempt fails on purpose)"));
        }
        tokio::select! {
            _ = tokio::time::sleep(step) => {}
            _ = ctx.cancellation().cancelled() => return Err(JobError::retryable("cancelled")),
        }
    }
    ctx.progress(Progress::stage("completed").percent(100.0)).await?;
    tracing::info!(accounts = 3, transactions = 42, "demo sync finished");
    Ok(json!({ "accounts": 3, "transactions": 42 }))
}

/// The demo end user's name and password (demo mode only).
pub const DEMO_USER: (&str, &str) = ("demo", "demo-password");

/// The demo workload of `hoist serve --demo`: `demo-sync` jobs every 10 s (one of three
/// failing its first attempt), a sync of every organisation every 30 s through the demo
/// provider (which fails some calls at random, and always for the revoked connection),
/// a sign-in notice every 20 s into the outbox, and categorization every minute, each
/// onto the queue `queues` names for its processor.
/// The demo's schedules, by name.
pub const SCHEDULES: [&str; 4] = ["demo-sync", "demo-sync-organisations", "demo-categorize", "demo-sign-in-notice"];

pub async fn declare_schedule(redis: &hoist_queue::RedisConnection, queues: &QueueNames) -> anyhow::Result<()> {
    use super::{maintenance, notifications};
    let scheduler = hoist_queue::Scheduler::new(redis);
    let job = hoist_queue::NewJob::new(JOB, json!({ "duration_ms": 4000, "fail_first_attempt": false }));
    let mut spec = hoist_queue::ScheduleSpec::new("demo-sync", "*/10 * * * * *", &queues.demo, job.clone());
    spec.fan_out = vec![
        json!({ "connection": "demo-bank-1" }),
        json!({ "connection": "demo-bank-2" }),
        json!({ "connection": "demo-bank-3", "fail_first_attempt": true }),
    ];
    spec.stagger = Some(Duration::from_secs(1));
    scheduler.upsert(&spec).await?;
    let notice = json!({
        "user_id": "demo", "email": "demo@example.com", "locale": "mn", "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        "timezone": "Asia/Ulaanbaatar",
    });
    let more = [
        ("demo-sync-organisations", "*/30 * * * * *", &queues.maintenance, maintenance::SYNC_ALL, json!({})),
        ("demo-categorize", "15 * * * * *", &queues.maintenance, maintenance::CATEGORIZE, json!({})),
        ("demo-sign-in-notice", "*/20 * * * * *", &queues.notifications, notifications::SIGN_IN_NOTICE, notice),
    ];
    for (name, cron, queue, job, payload) in more {
        scheduler
            .upsert(&hoist_queue::ScheduleSpec::new(name, cron, queue, hoist_queue::NewJob::new(job, payload)))
            .await?;
    }
    Ok(())
}

/// Seeds what the demo shows (idempotent): the demo end user, three organisations with
/// bank connections (one of them revoked, so its syncs reach the dead-letter queue), and
/// categorization rules. The demo user may enqueue `sync-connection` on the sync queue
/// `queues` names.
pub async fn seed(db: &crate::db::Db, queues: &QueueNames) -> anyhow::Result<()> {
    use crate::users::{Role, create_user};
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(DEMO_USER.0)
        .fetch_optional(&db.pool)
        .await?;
    let user_id = match existing {
        Some(id) => id,
        None => create_user(db, DEMO_USER.0, DEMO_USER.1, Role::User).await?,
    };
    let allowed_jobs = json!({ queues.sync.as_str(): [super::sync::SYNC_CONNECTION] }).to_string();
    sqlx::query("UPDATE users SET allowed_jobs = $1 WHERE id = $2")
        .bind(allowed_jobs)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    let day = 86_400_000;
    let now = crate::db::now_ms();
    // Organisation → (external id, institution, consent end).
    type Banks<'a> = &'a [(&'a str, &'a [(&'a str, &'a str, Option<i64>)])];
    let banks: Banks = &[
        (
            "Acme Corp",
            &[
                ("demo-acme-golomt", "Golomt Bank", Some(now + 90 * day)),
                ("demo-acme-khan", "Khan Bank", Some(now + 5 * day)),
            ],
        ),
        (
            "Globex",
            &[("demo-globex-tdb", "Trade and Development Bank", None), ("demo-globex-revoked", "State Bank", None)],
        ),
        ("Initech", &[("demo-initech-xac", "XacBank", Some(now + 200 * day))]),
    ];
    for (org, connections) in banks {
        sqlx::query("INSERT INTO organisations (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(org)
            .bind(now)
            .execute(&db.pool)
            .await?;
        let org_id: i64 =
            sqlx::query_scalar("SELECT id FROM organisations WHERE name = $1").bind(org).fetch_one(&db.pool).await?;
        for (external_id, institution, consent) in connections.iter() {
            sqlx::query(
                "INSERT INTO connections (org_id, owner, provider, external_id, institution, consent_expires_at, created_at) \
                 VALUES ($1, $2, 'demo', $3, $4, $5, $6) ON CONFLICT (provider, external_id) DO NOTHING",
            )
            .bind(org_id)
            .bind(user_id.to_string())
            .bind(external_id)
            .bind(institution)
            .bind(consent)
            .bind(now)
            .execute(&db.pool)
            .await?;
        }
    }
    let rules = [
        ("nomin", "groceries"),
        ("emart", "groceries"),
        ("shell", "fuel"),
        ("uber", "transport"),
        ("netflix", "subscriptions"),
        ("spotify", "subscriptions"),
        ("cafe", "eating out"),
        ("payroll", "income"),
        ("power", "utilities"),
        ("rent", "housing"),
    ];
    for (keyword, category) in rules {
        sqlx::query("INSERT INTO category_rules (keyword, category) VALUES ($1, $2) ON CONFLICT (keyword) DO NOTHING")
            .bind(keyword)
            .bind(category)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}
