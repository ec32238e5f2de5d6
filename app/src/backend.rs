//! The seam between the pages and the server's service layer.
//!
//! Server functions in this crate ask the [`Backend`] provided as Leptos context for
//! data; `server/` implements it. So the app never reaches Redis or SQL itself, and
//! every operation is written once, in the server's services.

use crate::error::AppError;
use std::sync::Arc;

use leptos::prelude::*;

use crate::types::{
    AlertRow, AlertRuleRow, AlertsView, AuditView, BulkResultView, DeadRow, HistoryFilter, HistoryView, JobDetail,
    LimitsView, MatchCountView, MyJobs, ProcessRow, QueueCard, QueuePage, SavedSearchView, ScheduleRow, SearchView,
    SystemStatus, Throughput, UserRow, Viewer,
};

/// A boxed future, so the trait stays object safe.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// What the pages need from the server, asked on behalf of the request being served (the
/// implementation reads the caller from it). Errors are messages to show.
pub trait Backend: Send + Sync + 'static {
    fn system_status(&self) -> BoxFuture<'_, SystemStatus>;
    /// The signed-in user, `None` when signed out; an error when the server cannot tell.
    fn viewer(&self) -> BoxFuture<'_, Result<Option<Viewer>, AppError>>;
    /// Signs in with a password (the lockout against guessing applies).
    fn sign_in(&self, username: String, password: String) -> BoxFuture<'_, Result<Viewer, AppError>>;
    /// Ends the session; `csrf` must be its token.
    fn sign_out(&self, csrf: String) -> BoxFuture<'_, Result<(), AppError>>;
    /// Makes `language` (`en`, `mn`) the browser's, and the signed-in user's when `csrf`
    /// is their session's token.
    fn set_language(&self, language: String, csrf: Option<String>) -> BoxFuture<'_, Result<(), AppError>>;
    /// Completed jobs and failed attempts of every queue over the last `minutes` (60 or
    /// 1440), in bars of 1 or 10 minutes.
    fn throughput(&self, minutes: u32) -> BoxFuture<'_, Result<Throughput, AppError>>;
    /// Every queue the caller may watch, with counts, warnings and workers online.
    fn overview(&self) -> BoxFuture<'_, Result<Vec<QueueCard>, AppError>>;
    /// One page of a queue's jobs in `state`, newest first, from `cursor`; `search` is a
    /// job id (that job, whatever its state) or a job name (jobs of that name).
    fn queue_page(
        &self,
        queue: String,
        state: String,
        cursor: u64,
        search: Option<String>,
    ) -> BoxFuture<'_, Result<QueuePage, AppError>>;
    /// `drain`, `clean` (jobs in `state` older than `older_than_minutes`) or `retry-all`
    /// (from `state`); returns how many jobs it touched.
    fn queue_maintain(
        &self,
        queue: String,
        action: String,
        state: Option<String>,
        older_than_minutes: Option<u64>,
        csrf: String,
    ) -> BoxFuture<'_, Result<u64, AppError>>;
    /// Replaces a queue's limits (`None`: that limit removed); `csrf` must be the
    /// session's token.
    fn queue_set_limits(&self, queue: String, limits: LimitsView, csrf: String) -> BoxFuture<'_, Result<(), AppError>>;
    /// `pause` or `resume` a queue; `csrf` must be the session's token.
    fn queue_action(&self, queue: String, action: String, csrf: String) -> BoxFuture<'_, Result<(), AppError>>;
    fn job(&self, queue: String, id: String) -> BoxFuture<'_, Result<JobDetail, AppError>>;
    /// `retry`, `cancel`, `promote` or `remove` a job; `csrf` must be the session's token.
    fn job_action(
        &self,
        queue: String,
        id: String,
        action: String,
        csrf: String,
    ) -> BoxFuture<'_, Result<(), AppError>>;
    /// Retries a dead or cancelled job with `payload` (JSON text) in place of its own.
    fn job_retry_edited(
        &self,
        queue: String,
        id: String,
        payload: String,
        csrf: String,
    ) -> BoxFuture<'_, Result<(), AppError>>;
    /// Enqueues a copy of a job (same name, payload and options); returns the copy's id.
    fn job_duplicate(&self, queue: String, id: String, csrf: String) -> BoxFuture<'_, Result<String, AppError>>;
    /// The caller's connections and their own recent jobs.
    fn my_jobs(&self) -> BoxFuture<'_, Result<MyJobs, AppError>>;
    /// Starts a sync of one of the caller's connections; returns the job id.
    fn sync_connection(&self, connection_id: i64, csrf: String) -> BoxFuture<'_, Result<String, AppError>>;
    /// Dead jobs across queues (or of `queue`), whose last error contains `error`, that
    /// died at least `older_than_minutes` ago.
    fn dead_letters(
        &self,
        queue: Option<String>,
        error: Option<String>,
        older_than_minutes: Option<u64>,
    ) -> BoxFuture<'_, Result<Vec<DeadRow>, AppError>>;
    /// `requeue` or `purge` the `selected` dead jobs (`queue/id` each; at least one), or
    /// without a selection every one the filter matches; returns how many.
    fn dead_action(
        &self,
        action: String,
        selected: Option<Vec<String>>,
        filter: (Option<String>, Option<String>, Option<u64>),
        csrf: String,
    ) -> BoxFuture<'_, Result<u64, AppError>>;
    /// Every schedule with its last fires.
    fn schedules(&self) -> BoxFuture<'_, Result<Vec<ScheduleRow>, AppError>>;
    /// Open breaches, recent notices, rules and silences (staff).
    fn alerts(&self) -> BoxFuture<'_, Result<AlertsView, AppError>>;
    /// The breaches firing now (staff; empty for others): the banner on every page.
    fn firing_alerts(&self) -> BoxFuture<'_, Result<Vec<AlertRow>, AppError>>;
    /// Changes a rule's figures (admins).
    fn alert_rule_update(&self, id: i64, rule: AlertRuleRow, csrf: String) -> BoxFuture<'_, Result<(), AppError>>;
    /// Silences a rule (`None`: every rule) about a subject (`None`: every subject) for
    /// `duration_ms` (admins).
    fn alert_silence_add(
        &self,
        rule_id: Option<i64>,
        subject: Option<String>,
        duration_ms: i64,
        reason: String,
        csrf: String,
    ) -> BoxFuture<'_, Result<(), AppError>>;
    /// Ends a silence now (admins).
    fn alert_silence_end(&self, id: i64, csrf: String) -> BoxFuture<'_, Result<(), AppError>>;
    /// Every process running workers or the scheduler (staff).
    fn processes(&self) -> BoxFuture<'_, Result<Vec<ProcessRow>, AppError>>;
    /// Sends `quiet` or `stop` to a process (admins and operators).
    fn process_command(&self, id: String, command: String, csrf: String) -> BoxFuture<'_, Result<(), AppError>>;
    /// `pause`, `resume` or `run` (now) a schedule.
    fn schedule_action(&self, name: String, action: String, csrf: String) -> BoxFuture<'_, Result<(), AppError>>;
    /// Finished jobs from the SQL history, newest first.
    fn history(&self, filter: HistoryFilter) -> BoxFuture<'_, Result<HistoryView, AppError>>;
    /// Every job matching a query of the search language, live first, from `cursor`.
    fn search(&self, q: String, cursor: Option<String>) -> BoxFuture<'_, Result<SearchView, AppError>>;
    /// Whole queries the typed one could become (its last word completed).
    fn search_suggestions(&self, q: String) -> BoxFuture<'_, Result<Vec<String>, AppError>>;
    /// How many jobs a query matches.
    fn search_count(&self, q: String) -> BoxFuture<'_, Result<MatchCountView, AppError>>;
    /// `retry`, `cancel`, `requeue` or `delete` the jobs a query matches, from `cursor`,
    /// for a bounded time; `next` says where to go on.
    fn search_act(
        &self,
        q: String,
        action: String,
        cursor: Option<String>,
        csrf: String,
    ) -> BoxFuture<'_, Result<BulkResultView, AppError>>;
    /// The caller's saved searches with their counts.
    fn saved_searches(&self) -> BoxFuture<'_, Result<Vec<SavedSearchView>, AppError>>;
    fn save_search(&self, name: String, q: String, csrf: String) -> BoxFuture<'_, Result<(), AppError>>;
    fn delete_saved_search(&self, id: i64, csrf: String) -> BoxFuture<'_, Result<(), AppError>>;
    /// Stored reports, newest first, with ids below `before` (admins).
    fn reports(&self, before: Option<i64>) -> BoxFuture<'_, Result<crate::reports::ReportList, AppError>>;
    /// One stored report with its figures (admins).
    fn report(&self, id: i64) -> BoxFuture<'_, Result<crate::reports::Report, AppError>>;
    /// Runs reports now: `kind` `usage`, `performance`, `audit`, or empty for all three;
    /// `from` and `to` days (`2026-11-01`), or both empty for the previous month;
    /// `email` sends them to the admins. Returns the job's queue and id.
    fn run_reports(
        &self,
        kind: String,
        from: String,
        to: String,
        email: bool,
        csrf: String,
    ) -> BoxFuture<'_, Result<(String, String), AppError>>;
    /// The audit log, newest first, before entry `before` (admins only).
    fn audit_log(&self, before: Option<i64>) -> BoxFuture<'_, Result<AuditView, AppError>>;
    /// Every user account (admins only).
    fn users(&self) -> BoxFuture<'_, Result<Vec<UserRow>, AppError>>;
    fn add_user(
        &self,
        username: String,
        password: String,
        role: String,
        csrf: String,
    ) -> BoxFuture<'_, Result<(), AppError>>;
    /// Changes a user's role, disables or enables them, and/or sets the jobs an end user
    /// may enqueue (`queue/job-name` entries separated by commas or spaces).
    fn change_user(
        &self,
        username: String,
        role: Option<String>,
        disabled: Option<bool>,
        allowed_jobs: Option<String>,
        csrf: String,
    ) -> BoxFuture<'_, Result<(), AppError>>;
}

/// The backend the server put into context for this request.
pub fn backend() -> Result<Arc<dyn Backend>, AppError> {
    use_context::<Arc<dyn Backend>>().ok_or_else(|| AppError::internal("server backend is not available"))
}
