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

    fn period(&self, created_at: i64) -> Result<Period, JobError> {
        match (self.from, self.to) {
            (None, None) => Ok(Period::previous_month(created_at)),
            (Some(from), Some(to)) if from < to => Ok(Period { from, to }),
            _ => Err(JobError::permanent("a report job needs both `from` and `to` (from < to), or neither")),
        }
    }
}

/// The monthly schedule: every report for the month before, emailed to the admins.
pub fn monthly_schedule(queue: &str) -> ScheduleSpec {
    let job = ReportJob { email: true, ..Default::default() };
    let mut spec = ScheduleSpec::new(
        MONTHLY_SCHEDULE,
        MONTHLY_CRON,
        queue,
        NewJob::new(REPORT, serde_json::to_value(job).expect("a report job serializes")),
    );
    spec.timezone = "UTC".into();
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
/// fails meanwhile.
pub fn job_options() -> hoist_queue::JobOptions {
    hoist_queue::JobOptions {
        max_attempts: 3,
        backoff: hoist_queue::Backoff::Exponential {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(15 * 60),
            jitter: 0.2,
        },
        timeout: Some(Duration::from_secs(30 * 60)),
        ..Default::default()
    }
}

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::retryable(e.to_string())
}

/// Each report is stored once per job (a retry finds what an earlier attempt stored),
/// and each admin's email is enqueued once per job (a dedup key of the job and admin).
async fn report(cx: ReportsContext, ctx: JobContext) -> JobResult {
    let job: ReportJob = ctx.payload()?;
    let period = job.period(ctx.job().created_at)?;
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
            emailed += 1;
        }
    }
    tracing::info!(period = %period.label(), reports = made.len(), emailed, "reports made");
    Ok(json!({ "reports": made, "period": { "from": period.from, "to": period.to }, "emailed": emailed }))
}
