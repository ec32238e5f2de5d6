//! The server's implementation of the dashboard's [`Backend`] seam: each call reads the
//! caller from the request Leptos is serving and goes through the same services (and
//! role checks) as the REST API.

mod admin;
mod alerts;
mod history;
mod processes;
mod reports;
mod schedules;
mod search;

use app::backend::{Backend, BoxFuture};
use app::error::AppError;
use app::types::{
    AlertRow, AlertRuleRow, AlertsView, AttemptError, AuditView, BulkResultView, ConnectionView, DeadRow,
    HistoryFilter, HistoryView, JobDetail, JobRow, LimitsView, MatchCountView, MyJob, MyJobs, ProcessRow, ProgressView,
    QueueCard, QueueCounts, QueuePage, SavedSearchView, ScheduleRow, SearchView, SystemStatus, Throughput, UserRow,
    Viewer,
};
use hoist_queue::TimingHistogram;
use tower_sessions::Session;

use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::policy::{self, Action, authorize};
use crate::state::AppState;

/// Jobs shown on My jobs.
const MY_JOBS: u64 = 50;

/// Made for each request (it holds only the shared state).
pub struct ServerBackend {
    pub state: AppState,
}

impl ServerBackend {
    /// The caller, with the extractor's own error: signed out is `Unauthenticated`, while
    /// a database that cannot answer is an internal error (not a sign-out).
    pub(crate) async fn principal(&self) -> Result<Principal, ApiError> {
        use axum::extract::FromRequestParts;
        let mut parts = leptos::prelude::use_context::<axum::http::request::Parts>()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no request in a server function's context")))?;
        Principal::from_request_parts(&mut parts, &self.state).await
    }

    /// Makes the response set the `hoist_lang` cookie.
    fn set_language_cookie(&self, language: Option<app::i18n::Language>) {
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            let mount = crate::mount_path::of_current_request();
            let cookie = crate::services::account::language_cookie(language, &mount.0, self.state.secure_cookies);
            response.append_header(axum::http::header::SET_COOKIE, cookie);
        }
    }

    /// The caller of a server function that changes something: a session whose CSRF token
    /// the form sent back.
    pub(crate) async fn acting_principal(&self, csrf: &str) -> Result<Principal, ApiError> {
        let session: Session = leptos_axum::extract().await.map_err(|_| ApiError::Unauthenticated)?;
        crate::auth::principal::from_session(&self.state.db, &session, Some(csrf)).await
    }
}

/// A refused or failed call, as the dashboard's error: the API's error body, whose code
/// the server turns into the HTTP status of a server function's answer.
impl From<ApiError> for AppError {
    fn from(error: ApiError) -> Self {
        let (status, body) = error.parts();
        let detail = &body["error"];
        let text = |key: &str| detail[key].as_str().map(str::to_string);
        let mut app_error = AppError::new(&text("code").unwrap_or_default(), text("message").unwrap_or_default());
        app_error.error.field = text("field");
        debug_assert_eq!(app_error.status(), status.as_u16());
        app_error
    }
}

fn counts_view(c: &hoist_queue::Counts) -> QueueCounts {
    QueueCounts {
        waiting: c.waiting,
        delayed: c.delayed,
        retrying: c.retrying,
        active: c.active,
        completed: c.completed,
        dead: c.dead,
        cancelled: c.cancelled,
        expired: c.expired,
        paused: c.paused,
    }
}

/// The client's address, for the audit log.
pub(crate) async fn client_addr() -> Result<String, AppError> {
    let addr: crate::client_addr::ClientAddr =
        leptos_axum::extract().await.map_err(|e| AppError::internal(e.to_string()))?;
    Ok(addr.ip().to_string())
}

impl Backend for ServerBackend {
    fn system_status(&self) -> BoxFuture<'_, SystemStatus> {
        Box::pin(crate::health::system_status(&self.state.engine, &self.state.db))
    }

    fn viewer(&self) -> BoxFuture<'_, Result<Option<Viewer>, AppError>> {
        Box::pin(async move {
            let principal = match self.principal().await {
                Ok(principal) => principal,
                Err(ApiError::Unauthenticated) => return Ok(None),
                Err(error) => return Err(error.into()),
            };
            let csrf = match leptos_axum::extract::<Session>().await {
                Ok(session) => session.get::<String>(crate::auth::principal::SESSION_CSRF).await.ok().flatten(),
                Err(_) => None,
            };
            // The language is a nicety: a failed read leaves the viewer signed in.
            let language =
                crate::services::account::language(&self.state, principal.user_id).await.unwrap_or_else(|error| {
                    tracing::warn!(%error, "reading the user's language");
                    None
                });
            Ok(Some(Viewer {
                username: principal.username,
                role: principal.role.as_str().to_string(),
                csrf: csrf.unwrap_or_default(),
                language,
            }))
        })
    }

    fn sign_in(&self, username: String, password: String) -> BoxFuture<'_, Result<Viewer, AppError>> {
        Box::pin(async move {
            let session: Session = leptos_axum::extract().await.map_err(|e| AppError::internal(e.to_string()))?;
            let addr: crate::client_addr::ClientAddr =
                leptos_axum::extract().await.map_err(|e| AppError::internal(e.to_string()))?;
            let request = crate::auth::login::LoginRequest { username, password };
            let signed_in = crate::auth::login::sign_in(&self.state, addr.ip(), &session, request).await?;
            // The user's stored language becomes this browser's.
            let language =
                crate::services::account::language(&self.state, signed_in.user.id).await.unwrap_or_else(|error| {
                    tracing::warn!(%error, "reading the user's language");
                    None
                });
            if language.is_some() {
                self.set_language_cookie(language);
            }
            Ok(Viewer {
                username: signed_in.user.username,
                role: signed_in.user.role.as_str().to_string(),
                csrf: signed_in.csrf_token,
                language,
            })
        })
    }

    fn sign_out(&self, csrf: String) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(async move {
            self.acting_principal(&csrf).await?;
            let session: Session = leptos_axum::extract().await.map_err(|e| AppError::internal(e.to_string()))?;
            session.flush().await.map_err(|e| AppError::internal(e.to_string()))?;
            Ok(())
        })
    }

    fn set_language(&self, language: String, csrf: Option<String>) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(async move {
            let language = crate::services::account::parse_language(&language)?;
            // Signed in: stored with the user too (a wrong token stores nothing and says so).
            // A session that ended while the page was open: the browser's choice only. A
            // wrong token is refused (nothing stored, no cookie).
            if let Some(csrf) = csrf.filter(|c| !c.is_empty()) {
                match self.acting_principal(&csrf).await {
                    Ok(principal) => {
                        crate::services::account::set_language(&self.state, &principal, Some(language)).await?
                    }
                    Err(ApiError::Unauthenticated) => {}
                    Err(error) => return Err(error.into()),
                }
            }
            self.set_language_cookie(Some(language));
            Ok(())
        })
    }

    fn overview(&self) -> BoxFuture<'_, Result<Vec<QueueCard>, AppError>> {
        Box::pin(async move {
            let principal = self.principal().await?;
            authorize(&principal, Action::WatchQueues)?;
            let names = hoist_queue::Queue::list_all(&self.state.engine).await.map_err(ApiError::from)?;
            let mut cards = Vec::with_capacity(names.len());
            for name in names {
                // The health check reads the counts; the card shows those, not a second read.
                let health = crate::services::health::queue_health(&self.state, &principal, &name).await?;
                let queue = hoist_queue::Queue::new(&self.state.engine, &name).map_err(ApiError::from)?;
                let workers =
                    queue.worker_processes(std::time::Duration::from_secs(60)).await.map_err(ApiError::from)?;
                let stats = queue.recent_stats(60).await.map_err(ApiError::from)?;
                let (mut wait, mut run) = (TimingHistogram::default(), TimingHistogram::default());
                for minute in &stats {
                    wait.merge(&minute.wait_ms);
                    run.merge(&minute.run_ms);
                }
                let percentiles = |h: &TimingHistogram| h.quantile(0.5).zip(h.quantile(0.95));
                cards.push(QueueCard {
                    name,
                    counts: counts_view(&health.counts),
                    warnings: health.issues,
                    workers: workers as u64,
                    completed_per_minute: stats.iter().map(|m| m.completed).collect(),
                    failed_per_minute: stats.iter().map(|m| m.failed).collect(),
                    waiting_per_minute: stats.iter().map(|m| m.waiting).collect(),
                    wait_ms: percentiles(&wait),
                    run_ms: percentiles(&run),
                });
            }
            Ok(cards)
        })
    }

    fn throughput(&self, minutes: u32) -> BoxFuture<'_, Result<Throughput, AppError>> {
        Box::pin(async move {
            let principal = self.principal().await?;
            authorize(&principal, Action::WatchQueues)?;
            let bar_minutes = match minutes {
                60 => 1,
                1440 => 10,
                other => return Err(AppError::invalid("minutes", format!("{other}: 60 or 1440"))),
            };
            let bars = (minutes / bar_minutes) as usize;
            let (mut completed, mut failed) = (vec![0u64; bars], vec![0u64; bars]);
            let mut first_minute = None;
            let names = hoist_queue::Queue::list_all(&self.state.engine).await.map_err(ApiError::from)?;
            self.state.throughput.retain(&names);
            for name in names {
                let queue = hoist_queue::Queue::new(&self.state.engine, &name).map_err(ApiError::from)?;
                let (from, counts) = self.state.throughput.recent(&queue, minutes).await.map_err(ApiError::from)?;
                first_minute = first_minute.or(Some(from));
                for (i, (done, failures)) in counts.iter().enumerate() {
                    let bar = (i / bar_minutes as usize).min(bars - 1);
                    completed[bar] += done;
                    failed[bar] += failures;
                }
            }
            let from = match first_minute {
                Some(minute) => minute * 60_000,
                // No queue yet: by this server's clock (nothing to line up with).
                None => (chrono::Utc::now().timestamp_millis() / 60_000 - i64::from(minutes) + 1) * 60_000,
            };
            Ok(Throughput { minutes, bar_minutes, from, completed, failed })
        })
    }

    fn queue_page(
        &self,
        queue: String,
        state: String,
        cursor: u64,
        search: Option<String>,
    ) -> BoxFuture<'_, Result<QueuePage, AppError>> {
        Box::pin(async move {
            let principal = self.principal().await?;
            let job_state = hoist_queue::JobState::parse(&state)
                .ok_or_else(|| AppError::invalid("state", format!("unknown state {state:?}")))?;
            let search = search.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
            // A job id finds that job in whatever state it is; anything else is a name.
            let found = match &search {
                Some(text) => match crate::services::jobs::get_job(&self.state, &principal, &queue, text).await {
                    Ok(job) => Some(job),
                    Err(ApiError::NotFound(_)) => None,
                    Err(other) => return Err(other.into()),
                },
                None => None,
            };
            let page = match found {
                Some(job) => hoist_queue::JobPage { jobs: vec![job], next: None, total: 1 },
                None => {
                    let filter = crate::services::jobs::JobFilter { owner: None, name: search.clone() };
                    crate::services::jobs::list_jobs(&self.state, &principal, &queue, job_state, filter, cursor, 50)
                        .await?
                }
            };
            let counts = if policy::may(&principal, Action::WatchQueues) {
                let queue = hoist_queue::Queue::new(&self.state.engine, &queue).map_err(ApiError::from)?;
                counts_view(&queue.counts().await.map_err(ApiError::from)?)
            } else {
                QueueCounts::default()
            };
            let jobs = page
                .jobs
                .into_iter()
                .map(|job| JobRow {
                    stage: job.progress.as_ref().and_then(|p| p.stage.clone()),
                    percent: job.progress.as_ref().and_then(|p| p.percent),
                    id: job.id,
                    name: job.name,
                    owner: job.owner,
                    created_at: job.created_at,
                    attempts: job.attempts,
                    max_attempts: job.max_attempts,
                })
                .collect();
            let can_operate = policy::may(&principal, Action::ControlQueue);
            let limits = crate::services::limits::limits(&self.state, &principal, &queue).await?;
            let limits = LimitsView {
                concurrency: limits.concurrency,
                rate_max: limits.rate.map(|rate| rate.max),
                rate_per_ms: limits.rate.map(|rate| rate.per.as_millis() as u64),
                process_concurrency: limits.process_concurrency,
                group_concurrency: limits.group_concurrency,
            };
            let settings = crate::services::settings::rows(&self.state, &principal, &queue)?
                .into_iter()
                .map(|row| app::types::SettingView {
                    setting: row.setting,
                    origin: match &row.source {
                        crate::settings::Source::Default => "default",
                        crate::settings::Source::File { .. } => "file",
                        crate::settings::Source::Environment { .. } => "environment",
                    }
                    .into(),
                    detail: match &row.source {
                        crate::settings::Source::Default => String::new(),
                        other => other.to_string(),
                    },
                    value: row.value,
                })
                .collect();
            Ok(QueuePage { name: queue, counts, state, jobs, next: page.next, can_operate, search, limits, settings })
        })
    }

    fn queue_set_limits(&self, queue: String, limits: LimitsView, csrf: String) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(async move {
            let principal = self.acting_principal(&csrf).await?;
            let rate = match (limits.rate_max, limits.rate_per_ms) {
                (Some(max), Some(per_ms)) => {
                    Some(hoist_queue::RateLimit { max, per: std::time::Duration::from_millis(per_ms) })
                }
                (None, None) => None,
                (Some(_), None) => {
                    return Err(AppError::invalid("rate_per_seconds", "a rate limit needs its window"));
                }
                (None, Some(_)) => return Err(AppError::invalid("rate_max", "a rate limit needs its most starts")),
            };
            let limits = hoist_queue::QueueLimits {
                concurrency: limits.concurrency,
                rate,
                process_concurrency: limits.process_concurrency,
                group_concurrency: limits.group_concurrency,
            };
            let addr = Some(client_addr().await?);
            crate::services::limits::set_limits(&self.state, &principal, addr, &queue, limits).await.map_err(
                |error| {
                    // The service names the API's fields; the form's boxes are named apart.
                    match error {
                        ApiError::Invalid { field, message } => {
                            let field = match field.as_str() {
                                "rate.max" => "rate_max".to_string(),
                                "rate.per" => "rate_per_seconds".to_string(),
                                _ => field,
                            };
                            ApiError::Invalid { field, message }
                        }
                        other => other,
                    }
                },
            )?;
            Ok(())
        })
    }

    fn queue_action(&self, queue: String, action: String, csrf: String) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(async move {
            let principal = self.acting_principal(&csrf).await?;
            let action = match action.as_str() {
                "pause" => "pause",
                "resume" => "resume",
                other => return Err(AppError::invalid("action", format!("unknown action {other:?}"))),
            };
            crate::services::jobs::act(&self.state, &principal, Some(client_addr().await?), &queue, None, action)
                .await?;
            Ok(())
        })
    }

    fn job(&self, queue: String, id: String) -> BoxFuture<'_, Result<JobDetail, AppError>> {
        Box::pin(async move {
            let principal = self.principal().await?;
            let job = crate::services::jobs::get_job(&self.state, &principal, &queue, &id).await?;
            let pretty = |value: &serde_json::Value| serde_json::to_string_pretty(value).unwrap_or_default();
            let payload = pretty(&job.payload);
            let payload_bytes = payload.len();
            let shown = if payload_bytes > JobDetail::SHOWN_BYTES {
                let mut cut = JobDetail::SHOWN_BYTES;
                while !payload.is_char_boundary(cut) {
                    cut -= 1;
                }
                payload[..cut].to_string()
            } else {
                payload
            };
            Ok(JobDetail {
                can_operate: policy::may(&principal, Action::ActOnJob),
                queue: job.queue.clone(),
                state: job.state.as_str().to_string(),
                payload: shown,
                payload_bytes,
                result: job.result.as_ref().map(pretty),
                priority: job.priority,
                attempts: job.attempts,
                max_attempts: job.max_attempts,
                timeout_ms: job.timeout_ms,
                expires_at: job.expires_at,
                dedup_key: job.dedup_key.clone(),
                created_at: job.created_at,
                run_at: job.run_at,
                started_at: job.started_at,
                finished_at: job.finished_at,
                worker: job.worker.clone(),
                progress: job.progress.as_ref().map(|p| ProgressView {
                    stage: p.stage.clone(),
                    message: p.message.clone(),
                    percent: p.percent,
                    eta_ms: p.eta_ms,
                }),
                errors: job
                    .errors
                    .iter()
                    .map(|e| AttemptError {
                        attempt: e.attempt,
                        at: e.at,
                        kind: e.kind.clone(),
                        message: e.message.clone(),
                        causes: e.causes.clone(),
                    })
                    .collect(),
                logs: job.logs.clone(),
                owner: job.owner.clone(),
                group: job.group.clone(),
                name: job.name.clone(),
                id: job.id,
            })
        })
    }

    fn job_action(
        &self,
        queue: String,
        id: String,
        action: String,
        csrf: String,
    ) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(async move {
            let principal = self.acting_principal(&csrf).await?;
            let action = match action.as_str() {
                "retry" => "retry",
                "cancel" => "cancel",
                "promote" => "promote",
                "remove" => "remove",
                other => return Err(AppError::invalid("action", format!("unknown action {other:?}"))),
            };
            crate::services::jobs::act(&self.state, &principal, Some(client_addr().await?), &queue, Some(&id), action)
                .await?;
            Ok(())
        })
    }

    fn job_retry_edited(
        &self,
        queue: String,
        id: String,
        payload: String,
        csrf: String,
    ) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(async move {
            let principal = self.acting_principal(&csrf).await?;
            let payload = serde_json::from_str(&payload)
                .map_err(|error| AppError::invalid("payload", format!("not JSON: {error}")))?;
            let request = crate::services::jobs::RetryEdited { payload };
            crate::services::jobs::retry_edited(
                &self.state,
                &principal,
                Some(client_addr().await?),
                &queue,
                &id,
                request,
            )
            .await?;
            Ok(())
        })
    }

    fn job_duplicate(&self, queue: String, id: String, csrf: String) -> BoxFuture<'_, Result<String, AppError>> {
        Box::pin(async move {
            let principal = self.acting_principal(&csrf).await?;
            let copy =
                crate::services::jobs::duplicate(&self.state, &principal, Some(client_addr().await?), &queue, &id)
                    .await?;
            Ok(copy.id)
        })
    }

    fn my_jobs(&self) -> BoxFuture<'_, Result<MyJobs, AppError>> {
        Box::pin(async move {
            let principal = self.principal().await?;
            let connections = crate::services::connections::list(&self.state, &principal)
                .await?
                .into_iter()
                .map(|c| ConnectionView {
                    id: c.id,
                    institution: c.institution,
                    status: c.status,
                    last_synced_at: c.last_synced_at,
                    transactions: c.transactions,
                })
                .collect();
            // The caller's newest jobs of the sync queue, in the states that matter to them:
            // one read of the engine's index of their jobs, whole jobs only for this page.
            authorize(&principal, Action::ReadJobs)?;
            let queue =
                hoist_queue::Queue::new(&self.state.engine, &self.state.queue_names.sync).map_err(ApiError::from)?;
            let me = principal.user_id.to_string();
            let shown = [
                hoist_queue::JobState::Active,
                hoist_queue::JobState::Waiting,
                hoist_queue::JobState::Retrying,
                hoist_queue::JobState::Completed,
                hoist_queue::JobState::Dead,
            ];
            let page = queue.list_owned(&me, &shown, 0, MY_JOBS).await.map_err(ApiError::from)?;
            let mut jobs: Vec<MyJob> = page
                .jobs
                .into_iter()
                .map(|job| MyJob {
                    queue: job.queue,
                    state: job.state.as_str().to_string(),
                    created_at: job.created_at,
                    progress: job.progress.map(|p| ProgressView {
                        stage: p.stage,
                        message: p.message,
                        percent: p.percent,
                        eta_ms: p.eta_ms,
                    }),
                    id: job.id,
                    name: job.name,
                })
                .collect();
            jobs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
            Ok(MyJobs { connections, jobs })
        })
    }

    fn sync_connection(&self, connection_id: i64, csrf: String) -> BoxFuture<'_, Result<String, AppError>> {
        Box::pin(async move {
            let principal = self.acting_principal(&csrf).await?;
            Ok(crate::services::connections::sync_now(&self.state, &principal, connection_id).await?)
        })
    }

    fn dead_letters(
        &self,
        queue: Option<String>,
        error: Option<String>,
        older_than_minutes: Option<u64>,
    ) -> BoxFuture<'_, Result<Vec<DeadRow>, AppError>> {
        Box::pin(async move {
            let principal = self.principal().await?;
            let filter = dead_filter(queue, error, older_than_minutes);
            let jobs = crate::services::dead_letters::list(&self.state, &principal, &filter, 500).await?;
            Ok(jobs
                .into_iter()
                .map(|job| DeadRow {
                    error: job.last_error.map(|e| e.message).unwrap_or_default(),
                    died_at: job.finished_at.unwrap_or(job.created_at),
                    attempts: job.attempts,
                    queue: job.queue,
                    id: job.id,
                    name: job.name,
                })
                .collect())
        })
    }

    fn dead_action(
        &self,
        action: String,
        selected: Option<Vec<String>>,
        filter: (Option<String>, Option<String>, Option<u64>),
        csrf: String,
    ) -> BoxFuture<'_, Result<u64, AppError>> {
        Box::pin(async move {
            use crate::services::dead_letters::{Selection, requeue_or_purge};
            let principal = self.acting_principal(&csrf).await?;
            let purge = match action.as_str() {
                "requeue" => false,
                "purge" => true,
                other => return Err(AppError::invalid("action", format!("unknown action {other:?}"))),
            };
            let addr = Some(client_addr().await?);
            let Some(selected) = selected else {
                let selection = Selection::Filter(dead_filter(filter.0, filter.1, filter.2));
                return Ok(requeue_or_purge(&self.state, &principal, addr, selection, purge).await?);
            };
            if selected.is_empty() {
                return Err(AppError::invalid("selected", "select at least one job"));
            }
            let mut by_queue: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for item in selected {
                let (queue, id) = item
                    .split_once('/')
                    .ok_or_else(|| AppError::invalid("selected", format!("{item:?} is not queue/id")))?;
                by_queue.entry(queue.to_string()).or_default().push(id.to_string());
            }
            let mut done = 0;
            for (queue, ids) in by_queue {
                let selection = Selection::Jobs { queue, ids };
                done += requeue_or_purge(&self.state, &principal, addr.clone(), selection, purge).await?;
            }
            Ok(done)
        })
    }

    fn queue_maintain(
        &self,
        queue: String,
        action: String,
        state: Option<String>,
        older_than_minutes: Option<u64>,
        csrf: String,
    ) -> BoxFuture<'_, Result<u64, AppError>> {
        Box::pin(async move {
            use crate::services::jobs::Maintenance;
            let principal = self.acting_principal(&csrf).await?;
            let state = match state.filter(|s| !s.is_empty()) {
                Some(s) => Some(
                    hoist_queue::JobState::parse(&s)
                        .ok_or_else(|| AppError::invalid("state", format!("unknown state {s:?}")))?,
                ),
                None => None,
            };
            let action = match (action.as_str(), state) {
                ("drain", _) => Maintenance::Drain { include_delayed: true },
                ("clean", Some(state)) => {
                    Maintenance::Clean { state, older_than_ms: older_than_minutes.unwrap_or(0).saturating_mul(60_000) }
                }
                ("retry-all", Some(from)) => Maintenance::RetryAll { from },
                ("clean" | "retry-all", None) => return Err(AppError::invalid("state", "choose the state to act on")),
                (other, _) => return Err(AppError::invalid("action", format!("unknown action {other:?}"))),
            };
            crate::services::jobs::maintain(&self.state, &principal, Some(client_addr().await?), &queue, action)
                .await
                .map_err(Into::into)
        })
    }

    fn schedules(&self) -> BoxFuture<'_, Result<Vec<ScheduleRow>, AppError>> {
        Box::pin(schedules::list(self))
    }

    fn schedule_action(&self, name: String, action: String, csrf: String) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(schedules::act(self, name, action, csrf))
    }

    fn alerts(&self) -> BoxFuture<'_, Result<AlertsView, AppError>> {
        Box::pin(alerts::page(self))
    }

    fn firing_alerts(&self) -> BoxFuture<'_, Result<Vec<AlertRow>, AppError>> {
        Box::pin(alerts::firing(self))
    }

    fn alert_rule_update(&self, id: i64, rule: AlertRuleRow, csrf: String) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(alerts::update_rule(self, id, rule, csrf))
    }

    fn alert_silence_add(
        &self,
        rule_id: Option<i64>,
        subject: Option<String>,
        duration_ms: i64,
        reason: String,
        csrf: String,
    ) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(alerts::add_silence(self, rule_id, subject, duration_ms, reason, csrf))
    }

    fn alert_silence_end(&self, id: i64, csrf: String) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(alerts::end_silence(self, id, csrf))
    }

    fn processes(&self) -> BoxFuture<'_, Result<Vec<ProcessRow>, AppError>> {
        Box::pin(processes::list(self))
    }

    fn process_command(&self, id: String, command: String, csrf: String) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(processes::command(self, id, command, csrf))
    }

    fn history(&self, filter: HistoryFilter) -> BoxFuture<'_, Result<HistoryView, AppError>> {
        Box::pin(history::search(self, filter))
    }

    fn search(&self, q: String, cursor: Option<String>) -> BoxFuture<'_, Result<SearchView, AppError>> {
        Box::pin(search::search(self, q, cursor))
    }

    fn search_suggestions(&self, q: String) -> BoxFuture<'_, Result<Vec<String>, AppError>> {
        Box::pin(search::suggestions(self, q))
    }

    fn search_count(&self, q: String) -> BoxFuture<'_, Result<MatchCountView, AppError>> {
        Box::pin(search::count(self, q))
    }

    fn search_act(
        &self,
        q: String,
        action: String,
        cursor: Option<String>,
        csrf: String,
    ) -> BoxFuture<'_, Result<BulkResultView, AppError>> {
        Box::pin(search::act(self, q, action, cursor, csrf))
    }

    fn saved_searches(&self) -> BoxFuture<'_, Result<Vec<SavedSearchView>, AppError>> {
        Box::pin(search::saved(self))
    }

    fn save_search(&self, name: String, q: String, csrf: String) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(search::save(self, name, q, csrf))
    }

    fn delete_saved_search(&self, id: i64, csrf: String) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(search::delete_saved(self, id, csrf))
    }

    fn reports(&self, before: Option<i64>) -> BoxFuture<'_, Result<app::reports::ReportList, AppError>> {
        Box::pin(reports::list(self, before))
    }

    fn report(&self, id: i64) -> BoxFuture<'_, Result<app::reports::Report, AppError>> {
        Box::pin(reports::get(self, id))
    }

    fn run_reports(
        &self,
        kind: String,
        from: String,
        to: String,
        email: bool,
        csrf: String,
    ) -> BoxFuture<'_, Result<(String, String), AppError>> {
        Box::pin(reports::run(self, kind, from, to, email, csrf))
    }

    fn audit_log(&self, before: Option<i64>) -> BoxFuture<'_, Result<AuditView, AppError>> {
        Box::pin(admin::audit_log(self, before))
    }

    fn users(&self) -> BoxFuture<'_, Result<Vec<UserRow>, AppError>> {
        Box::pin(admin::users(self))
    }

    fn add_user(
        &self,
        username: String,
        password: String,
        role: String,
        csrf: String,
    ) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(admin::add_user(self, username, password, role, csrf))
    }

    fn change_user(
        &self,
        username: String,
        role: Option<String>,
        disabled: Option<bool>,
        allowed_jobs: Option<String>,
        csrf: String,
    ) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(admin::change_user(self, username, role, disabled, allowed_jobs, csrf))
    }
}

fn dead_filter(
    queue: Option<String>,
    error: Option<String>,
    older_than_minutes: Option<u64>,
) -> crate::services::dead_letters::DeadFilter {
    crate::services::dead_letters::DeadFilter {
        queue: queue.filter(|q| !q.is_empty()),
        error: error.filter(|e| !e.is_empty()),
        older_than_ms: older_than_minutes.filter(|m| *m > 0).map(|m| m.saturating_mul(60_000)),
        newer_than_ms: None,
    }
}
