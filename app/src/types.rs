//! Plain data the pages show, shared by the server (which fills them) and the browser.

use serde::{Deserialize, Serialize};

/// Whether one dependency of the server answers, as shown on the status page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentStatus {
    pub name: String,
    pub up: bool,
    /// Version or backend ("redis 7.0.15", "sqlite"), or the error when down.
    pub detail: String,
}

/// What `/healthz` reports and the home page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemStatus {
    pub version: String,
    pub components: Vec<ComponentStatus>,
}

impl SystemStatus {
    pub fn healthy(&self) -> bool {
        self.components.iter().all(|c| c.up)
    }
}

/// The signed-in user, as the layout shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub username: String,
    /// admin, operator, viewer or user.
    pub role: String,
    /// The session's CSRF token: forms that change something send it back.
    pub csrf: String,
    /// The dashboard language the user chose, if any.
    #[serde(default)]
    pub language: Option<crate::i18n::Language>,
}

/// Something about a queue an operator should act on (thresholds per queue, from the
/// server's settings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HealthWarning {
    TooManyDead { count: u64, limit: u64 },
    TooManyWaiting { count: u64, limit: u64 },
    ActiveTooLong { seconds: u64, limit_seconds: u64 },
}

impl HealthWarning {
    /// The warning in words, in `i18n`'s language (the REST API uses English).
    pub fn text(&self, i18n: crate::i18n::I18n) -> String {
        use crate::t;
        match *self {
            HealthWarning::TooManyDead { count, limit } => {
                t!(i18n, "health-too-many-dead", count = count, limit = limit)
            }
            HealthWarning::TooManyWaiting { count, limit } => {
                t!(i18n, "health-too-many-waiting", count = count, limit = limit)
            }
            HealthWarning::ActiveTooLong { seconds, limit_seconds } => {
                t!(i18n, "health-active-too-long", seconds = seconds, limit = limit_seconds)
            }
        }
    }
}

/// One queue on the overview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCard {
    pub name: String,
    pub counts: QueueCounts,
    pub warnings: Vec<HealthWarning>,
    pub workers: u64,
    /// Jobs completed per minute over the last hour, oldest first.
    pub completed_per_minute: Vec<u64>,
    /// Failed attempts per minute over the last hour, oldest first.
    pub failed_per_minute: Vec<u64>,
    /// Jobs waiting, sampled once a minute over the last hour (`None`: no sample).
    pub waiting_per_minute: Vec<Option<u64>>,
    /// Over the last hour's completed jobs: how long they waited to start (p50, p95, ms).
    pub wait_ms: Option<(u64, u64)>,
    /// Over the last hour's completed jobs: how long they ran (p50, p95, ms).
    pub run_ms: Option<(u64, u64)>,
}

/// Completed jobs and failed attempts across every queue, in equal spans of time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throughput {
    /// Minutes covered in all (60: the last hour, 1440: the last day).
    pub minutes: u32,
    /// Minutes per bar.
    pub bar_minutes: u32,
    /// Epoch ms of the start of the first bar.
    pub from: i64,
    /// Per bar, oldest first.
    pub completed: Vec<u64>,
    pub failed: Vec<u64>,
}

/// A queue's counts as the live feed pushes them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueCounts {
    pub waiting: u64,
    pub delayed: u64,
    pub retrying: u64,
    pub active: u64,
    pub completed: u64,
    pub dead: u64,
    pub cancelled: u64,
    pub expired: u64,
    pub paused: bool,
}

impl QueueCounts {
    /// The count of one state by name (`waiting`, `active`, ...).
    pub fn get(&self, state: &str) -> Option<u64> {
        Some(match state {
            "waiting" => self.waiting,
            "delayed" => self.delayed,
            "retrying" => self.retrying,
            "active" => self.active,
            "completed" => self.completed,
            "dead" => self.dead,
            "cancelled" => self.cancelled,
            "expired" => self.expired,
            _ => return None,
        })
    }
}

/// One row of a queue's job table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRow {
    pub id: String,
    pub name: String,
    pub owner: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    pub attempts: u32,
    pub max_attempts: u32,
    pub stage: Option<String>,
    pub percent: Option<f64>,
}

/// A queue's page: its counts, one state's jobs, and what the viewer may do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueuePage {
    pub name: String,
    pub counts: QueueCounts,
    pub state: String,
    pub jobs: Vec<JobRow>,
    /// Cursor of the next page.
    pub next: Option<u64>,
    /// Whether the viewer may pause, resume and act on jobs.
    pub can_operate: bool,
    /// The id or name searched for, if any.
    pub search: Option<String>,
    /// The limits every worker of the queue obeys together.
    pub limits: LimitsView,
    /// The queue's settings in force in the server that rendered the page, and where each
    /// came from (`hoist.toml`, the environment, or the default).
    #[serde(default)]
    pub settings: Vec<SettingView>,
}

/// One effective setting of a queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingView {
    pub setting: String,
    pub value: String,
    /// `default`, `file` or `environment`.
    pub origin: String,
    /// Where in it: `hoist.toml:12 [env.production]`, or the variable's name.
    pub detail: String,
}

/// A queue's limits across all its workers; `None`: not limited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsView {
    /// Most jobs active at once.
    pub concurrency: Option<u32>,
    /// Most job starts per `rate_per_ms`.
    pub rate_max: Option<u32>,
    pub rate_per_ms: Option<u64>,
    /// Jobs each process runs at once, in place of its own setting.
    pub process_concurrency: Option<u32>,
    /// Most jobs of any one group active at once.
    pub group_concurrency: Option<u32>,
}

/// A job's progress as the dashboard shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressView {
    pub stage: Option<String>,
    pub message: Option<String>,
    pub percent: Option<f64>,
    pub eta_ms: Option<u64>,
}

/// One failed attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptError {
    pub attempt: u32,
    pub at: i64,
    pub kind: String,
    pub message: String,
    pub causes: Vec<String>,
}

/// Everything the job page shows. JSON arrives pretty-printed as text, cut at
/// [`JobDetail::SHOWN_BYTES`] with the full length given, so a huge payload cannot stall
/// the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    pub queue: String,
    pub id: String,
    pub name: String,
    pub state: String,
    pub owner: Option<String>,
    /// The job's group, when it has one (fair groups).
    pub group: Option<String>,
    pub payload: String,
    pub payload_bytes: usize,
    pub result: Option<String>,
    pub priority: u16,
    pub attempts: u32,
    pub max_attempts: u32,
    pub timeout_ms: Option<u64>,
    /// The deadline to start by (epoch ms), for a job enqueued with `expires_in`.
    #[serde(default)]
    pub expires_at: Option<i64>,
    pub dedup_key: Option<String>,
    pub created_at: i64,
    pub run_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub worker: Option<String>,
    pub progress: Option<ProgressView>,
    pub errors: Vec<AttemptError>,
    pub logs: Vec<String>,
    pub can_operate: bool,
}

impl JobDetail {
    pub const SHOWN_BYTES: usize = 64 * 1024;
}

/// A bank connection as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionView {
    pub id: i64,
    pub institution: String,
    /// active, syncing, requires_reauth or error.
    pub status: String,
    pub last_synced_at: Option<i64>,
    pub transactions: i64,
}

/// An end user's own job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MyJob {
    pub queue: String,
    pub id: String,
    pub name: String,
    pub state: String,
    pub created_at: i64,
    pub progress: Option<ProgressView>,
}

/// The "my jobs" page: the user's connections and their recent jobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MyJobs {
    pub connections: Vec<ConnectionView>,
    pub jobs: Vec<MyJob>,
}

/// One job of the dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadRow {
    pub queue: String,
    pub id: String,
    pub name: String,
    pub error: String,
    pub attempts: u32,
    pub died_at: i64,
}

/// A cron schedule as the schedules page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRow {
    pub name: String,
    pub cron: String,
    /// The expression in words ("Every 10 seconds"), when it could be put in words.
    pub cron_words: Option<String>,
    pub timezone: String,
    pub queue: String,
    pub job_name: String,
    pub paused: bool,
    pub enabled: bool,
    /// The last tick the scheduler passed (fired or skipped), epoch ms.
    pub last_tick: Option<i64>,
    pub next_tick: Option<i64>,
    /// Fires on schedule (not by hand).
    pub runs: u64,
    /// Newest first.
    pub recent: Vec<FireView>,
}

/// One fire of a schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FireView {
    pub fired_at: i64,
    pub jobs: usize,
    pub manual: bool,
    pub by: String,
}

/// The history page's search; empty fields do not filter. Dates are `YYYY-MM-DD` (UTC).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryFilter {
    pub id: String,
    pub queue: String,
    pub name: String,
    pub owner: String,
    pub status: String,
    pub from: String,
    pub to: String,
    pub q: String,
    pub cursor: String,
}

/// One finished job from the SQL history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub queue: String,
    pub job_id: String,
    pub name: String,
    pub owner: Option<String>,
    pub status: String,
    pub attempts: u32,
    pub finished_at: i64,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    pub rows: Vec<HistoryRow>,
    /// Cursor of the next page.
    pub next: Option<String>,
}

/// One job a search found: live jobs in their state now, finished ones as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRow {
    pub queue: String,
    pub job_id: String,
    pub name: String,
    pub owner: Option<String>,
    pub state: String,
    pub attempts: u32,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// The last error's message.
    pub error: Option<String>,
}

/// A page of search hits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchView {
    pub rows: Vec<SearchRow>,
    /// Cursor of the next page.
    pub next: Option<String>,
}

/// How many jobs a search matches (`at_least`: the count stopped early).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchCountView {
    pub count: u64,
    pub at_least: bool,
}

impl MatchCountView {
    pub fn text(&self) -> String {
        if self.at_least { format!("{}+", self.count) } else { self.count.to_string() }
    }
}

/// What acting on a search did; `next` is where to go on when more matches remain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkResultView {
    pub action: String,
    pub matched: u64,
    pub changed: u64,
    pub next: Option<String>,
}

/// A saved search and how many jobs it matches now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSearchView {
    pub id: i64,
    pub name: String,
    pub q: String,
    pub count: Option<MatchCountView>,
}

/// One audit log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntryView {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
    /// The action's parameters as compact JSON.
    pub params: String,
    pub result: String,
    pub client_addr: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub entries: Vec<AuditEntryView>,
    /// Cursor (an entry id) of the next, older page.
    pub next: Option<i64>,
}

/// A user account as the admin sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
    /// What an end user may enqueue, as `queue/job-name` entries separated by commas.
    pub allowed_jobs: String,
}

/// Roles, most powerful first.
pub const ROLES: [&str; 4] = ["admin", "operator", "viewer", "user"];

impl Viewer {
    /// Admins and operators change things; viewers and end users only look.
    pub fn can_operate(&self) -> bool {
        self.role == "admin" || self.role == "operator"
    }

    /// Admins, operators and viewers see queues, schedules and history (the server's
    /// `WatchQueues`); end users, and any role this version does not know, do not.
    pub fn is_staff(&self) -> bool {
        matches!(self.role.as_str(), "admin" | "operator" | "viewer")
    }

    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// A process that runs workers or the scheduler, as the Processes page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRow {
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// `serve`, `worker`, or what an embedding application calls itself.
    pub kind: String,
    pub version: String,
    pub started_at: i64,
    pub last_seen: i64,
    /// `running`, `quiet`, `stopping` or `stopped`, as it last said.
    pub state: String,
    /// Its check-ins lapsed without a clean stop.
    pub gone: bool,
    pub scheduler: bool,
    pub queues: Vec<ProcessQueueRow>,
    /// Jobs running in it, oldest first (at most 1,000 listed).
    pub jobs: Vec<ProcessJobRow>,
    pub running: usize,
    /// The process that served this page.
    pub this_server: bool,
}

impl ProcessRow {
    /// Whether a command would reach it (not gone, not stopped or stopping): the engine's
    /// `ProcessInfo::listens`, which this crate cannot call.
    pub fn listens(&self) -> bool {
        !self.gone && matches!(self.state.as_str(), "running" | "quiet")
    }
}

/// One queue a process works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessQueueRow {
    pub queue: String,
    pub concurrency: usize,
    pub configured_concurrency: usize,
    pub running: usize,
    pub accepting: bool,
}

/// A job running in a process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessJobRow {
    pub queue: String,
    pub id: String,
    pub name: String,
    pub started_at: Option<i64>,
}

/// The Alerts page: breaches open now, recent notices, rules and silences.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsView {
    pub open: Vec<AlertRow>,
    pub recent: Vec<AlertEventRow>,
    pub rules: Vec<AlertRuleRow>,
    pub silences: Vec<SilenceRow>,
    /// Whether the viewer may change rules and silences (admins).
    pub can_change: bool,
}

/// A breach that has not cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRow {
    pub rule_id: i64,
    /// The rule's kind: `failure_rate`, `waiting`, ...
    pub kind: String,
    /// The queue, or empty for the whole system.
    pub subject: String,
    /// `pending` or `firing`.
    pub state: String,
    pub since: i64,
    pub value: i64,
    pub threshold: i64,
}

/// A firing or resolved notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEventRow {
    pub kind: String,
    pub subject: String,
    /// `firing` or `resolved`.
    pub transition: String,
    pub value: i64,
    pub threshold: i64,
    pub at: i64,
    pub silenced: bool,
}

/// An alert rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRuleRow {
    pub id: i64,
    pub kind: String,
    /// `None`: every queue without a rule of its own of this kind.
    pub queue: Option<String>,
    pub threshold: i64,
    pub window_ms: i64,
    pub pending_ms: i64,
    pub enabled: bool,
}

/// A silence not yet over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceRow {
    pub id: i64,
    /// The rule's kind and queue as words come from the rule; `None`: every rule.
    pub rule_id: Option<i64>,
    /// `None`: every subject.
    pub subject: Option<String>,
    pub ends_at: i64,
    pub reason: String,
    pub created_by: String,
}

/// How a rule kind's measure reads: a per cent, a count, a duration or a yes/no.
pub fn alert_measure_unit(kind: &str) -> &'static str {
    match kind {
        "failure_rate" => "percent",
        "oldest_waiting" | "active_too_long" => "duration",
        "no_workers" | "redis_unreachable" => "flag",
        _ => "count",
    }
}
