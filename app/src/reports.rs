//! Reports: what the server computes over a period from its SQL history and audit log,
//! and what the Reports page, the REST API, the CSV/JSON downloads and the monthly email
//! all show. One set of types for all of them.

use serde::{Deserialize, Serialize};

/// The three reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// Jobs per queue and name, per owner, and the busiest hours.
    Usage,
    /// Throughput over time, wait and run times, the slowest jobs, stalls.
    Performance,
    /// Operator actions, failed actions, sign-in failures and lockouts, token use.
    Audit,
}

impl ReportKind {
    pub const ALL: [ReportKind; 3] = [ReportKind::Usage, ReportKind::Performance, ReportKind::Audit];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Usage => "usage",
            ReportKind::Performance => "performance",
            ReportKind::Audit => "audit",
        }
    }

    pub fn parse(text: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A stored report without its figures, as the list shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReportSummary {
    pub id: i64,
    pub kind: ReportKind,
    /// Start of the period (epoch ms, inclusive).
    pub from: i64,
    /// End of the period (epoch ms, exclusive).
    pub to: i64,
    /// When it was computed (epoch ms).
    pub created_at: i64,
    /// Who asked for it: a username, or `schedule` for the monthly run.
    pub requested_by: String,
}

/// Stored reports, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReportList {
    pub reports: Vec<ReportSummary>,
    /// Pass as `before` for older ones; absent on the last page.
    pub next: Option<i64>,
}

/// A stored report with its figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Report {
    #[serde(flatten)]
    pub summary: ReportSummary,
    pub figures: ReportFigures,
}

/// One report's figures; which one matches the summary's kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportFigures {
    Usage(UsageReport),
    Performance(PerformanceReport),
    Audit(AuditReport),
}

/// What happened to jobs: enqueued in the period, and ended in it by how they ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JobCounts {
    /// Jobs created in the period (whether or not they have ended).
    pub enqueued: u64,
    /// Jobs that completed in the period.
    pub completed: u64,
    /// Failed attempts of the jobs that ended in the period (stalls included).
    pub failed: u64,
    /// Of those, attempts that were run again.
    pub retried: u64,
    /// Jobs that went to the dead-letter queue in the period.
    pub dead: u64,
    /// Jobs cancelled in the period.
    pub cancelled: u64,
    /// Jobs that passed their deadline before they started.
    pub expired: u64,
}

impl JobCounts {
    /// Jobs that ended in the period, however.
    pub fn ended(&self) -> u64 {
        self.completed + self.dead + self.cancelled + self.expired
    }

    /// Dead jobs as a share of the ones that completed or died (0 when none did).
    pub fn failure_rate(&self) -> f64 {
        let finished = self.completed + self.dead;
        if finished == 0 { 0.0 } else { self.dead as f64 / finished as f64 }
    }

    pub fn add(&mut self, other: &JobCounts) {
        self.enqueued += other.enqueued;
        self.completed += other.completed;
        self.failed += other.failed;
        self.retried += other.retried;
        self.dead += other.dead;
        self.cancelled += other.cancelled;
        self.expired += other.expired;
    }
}

/// One queue's jobs of one name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JobNameUsage {
    pub queue: String,
    pub name: String,
    #[serde(flatten)]
    pub counts: JobCounts,
}

/// One owner's jobs (an end user's id, or whatever the enqueuer set).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OwnerUsage {
    pub owner: String,
    #[serde(flatten)]
    pub counts: JobCounts,
}

/// Jobs that ended in one hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HourCount {
    /// Start of the hour (epoch ms, UTC).
    pub hour: i64,
    pub ended: u64,
}

/// The usage report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageReport {
    pub totals: JobCounts,
    /// Per queue and job name, most jobs first; at most [`MAX_REPORT_ROWS`], the rest
    /// added up in `other_jobs`.
    pub by_job: Vec<JobNameUsage>,
    /// Jobs of the queue/name pairs past the list's end.
    pub other_jobs: Option<JobCounts>,
    /// The owners with the most jobs, at most [`MAX_REPORT_OWNERS`]; jobs without an
    /// owner are not listed.
    pub by_owner: Vec<OwnerUsage>,
    /// How many distinct owners had jobs.
    pub owners: u64,
    /// The hours in which the most jobs ended, busiest first (at most 10).
    pub busiest_hours: Vec<HourCount>,
    /// Jobs ended per hour of the day (UTC), 0 to 23.
    pub by_hour_of_day: Vec<u64>,
}

/// Percentiles of a duration, in ms (`None` when nothing was measured).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Percentiles {
    pub p50: Option<u64>,
    pub p95: Option<u64>,
    pub p99: Option<u64>,
    pub max: Option<u64>,
}

/// Timings of one queue's jobs of one name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JobNameTimings {
    pub queue: String,
    pub name: String,
    /// Jobs that ran and ended (completed or dead) in the period.
    pub runs: u64,
    /// Enqueue to (last) start.
    pub wait_ms: Percentiles,
    /// Start to end, of completed jobs.
    pub run_ms: Percentiles,
    /// Attempts whose worker stopped renewing the lease.
    pub stalls: u64,
    /// Jobs that went dead because their last attempt stalled (their lease was lost).
    pub lost_to_stalls: u64,
}

/// Jobs that ended in one slot of the throughput chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ThroughputSlot {
    /// Start of the slot (epoch ms).
    pub at: i64,
    pub completed: u64,
    pub dead: u64,
}

/// One of the slowest jobs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SlowJob {
    pub queue: String,
    pub id: String,
    pub name: String,
    pub status: String,
    pub duration_ms: u64,
    pub finished_at: i64,
}

/// The performance report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PerformanceReport {
    /// Width of each throughput slot: an hour for periods up to 3 days, else a day.
    pub slot_ms: i64,
    /// Every slot of the period, in order.
    pub throughput: Vec<ThroughputSlot>,
    /// Over every job.
    pub wait_ms: Percentiles,
    pub run_ms: Percentiles,
    /// Per queue and job name, most runs first (at most [`MAX_REPORT_ROWS`]).
    pub by_job: Vec<JobNameTimings>,
    /// The longest runs, longest first (at most [`MAX_SLOWEST_JOBS`]).
    pub slowest: Vec<SlowJob>,
    pub stalls: u64,
    pub lost_to_stalls: u64,
}

/// Actions of one kind by one user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ActorActions {
    pub actor: String,
    pub role: String,
    pub action: String,
    pub count: u64,
    /// Of them, how many did not succeed.
    pub failed: u64,
}

/// One audit entry, as the report lists failed actions and lockouts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditLine {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub result: String,
    pub client_addr: Option<String>,
}

/// Failed sign-ins under one username.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SignInFailures {
    /// The username that was tried (it may not exist).
    pub username: String,
    pub failures: u64,
    /// Distinct client addresses they came from.
    pub addresses: u64,
    pub last_at: i64,
}

/// What one API token did in the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenUse {
    pub id: i64,
    pub name: String,
    pub owner: String,
    /// Audited actions taken with it in the period.
    pub actions: u64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The audit report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditReport {
    /// Audited actions of signed-in users and tokens (sign-ins and lockouts apart).
    pub actions: u64,
    pub failed_actions: u64,
    /// Per user and action, most first (at most [`MAX_REPORT_ROWS`]).
    pub by_actor: Vec<ActorActions>,
    /// The latest failed actions (at most [`MAX_REPORT_LINES`]).
    pub failures: Vec<AuditLine>,
    pub sign_in_failures: u64,
    /// Per username tried, most first (at most [`MAX_REPORT_OWNERS`]).
    pub sign_in_failures_by_user: Vec<SignInFailures>,
    pub lockouts: u64,
    /// The latest lockouts (at most [`MAX_REPORT_LINES`]).
    pub lockout_lines: Vec<AuditLine>,
    /// Tokens used, made or revoked in the period.
    pub tokens: Vec<TokenUse>,
}

/// Longest list of queue/name or user/action rows in a report.
pub const MAX_REPORT_ROWS: usize = 200;
/// Most owners (and usernames tried) a report lists.
pub const MAX_REPORT_OWNERS: usize = 25;
/// Most slow jobs a report lists.
pub const MAX_SLOWEST_JOBS: usize = 20;
/// Most single audit entries (failures, lockouts) a report lists.
pub const MAX_REPORT_LINES: usize = 50;
