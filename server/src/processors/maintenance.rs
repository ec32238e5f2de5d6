//! Housekeeping on cron schedules: categorize new transactions (hourly), sync every
//! organisation (every 4 hours), delete expired sessions (02:00), refresh consents
//! (03:00 Europe/Berlin), prune the job history and old finished jobs (04:00), and
//! VACUUM/ANALYZE the database (Sundays 05:00). `HOIST_DISABLED_SCHEDULES` switches any
//! of them off by name.

use std::time::Duration;

use hoist_queue::{
    JobContext, JobError, JobResult, JobState, NewJob, Queue, QueueConfig, RedisConnection, ScheduleSpec, handler_fn,
};
use serde_json::json;
use sqlx::Row;

use super::sync;
use super::{QueueNames, Registry};
use crate::db::{Db, DbKind, now_ms};

/// The maintenance queue unless `HOIST_MAINTENANCE_QUEUE` names another
/// ([`super::QueueNames`]).
pub const DEFAULT_QUEUE: &str = "maintenance";
pub const CATEGORIZE: &str = "categorize";
pub const SYNC_ALL: &str = "sync-all";
pub const PURGE_SESSIONS: &str = "purge-sessions";
pub const PRUNE: &str = "prune";
pub const VACUUM: &str = "vacuum";

#[derive(clap::Args, Clone, Debug, Default)]
pub struct MaintenanceConfig {
    /// Built-in schedules to switch off, by name, comma-separated (e.g.
    /// `vacuum-database,sync-all-organisations,monthly-reports`).
    #[arg(long, env = "HOIST_DISABLED_SCHEDULES", value_delimiter = ',')]
    pub disabled_schedules: Vec<String>,
}

/// The built-in schedules: name, cron, time zone, queue, job. Their jobs go onto the
/// maintenance queue `queues` names, `refresh-consents` onto its sync queue.
pub fn schedules(queues: &QueueNames) -> Vec<ScheduleSpec> {
    let spec = |name: &str, cron: &str, zone: &str, queue: &str, job: &str| {
        let mut spec = ScheduleSpec::new(name, cron, queue, NewJob::new(job, json!({})));
        spec.timezone = zone.to_string();
        spec
    };
    vec![
        spec("categorize-transactions", "0 * * * *", "UTC", &queues.maintenance, CATEGORIZE),
        spec("sync-all-organisations", "0 */4 * * *", "UTC", &queues.maintenance, SYNC_ALL),
        spec("purge-expired-sessions", "0 2 * * *", "UTC", &queues.maintenance, PURGE_SESSIONS),
        spec("refresh-consents", "0 3 * * *", "Europe/Berlin", &queues.sync, sync::REFRESH_CONSENTS),
        spec("prune-history", "0 4 * * *", "UTC", &queues.maintenance, PRUNE),
        spec("vacuum-database", "0 5 * * 0", "UTC", &queues.maintenance, VACUUM),
    ]
}

#[derive(Clone)]
pub struct MaintenanceContext {
    pub db: Db,
    pub engine: RedisConnection,
    /// How long the SQL history keeps finished jobs (None: history off).
    pub history_retention: Option<Duration>,
    /// The sync queue `sync-all` fans out onto (`HOIST_SYNC_QUEUE`).
    pub sync_queue: String,
}

/// Runs the maintenance jobs on `queue` (the configured maintenance queue).
pub fn register(registry: &mut Registry, queue: &str, context: MaintenanceContext) {
    let cx = context.clone();
    registry.register(queue, CATEGORIZE, handler_fn(move |ctx| categorize(cx.clone(), ctx)));
    let cx = context.clone();
    registry.register(queue, SYNC_ALL, handler_fn(move |ctx| sync_all(cx.clone(), ctx)));
    let cx = context.clone();
    registry.register(queue, PURGE_SESSIONS, handler_fn(move |ctx| purge_sessions(cx.clone(), ctx)));
    let cx = context.clone();
    registry.register(queue, PRUNE, handler_fn(move |ctx| prune(cx.clone(), ctx)));
    registry.register(queue, VACUUM, handler_fn(move |ctx| vacuum(context.clone(), ctx)));
}

fn retry(e: impl std::error::Error + Send + Sync + 'static) -> JobError {
    JobError::retryable(e)
}

/// Gives uncategorized transactions the category of the first rule whose keyword is in
/// their description or merchant (case-insensitive). Transactions no rule matches stay
/// uncategorized, so a rule added later still applies to them.
async fn categorize(cx: MaintenanceContext, _ctx: JobContext) -> JobResult {
    let rules: Vec<(String, String)> =
        sqlx::query_as("SELECT keyword, category FROM category_rules ORDER BY LENGTH(keyword) DESC, id")
            .fetch_all(&cx.db.pool)
            .await
            .map_err(retry)?;
    let rules: Vec<(String, String)> = rules.into_iter().map(|(k, c)| (k.to_lowercase(), c)).collect();
    let (mut after, mut scanned, mut categorized) = (0i64, 0u64, 0u64);
    loop {
        let rows = sqlx::query(
            "SELECT id, description, merchant FROM transactions WHERE category IS NULL AND id > $1 ORDER BY id LIMIT 500",
        )
        .bind(after)
        .fetch_all(&cx.db.pool)
        .await
        .map_err(retry)?;
        if rows.is_empty() {
            break;
        }
        let mut tx = cx.db.pool.begin().await.map_err(retry)?;
        for row in &rows {
            let id: i64 = row.try_get("id").map_err(retry)?;
            let text = format!(
                "{} {}",
                row.try_get::<String, _>("description").map_err(retry)?,
                row.try_get::<Option<String>, _>("merchant").map_err(retry)?.unwrap_or_default()
            )
            .to_lowercase();
            after = id;
            scanned += 1;
            if let Some((_, category)) = rules.iter().find(|(keyword, _)| text.contains(keyword.as_str())) {
                sqlx::query("UPDATE transactions SET category = $1 WHERE id = $2")
                    .bind(category)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(retry)?;
                categorized += 1;
            }
        }
        tx.commit().await.map_err(retry)?;
    }
    tracing::info!(scanned, categorized, "categorized transactions");
    Ok(json!({ "scanned": scanned, "categorized": categorized }))
}

/// One `sync-all-org` per organisation.
async fn sync_all(cx: MaintenanceContext, ctx: JobContext) -> JobResult {
    let organisations = sync::store::organisations(&cx.db).await.map_err(retry)?;
    let queue = Queue::new(&cx.engine, &cx.sync_queue).map_err(retry)?;
    let mut jobs = vec![];
    for org in &organisations {
        // Keyed by this job, so a retry does not fan out twice.
        let options = hoist_queue::JobOptions {
            dedup_key: Some(format!("sync-all:{}:{org}", ctx.job().id)),
            ..Default::default()
        };
        let job = NewJob::new(sync::SYNC_ALL_ORG, json!({ "org_id": org })).with_options(options);
        jobs.push(queue.enqueue(job).await.map_err(retry)?.id);
    }
    Ok(json!({ "organisations": organisations.len(), "jobs": jobs }))
}

async fn purge_sessions(cx: MaintenanceContext, _ctx: JobContext) -> JobResult {
    let store = crate::auth::session_store::SqlSessionStore::connect(&cx.db).await.map_err(retry)?;
    store.delete_expired().await.map_err(|e| JobError::retryable(e.to_string()))?;
    Ok(json!({ "purged": true }))
}

/// Prunes the SQL history past its retention and, in Redis, finished jobs past the
/// queues' retention (the engine trims a queue only as its jobs end, so a queue that went
/// quiet would keep its old ones). Jobs the history store has not copied yet are not
/// deleted: with archiving on, the engine's `clean` leaves them until they are copied
/// (or quarantined).
async fn prune(cx: MaintenanceContext, _ctx: JobContext) -> JobResult {
    let history = match cx.history_retention {
        Some(keep) => crate::history::prune(&cx.db, now_ms() - keep.as_millis() as i64).await.map_err(retry)?,
        None => 0,
    };
    let cleaned = clean_finished_jobs(&cx.engine, &finished_job_ages()).await.map_err(retry)?;
    Ok(json!({ "history_deleted": history, "redis_jobs_cleaned": cleaned }))
}

/// The ages past which the daily prune deletes finished jobs from Redis, per state
/// (`None`: kept however old). They are the retention the server's queues run with: the
/// server opens every queue with the engine's default [`QueueConfig`] (no setting changes
/// it), so pruning at other ages would contradict what the queues themselves keep.
/// Cancelled and expired jobs have no retention of their own in the engine (it trims the
/// completed and dead sets as jobs end), so they age as dead ones do.
pub fn finished_job_ages() -> [(JobState, Option<Duration>); 4] {
    let config = QueueConfig::default();
    [
        (JobState::Completed, config.completed.max_age),
        (JobState::Dead, config.dead.max_age),
        (JobState::Cancelled, config.dead.max_age),
        (JobState::Expired, config.dead.max_age),
    ]
}

/// Deletes, in every queue, finished jobs older than their state's age. Returns how many.
/// Jobs not yet copied to the history store stay (the engine's `clean` skips them).
pub async fn clean_finished_jobs(
    engine: &RedisConnection,
    ages: &[(JobState, Option<Duration>)],
) -> hoist_queue::Result<u64> {
    let mut cleaned = 0;
    for name in Queue::list_all(engine).await? {
        let queue = Queue::new(engine, &name)?;
        for (state, age) in ages {
            if let Some(age) = age {
                cleaned += queue.clean(*state, *age).await?;
            }
        }
    }
    Ok(cleaned)
}

async fn vacuum(cx: MaintenanceContext, _ctx: JobContext) -> JobResult {
    let statements: &[&str] = match cx.db.kind {
        DbKind::Sqlite => &["VACUUM", "ANALYZE"],
        DbKind::Postgres => &["VACUUM ANALYZE"],
    };
    for statement in statements {
        sqlx::query(statement).execute(&cx.db.pool).await.map_err(retry)?;
    }
    Ok(json!({ "ran": statements }))
}
