//! Reports: the `report` job computes the usage, performance and audit reports over a
//! period from the SQL history and audit log, stores them, and (when asked) emails them
//! to the admins in their language through the notifications queue. The built-in
//! `monthly-reports` schedule runs it on the 1st of each month at 00:00 UTC for the
//! month before, emailed.

use std::time::Duration;

use app::reports::ReportKind;
use hoist_queue::{JobContext, JobError, JobResult, NewJob, Queue, RedisConnection, ScheduleSpec, handler_fn};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Registry;
use crate::db::Db;
use crate::reports::{self, Period};

/// The reports queue unless `HOIST_REPORTS_QUEUE` names another ([`super::QueueNames`]).
pub const DEFAULT_QUEUE: &str = "reports";
/// The job that makes reports.
pub const REPORT: &str = "report";
/// The built-in schedule's name and timetable (the seed's: 00:00 UTC on the 1st).
pub const MONTHLY_SCHEDULE: &str = "monthly-reports";
pub const MONTHLY_CRON: &str = "0 0 1 * *";

#[derive(clap::Args, Clone, Debug)]
pub struct ReportsConfig {
    /// The dashboard's address as admins reach it, for the links in report emails.
    #[arg(long, env = "HOIST_DASHBOARD_URL", default_value = "http://127.0.0.1:3000")]
    pub dashboard_url: String,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig { dashboard_url: "http://127.0.0.1:3000".into() }
    }
}

/// The payload of a `report` job.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportJob {
    /// Which reports (default: all three).
    #[serde(default)]
    pub kinds: Vec<ReportKind>,
    /// The period as epoch ms `[from, to)`; both or neither (neither: the calendar month
    /// before the one the job was created in, UTC).
    #[serde(default)]
    pub from: Option<i64>,
    #[serde(default)]
    pub to: Option<i64>,
    /// Who asked (a username); `schedule` when absent.
    #[serde(default)]
    pub requested_by: Option<String>,
    /// Email the reports to every admin with an address.
    #[serde(default)]
    pub email: bool,
}

impl ReportJob {
    fn kinds(&self) -> Vec<ReportKind> {
        if self.kinds.is_empty() { ReportKind::ALL.to_vec() } else { self.kinds.clone() }
    }

    /// The payload's period, checked again here: a job may have been added by other
    /// means than the API (a copy, a script), and a month of slots is bounded only so.
    fn period(&self, created_at: i64) -> Result<Period, JobError> {
        match (self.from, self.to) {
            (None, None) => Ok(Period::previous_month(created_at)),
            (Some(from), Some(to)) => Period::bounded(from, to).map_err(|e| JobError::permanent(e.to_string())),
            _ => Err(JobError::permanent("a report job needs both `from` and `to`, or neither")),
        }
    }
}

/// The monthly schedule: every report for the month before, emailed to the admins. A
/// tick missed while no scheduler ran (a deploy at midnight) still fires, once.
pub fn monthly_schedule(queue: &str, settings: &crate::settings::QueueSettings) -> ScheduleSpec {
    let job = ReportJob { email: true, ..Default::default() };
    let mut spec = ScheduleSpec::new(
        MONTHLY_SCHEDULE,
        MONTHLY_CRON,
        queue,
        NewJob::new(REPORT, serde_json::to_value(job).expect("a report job serializes"))
            .with_options(job_options(settings)),
    );
    spec.timezone = "UTC".into();
    spec.misfire = hoist_queue::MisfirePolicy::RunOnce;
    spec
}

#[derive(Clone)]
pub struct ReportsContext {
    pub db: Db,
    pub engine: RedisConnection,
    /// Where report emails are enqueued (`HOIST_NOTIFICATIONS_QUEUE`).
    pub notifications_queue: String,
    pub dashboard_url: String,
}

/// Runs `report` jobs on `queue` (the configured reports queue).
pub fn register(registry: &mut Registry, queue: &str, context: ReportsContext) {
    registry.register(queue, REPORT, handler_fn(move |ctx| report(context.clone(), ctx)));
}

/// A report can read a month of history; it is given time, and retried if the database
/// fails meanwhile. The reports queue's settings (`hoist.toml`) win where they are set.
pub fn job_options(settings: &crate::settings::QueueSettings) -> hoist_queue::JobOptions {
    use crate::settings::Source;
    let mut options = settings.job_options(hoist_queue::JobOptions::default());
    if settings.backoff.source == Source::Default {
        options.backoff = hoist_queue::Backoff::Exponential {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(15 * 60),
            jitter: 0.2,
        };
    }
    if settings.timeout.source == Source::Default {
        options.timeout = Some(Duration::from_secs(30 * 60));
    }
    options
}

/// How long a report waits for the history to copy jobs that ended before its period's
/// end; past it, it is made with what is there (and says so in its result).
pub const MAX_WAIT_FOR_HISTORY: Duration = Duration::from_secs(6 * 3600);

/// Whether some queue still holds a job that ended before `before` and is not in the
/// SQL history yet (the copier runs behind, or was down).
async fn history_behind(engine: &RedisConnection, before: i64) -> hoist_queue::Result<bool> {
    for name in Queue::list_all(engine).await? {
        let queue = Queue::new(engine, &name)?;
        if queue.unarchived(1).await?.first().is_some_and(|oldest| oldest.finished_at < before) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::retryable(e.to_string())
}

/// Each report is stored once per job (a retry finds what an earlier attempt stored),
/// and each admin's email is enqueued once per job (a dedup key of the job and admin).
async fn report(cx: ReportsContext, ctx: JobContext) -> JobResult {
    let job: ReportJob = ctx.payload()?;
    let period = job.period(ctx.job().created_at)?;
    let now = cx.engine.redis_time().await.map_err(retry)?;
    let waited = Duration::from_millis(u64::try_from(now - ctx.job().created_at).unwrap_or(0));
    // A period that has ended is waited for until the history holds every job that ended
    // in it; one still going on (today included) is reported as it stands.
    let behind = period.to <= now && history_behind(&cx.engine, period.to).await.map_err(retry)?;
    if behind && waited < MAX_WAIT_FOR_HISTORY {
        // Jobs that ended in the period are still on their way to SQL: come back later,
        // without spending an attempt.
        return Err(JobError::defer(Duration::from_secs(60)));
    }
    let requested_by = job.requested_by.clone().unwrap_or_else(|| "schedule".into());
    let job_id = ctx.job().id.clone();
    let mut made = vec![];
    for kind in job.kinds() {
        let id = match reports::stored_for_job(&cx.db, &job_id, kind).await.map_err(retry)? {
            Some(id) => id,
            None => {
                let figures = reports::compute(&cx.db, kind, period).await.map_err(retry)?;
                reports::store(&cx.db, kind, period, &requested_by, &job_id, &figures).await.map_err(retry)?
            }
        };
        made.push(id);
    }
    let mut emailed = 0;
    if job.email {
        let mut stored = vec![];
        for id in &made {
            stored.extend(reports::get(&cx.db, *id).await.map_err(retry)?);
        }
        let queue = Queue::new(&cx.engine, &cx.notifications_queue).map_err(retry)?;
        for admin in reports::email::recipients(&cx.db).await.map_err(retry)? {
            if reports::email::sent(&cx.db, &job_id, admin.id).await.map_err(retry)? {
                continue;
            }
            let mail = reports::email::render(&stored, &admin.locale, &cx.dashboard_url)
                .map_err(|e| JobError::permanent(format!("report email template: {e}")))?;
            let email = super::notifications::Email {
                to: admin.email.clone(),
                subject: mail.subject,
                text: mail.text,
                html: Some(mail.html),
            };
            let options = hoist_queue::JobOptions {
                dedup_key: Some(format!("report:{job_id}:{}", admin.id)),
                ..super::notifications::delivery_options()
            };
            let new = NewJob::new(super::notifications::EMAIL, serde_json::to_value(email).map_err(retry)?)
                .with_options(options);
            queue.enqueue(new).await.map_err(retry)?;
            // Noted once enqueued: a retry after this skips the admin, and one before it
            // is caught by the dedup key.
            reports::email::note_sent(&cx.db, &job_id, admin.id).await.map_err(retry)?;
            emailed += 1;
        }
    }
    tracing::info!(period = %period.label(), reports = made.len(), emailed, "reports made");
    Ok(json!({
        "reports": made,
        "period": { "from": period.from, "to": period.to },
        "emailed": emailed,
        // Made after waiting MAX_WAIT_FOR_HISTORY for a history copy that did not catch up.
        "history_behind": behind,
    }))
}
